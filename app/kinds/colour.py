"""colour: each project evaluated green (in favour), orange (needs rework) or red (against).

Answer: {project_id: colour}. Count: {project_id: {"green": n, "orange": n, "red": n}}."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar, Mapping

from ..errors import N_, ValidationError
from ..model import COLOURS
from .base import Figures, Kind, Result, Tally, count_cells, parse_projects, share

# A colour's meaning in words (colour is never the only carrier): the web form's labels.
COLOUR_NAMES = {"green": N_("In favour"), "orange": N_("Needs rework"), "red": N_("Against")}


@dataclass(frozen=True)
class ColourProject(Figures):
    counts: dict        # {colour: n}
    shares: dict        # {colour: share of the project's total}
    total: int


@dataclass(frozen=True, kw_only=True)
class ColourResult(Result):
    projects: dict      # {project_id: ColourProject}

    nested: ClassVar = {"projects": ColourProject}


class ColourTally(Tally):
    """Green / orange / red counts per project."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.counts = {pid: Counter() for pid in question.projects}

    def _count(self, answer, weight):
        for project_id, colour in answer.items():
            self.counts.setdefault(project_id, Counter())[colour] += weight

    def typed_result(self):
        projects = {}
        for project_id, counter in self.counts.items():
            total = sum(counter[c] for c in COLOURS)
            projects[project_id] = ColourProject(
                counts={c: counter[c] for c in COLOURS},
                shares={c: share(counter[c], total) for c in COLOURS},
                total=total)
        return ColourResult(**self._envelope(), projects=projects)


class ColourKind(Kind):
    name = "colour"
    order = 10
    tally = ColourTally
    result = ColourResult
    bundle_fields = frozenset({"projects"})
    sheet_columns = ("projects",)
    countable = True

    def parse(self, parser, q, field, projects, args):
        args["projects"] = parse_projects(parser, q, field, projects)

    def from_sheet(self, sheet, table, row, q, projects, options, path):
        sheet.question_projects(table, row, q, projects)

    def validate(self, consultation, question, value):
        if not isinstance(value, dict) or not value:
            raise ValidationError(N_("Give a colour to at least one project."), question.id)
        normal = {}
        for project_id, colour in value.items():
            if project_id not in question.projects:
                raise ValidationError(N_("Unknown project."), f"{question.id}.{project_id}")
            if colour not in COLOURS:
                raise ValidationError(N_("Unknown colour."), f"{question.id}.{project_id}")
            normal[project_id] = colour
        return {pid: normal[pid] for pid in question.projects if pid in normal}

    web_form = "projects"

    def form_fields(self, consultation, question, lang, gettext):
        from ..model import localized
        projects = [consultation.project(p) for p in question.projects]
        return {"form": "projects",
                "projects": [(p.id, localized(p.title, lang)) for p in projects if p],
                "colours": [(c, gettext(COLOUR_NAMES[c])) for c in COLOURS]}

    def form_value(self, question, form):
        return {p: form["p." + p] for p in question.projects if form.get("p." + p)}

    def count_cells(self, question, counts):
        """Raised colour cards, per project: one person raises a card for each project, so
        the ballots are at least the biggest project total (worked out so when left out)."""
        if not isinstance(counts, Mapping) or not counts:
            raise ValidationError(N_("Give the counts of at least one project."), "counts")
        normal = {}
        for project_id, cells in counts.items():
            if project_id not in question.projects:
                raise ValidationError(N_("Unknown project."), f"counts.{str(project_id)[:40]}")
            normal[project_id] = count_cells(cells, COLOURS, f"counts.{project_id}",
                                             N_("Unknown colour."))
        normal = {p: normal[p] for p in question.projects if p in normal}
        totals = [sum(c.values()) for c in normal.values()]
        return normal, max(totals), sum(totals), max(totals)

    def count_answers(self, question, counts):
        return [({project_id: colour}, n) for project_id, cells in counts.items()
                for colour, n in cells.items() if n]


KIND = ColourKind()
