"""scale: agreement or importance, 1 to 5. Answer: an int 1..5. Count: {"1": n, … "5": n}."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..errors import N_, ValidationError
from ..model import SCALE_KINDS
from .base import Kind, Result, Tally, count_cells, share

VALUES = ("1", "2", "3", "4", "5")

# A scale without label rows: the tablet's own words, per scale_kind (docs/sheet-format.md).
DEFAULT_LABELS = {
    "agreement": (N_("Strongly disagree"), N_("Rather disagree"),
                  N_("Neither agree nor disagree"), N_("Rather agree"), N_("Strongly agree")),
    "importance": (N_("Not important at all"), N_("Not very important"),
                   N_("Fairly important"), N_("Important"), N_("Very important")),
}


def scale_label(question, value: int, lang: str, gettext) -> str:
    """The label of `value` (1 to 5): the bundle's own, else the tablet's for the scale's kind
    (agreement or importance) through `gettext`."""
    from ..model import localized
    if len(question.scale_labels) == 5:
        return localized(question.scale_labels[value - 1], lang)
    return gettext(DEFAULT_LABELS.get(question.scale_kind, DEFAULT_LABELS["agreement"])
                   [value - 1])


@dataclass(frozen=True, kw_only=True)
class ScaleResult(Result):
    scale_kind: str
    distribution: dict              # {"1": n, … "5": n}
    shares: dict
    total: int
    mean: float | None
    median: float | None


class ScaleTally(Tally):
    """Distribution over 1..5, mean and median."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.counts = Counter()

    def _count(self, answer, weight):
        self.counts[answer] += weight

    def typed_result(self):
        distribution = {str(v): self.counts[v] for v in range(1, 6)}
        total = sum(self.counts[v] for v in range(1, 6))
        mean = sum(v * self.counts[v] for v in range(1, 6)) / total if total else None
        return ScaleResult(
            **self._envelope(),
            scale_kind=self.question.scale_kind,
            distribution=distribution,
            shares={k: share(n, total) for k, n in distribution.items()},
            total=total,
            mean=round(mean, 3) if mean is not None else None,
            median=median_from_counts(self.counts, total))


def median_from_counts(counts: Counter, total: int) -> float | None:
    """Median of values 1..5 given their counts; the mean of the two middle values when even."""
    if total <= 0:
        return None

    def nth(n: int) -> int:  # the n-th smallest value, 0-based
        seen = 0
        for v in range(1, 6):
            seen += counts[v]
            if seen > n:
                return v
        return 5

    if total % 2:
        return float(nth(total // 2))
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


class ScaleKind(Kind):
    name = "scale"
    order = 30
    tally = ScaleTally
    result = ScaleResult
    bundle_fields = frozenset({"scale_kind", "labels"})
    sheet_columns = ("scale_kind",)
    sheet_options = True
    countable = True

    def parse(self, parser, q, field, projects, args):
        scale_kind = q.get("scale_kind", "agreement")
        if scale_kind not in SCALE_KINDS:
            raise parser.fail(N_("A scale measures agreement or importance."),
                              f"{field}.scale_kind")
        labels = parser.list(q.get("labels"), f"{field}.labels", required=False)
        if labels and len(labels) != 5:
            raise parser.fail(N_("A scale needs five labels, from 1 to 5."), f"{field}.labels")
        args["scale_kind"] = scale_kind
        args["scale_labels"] = tuple(parser.text(t, f"{field}.labels[{i}]")
                                     for i, t in enumerate(labels))

    def from_sheet(self, sheet, table, row, q, projects, options, path):
        sheet.scale_labels(table, row, q, options, path)
        sheet.set(q, "scale_kind", sheet.keyword(
            table, row, "scale_kind", SCALE_KINDS,
            N_("A scale measures agreement or importance."), "value"))

    def sheet_option_rows(self, q):
        return [{"id": number, "label": label}
                for number, label in zip(VALUES, q.get("labels") or [])]

    def validate(self, consultation, question, value):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise ValidationError(N_("Choose a value from 1 to 5."), question.id)
        return value

    web_form = "one"

    def form_fields(self, consultation, question, lang, gettext):
        return {"form": "one", "options": [
            (str(v), f"{v} · {scale_label(question, v, lang, gettext)}") for v in range(1, 6)]}

    def form_value(self, question, form):
        raw = form.get("value", "")
        return int(raw) if raw in VALUES else raw

    def count_cells(self, question, counts):
        normal = count_cells(counts, VALUES, "counts", N_("Choose a value from 1 to 5."))
        total = sum(normal.values())
        return normal, total, total, total

    def count_answers(self, question, counts):
        return [(int(value), n) for value, n in counts.items() if n]


KIND = ScaleKind()
