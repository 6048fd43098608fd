"""The projector: live results for the room, one view per question kind, approved ideas and
participation. `screens.projector.app.build_projector` makes one; app/display.py holds what it
shows (view, rotation, hidden, frozen, languages) and sync/results_source.py where its results
come from (handed in by main.py: sync.display.projector_results)."""
