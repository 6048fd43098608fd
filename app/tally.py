"""Tallies for every question kind. The tablet, the hub and the projector all use this code.

Each kind's tally and result type are declared with the kind (app/kinds/<kind>.py, on
app/kinds/base.py's Tally): `add(answer, weight)` and `remove(answer, weight)` keep it up to
date as answers arrive or are replaced, so nobody has to rescan every ballot to read results.
`typed_result()` is the kind's declared Result; `result()` the same as plain JSON-ready data.
"""
from __future__ import annotations

from typing import Any, Iterable

from .kinds import KINDS, kind_of
from .kinds.base import Result, Tally
from .kinds.budget import BudgetTally
from .kinds.choice import ChoiceTally
from .kinds.colour import ColourTally
from .kinds.open import MIN_WORD_ANSWERS, WORD_MAX, WORDS_KEPT, OpenTally, word_key
from .kinds.place import PLACE_POINTS_KEPT, PlaceTally
from .kinds.ranking import RankingTally
from .kinds.scale import ScaleTally
from .kinds.yes_no import YesNoTally
from .model import Consultation, Question

TALLIES = {name: kind.tally for name, kind in KINDS.items()}


def new_tally(consultation: Consultation, question: Question) -> Tally:
    """An empty tally for `question`."""
    return kind_of(question).tally(consultation, question)


def tally_answers(consultation: Consultation, question: Question,
                  answers: Iterable[Any]) -> dict:
    """The result of `question` over already-validated answers."""
    tally = new_tally(consultation, question)
    for answer in answers:
        tally.add(answer)
    return tally.result()


__all__ = ["BudgetTally", "ChoiceTally", "ColourTally", "MIN_WORD_ANSWERS", "OpenTally",
           "PLACE_POINTS_KEPT", "PlaceTally", "RankingTally", "Result", "ScaleTally", "TALLIES",
           "Tally", "WORDS_KEPT", "WORD_MAX", "YesNoTally", "new_tally", "tally_answers",
           "word_key"]
