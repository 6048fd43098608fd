"""yes_no: yes, no or abstain. Answer: "yes" | "no" | "abstain". Count: {"yes": n, …}."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..errors import N_, ValidationError
from ..model import YES_NO
from .base import Kind, Result, Tally, count_cells, share

# The answer's words (the kiosk's buttons say the same).
YES_NO_NAMES = {"yes": N_("Yes"), "no": N_("No"), "abstain": N_("I abstain")}


@dataclass(frozen=True, kw_only=True)
class YesNoResult(Result):
    counts: dict                    # {"yes": n, "no": n, "abstain": n}
    shares: dict
    yes_share_of_expressed: float
    total: int


class YesNoTally(Tally):
    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.counts = Counter()

    def _count(self, answer, weight):
        self.counts[answer] += weight

    def typed_result(self):
        total = sum(self.counts[k] for k in YES_NO)
        expressed = self.counts["yes"] + self.counts["no"]
        return YesNoResult(
            **self._envelope(),
            counts={k: self.counts[k] for k in YES_NO},
            shares={k: share(self.counts[k], total) for k in YES_NO},
            yes_share_of_expressed=share(self.counts["yes"], expressed),
            total=total)


class YesNoKind(Kind):
    name = "yes_no"
    order = 20
    tally = YesNoTally
    result = YesNoResult
    countable = True

    def validate(self, consultation, question, value):
        if value not in YES_NO:
            raise ValidationError(N_("Answer yes, no or abstain."), question.id)
        return value

    web_form = "one"

    def form_fields(self, consultation, question, lang, gettext):
        return {"form": "one", "options": [(v, gettext(YES_NO_NAMES[v])) for v in YES_NO]}

    def count_cells(self, question, counts):
        normal = count_cells(counts, YES_NO, "counts", N_("Unknown option."))
        total = sum(normal.values())
        return normal, total, total, total

    def count_answers(self, question, counts):
        return [(value, n) for value, n in counts.items() if n]


KIND = YesNoKind()
