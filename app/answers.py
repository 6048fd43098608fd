"""Validation of one answer against its question: the answer in its normal form (the form
stored, sent and tallied), or ValidationError naming the field. Each kind's rule is declared
with the kind (app/kinds/<kind>.py)."""
from __future__ import annotations

from typing import Any

from .errors import N_, ValidationError
from .kinds import KINDS
from .kinds.place import validate_place
from .model import Consultation, Question


def validate_answer(consultation: Consultation, question: Question, value: Any) -> Any:
    """Check `value` against `question` and return its normal form.

    Normal forms: colour → {project_id: colour}; yes_no → "yes"|"no"|"abstain";
    scale → int 1..5; choice → [option_id, …] (sorted as the question lists them);
    ranking → [option_id, …] best first; budget → {project_id: amount > 0};
    open → text; place → {"lon": …, "lat": …, "area": area_id} or {"area": area_id}
    (validate_place).
    """
    kind = KINDS.get(question.kind)
    if kind is None:
        raise ValidationError(N_("Unknown question kind."), question.id)
    return kind.validate(consultation, question, value)


# validate_place is also used by ideas placed on the map (app/proposals.py).
__all__ = ["validate_answer", "validate_place"]
