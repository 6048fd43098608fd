"""ranking: options in order of preference, up to `max_ranked`. Answer: [option_id, …] best
first. Not counted by hand (one resident's whole order is needed)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..errors import N_, ValidationError
from .base import Kind, Result, Tally, option_fields, option_list, parse_options


@dataclass(frozen=True, kw_only=True)
class RankingResult(Result):
    points: dict        # {option_id: Borda points}
    first_places: dict  # {option_id: n}
    order: list         # most points first
    max_points: int


class RankingTally(Tally):
    """Borda count: with n options, first place earns n points, second n-1, … unranked 0."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.points = Counter()
        self.first_places = Counter()

    def _count(self, answer, weight):
        n = len(self.question.options)
        for position, option_id in enumerate(answer):
            self.points[option_id] += (n - position) * weight
        if answer:
            self.first_places[answer[0]] += weight

    def typed_result(self):
        options = self.question.option_ids
        order = sorted(options, key=lambda o: (-self.points[o], -self.first_places[o],
                                               options.index(o)))
        return RankingResult(
            **self._envelope(),
            points={o: self.points[o] for o in options},
            first_places={o: self.first_places[o] for o in options},
            order=order,
            max_points=len(options) * self.ballots)


class RankingKind(Kind):
    name = "ranking"
    order = 50
    tally = RankingTally
    result = RankingResult
    bundle_fields = frozenset({"options", "max_ranked"})
    sheet_columns = ("maximum",)
    sheet_options = True

    def parse(self, parser, q, field, projects, args):
        options = args["options"] = parse_options(parser, q, field)
        args["max_ranked"] = parser.int(q.get("max_ranked", 0), f"{field}.max_ranked")
        if args["max_ranked"] > len(options):
            raise parser.fail(N_("More ranks than there are options."), f"{field}.max_ranked")

    def from_sheet(self, sheet, table, row, q, projects, options, path):
        sheet.question_options(table, row, q, options, path)
        maximum = sheet.integer(table, row, "maximum", minimum=0)
        if maximum is not None:
            if maximum > len(q.get("options", ())):
                sheet.problem(table, row[0], "maximum", N_("More ranks than there are options."))
            q["max_ranked"] = maximum

    def sheet_option_rows(self, q):
        return q.get("options") or []

    def validate(self, consultation, question, value):
        ranked = option_list(question, value)
        if not ranked:
            raise ValidationError(N_("Rank at least one option."), question.id)
        if len(ranked) > question.ranking_length:
            raise ValidationError(N_("Rank at most {max} options."), question.id,
                                  max=question.ranking_length)
        return ranked


    web_form = "ranks"

    def form_fields(self, consultation, question, lang, gettext):
        return {"form": "ranks", "options": option_fields(question, lang),
                "max": question.ranking_length}

    def form_value(self, question, form):
        """A rank per option ("" for none): the options in the order of their ranks."""
        ranks = {}
        for option in question.options:
            raw = form.get("r." + option.id, "")
            if raw:
                if not raw.isdigit() or not 1 <= int(raw) <= question.ranking_length:
                    raise ValidationError(N_("Rank at most {max} options."), question.id,
                                          max=question.ranking_length)
                ranks[option.id] = int(raw)
        if len(set(ranks.values())) != len(ranks):
            raise ValidationError(N_("Give each rank to one option only."), question.id)
        return sorted(ranks, key=ranks.get)


KIND = RankingKind()
