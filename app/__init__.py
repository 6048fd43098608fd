"""Piazzetta's domain: consultations, questions, ballots, proposals, the local store,
tallies and translations. Pure Python: nothing here imports Kivy."""
