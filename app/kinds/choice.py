"""choice: one option, or several up to `max_choices`. Answer: [option_id, …] in the
question's order. Count: {option_id: n} (with the ballots when several options per ballot)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..errors import N_, ValidationError
from .base import (Kind, Result, Tally, count_cells, option_fields, option_list,
                   parse_options, share)


@dataclass(frozen=True, kw_only=True)
class ChoiceResult(Result):
    counts: dict        # {option_id: n}
    shares: dict        # of ballots
    order: list         # most chosen first


class ChoiceTally(Tally):
    """Counts per option; shares are of ballots (several options per ballot when multiple)."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.counts = Counter()

    def _count(self, answer, weight):
        for option_id in answer:
            self.counts[option_id] += weight

    def typed_result(self):
        options = self.question.option_ids
        ranked = sorted(options, key=lambda o: (-self.counts[o], options.index(o)))
        return ChoiceResult(
            **self._envelope(),
            counts={o: self.counts[o] for o in options},
            shares={o: share(self.counts[o], self.ballots) for o in options},
            order=ranked)


class ChoiceKind(Kind):
    name = "choice"
    order = 40
    tally = ChoiceTally
    result = ChoiceResult
    bundle_fields = frozenset({"options", "multiple", "max_choices"})
    sheet_columns = ("multiple", "maximum")
    sheet_options = True
    countable = True

    def parse(self, parser, q, field, projects, args):
        options = args["options"] = parse_options(parser, q, field)
        args["multiple"] = bool(q.get("multiple", False))
        if args["multiple"]:
            args["max_choices"] = parser.int(q.get("max_choices", len(options)),
                                             f"{field}.max_choices", minimum=1)
            if args["max_choices"] > len(options):
                raise parser.fail(N_("More choices allowed than there are options."),
                                  f"{field}.max_choices")

    def from_sheet(self, sheet, table, row, q, projects, options, path):
        sheet.question_options(table, row, q, options, path)
        multiple = sheet.boolean(table, row, "multiple")
        sheet.set(q, "multiple", multiple)
        maximum = sheet.integer(table, row, "maximum", minimum=1)
        if maximum is not None:
            if not multiple:
                sheet.problem(table, row[0], "maximum", N_(
                    "A maximum number of choices needs multiple = yes."))
            elif maximum > len(q.get("options", ())):
                sheet.problem(table, row[0], "maximum",
                              N_("More choices allowed than there are options."))
            q["max_choices"] = maximum

    def sheet_option_rows(self, q):
        return q.get("options") or []

    def validate(self, consultation, question, value):
        if isinstance(value, str):
            value = [value]
        chosen = option_list(question, value)
        if not chosen:
            raise ValidationError(N_("Choose at least one option."), question.id)
        limit = question.max_choices if question.multiple else 1
        if len(chosen) > limit:
            raise ValidationError(N_("Choose at most {max} options."), question.id, max=limit)
        return [o for o in question.option_ids if o in chosen]

    web_form = "one"      # "several" for a multiple choice

    def form_fields(self, consultation, question, lang, gettext):
        return {"form": "several" if question.multiple else "one",
                "options": option_fields(question, lang), "max": question.max_choices}

    def form_value(self, question, form):
        if question.multiple:
            return [o.id for o in question.options if form.get("o." + o.id)]
        return form.get("value", "")

    def count_cells(self, question, counts):
        """A ballot may tick several options: the ballots are then at least the biggest
        option count (worked out so when left out) and at most their sum."""
        normal = count_cells(counts, question.option_ids, "counts", N_("Unknown option."))
        total = sum(normal.values())
        if question.multiple:
            low = max(normal.values())
            return normal, low, total, low
        return normal, total, total, total

    def count_answers(self, question, counts):
        return [([option_id], n) for option_id, n in counts.items() if n]


KIND = ChoiceKind()
