"""budget: a total shared among projects in steps. Answer: {project_id: amount > 0}. Not
counted by hand."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from ..errors import N_, ValidationError
from .base import Figures, Kind, Result, Tally, parse_projects


@dataclass(frozen=True)
class BudgetProject(Figures):
    allocated: int
    mean_per_ballot: float
    funding_ballots: int
    cost: int | None
    funded: bool


@dataclass(frozen=True, kw_only=True)
class BudgetResult(Result):
    budget_total: int
    currency: str
    projects: dict      # {project_id: BudgetProject}
    order: list         # by amount allocated: the order projects are funded

    nested: ClassVar = {"projects": BudgetProject}


class BudgetTally(Tally):
    """Amount allocated per project, how many ballots fund each, and which projects the total
    would fund: by amount allocated, greedily, while the budget lasts."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.allocated = Counter()
        self.funding_ballots = Counter()

    def _count(self, answer, weight):
        for project_id, amount in answer.items():
            self.allocated[project_id] += amount * weight
            if amount > 0:
                self.funding_ballots[project_id] += weight

    def typed_result(self):
        projects = {}
        left = self.question.budget_total
        order = sorted(self.question.projects,
                       key=lambda p: (-self.allocated[p], self.question.projects.index(p)))
        funded = set()
        for project_id in order:
            project = self.consultation.project(project_id)
            cost = project.cost if project and project.cost is not None else 0
            if self.allocated[project_id] > 0 and cost <= left:
                funded.add(project_id)
                left -= cost
        for project_id in self.question.projects:
            project = self.consultation.project(project_id)
            projects[project_id] = BudgetProject(
                allocated=self.allocated[project_id],
                mean_per_ballot=round(self.allocated[project_id] / self.ballots, 2)
                if self.ballots else 0.0,
                funding_ballots=self.funding_ballots[project_id],
                cost=project.cost if project else None,
                funded=project_id in funded)
        return BudgetResult(**self._envelope(), budget_total=self.question.budget_total,
                            currency=self.question.currency, projects=projects, order=order)


def step_problem(total: int, step: int) -> tuple[str, dict] | None:
    """(msgid, params) when the kiosk could not share `total` in steps of `step`: a step above
    the total disables every + button, one that does not divide it leaves an amount no one can
    give."""
    if step > total:
        return N_("The step ({step}) is larger than the total ({total}): no amount could be "
                  "given. Choose a step that divides the total."), {"step": step, "total": total}
    if total % step:
        return N_("The total ({total}) is not a whole number of steps of {step}: choose a step "
                  "that divides it."), {"step": step, "total": total}
    return None


class BudgetKind(Kind):
    name = "budget"
    order = 60
    tally = BudgetTally
    result = BudgetResult
    bundle_fields = frozenset({"projects", "total", "step", "currency"})
    sheet_columns = ("projects", "total", "step", "currency")

    def parse(self, parser, q, field, projects, args):
        args["projects"] = parse_projects(parser, q, field, projects)
        args["budget_total"] = parser.int(q.get("total"), f"{field}.total", minimum=1)
        args["budget_step"] = parser.int(q.get("step", 1), f"{field}.step", minimum=1)
        wrong = step_problem(args["budget_total"], args["budget_step"])
        if wrong:
            raise parser.fail(wrong[0], f"{field}.step", **wrong[1])
        args["currency"] = str(q.get("currency", "EUR"))[:3]
        for pid in args["projects"]:
            if projects[pid].cost is None:
                raise parser.fail(N_("A budget question needs a cost for every project: {id}."),
                                  f"{field}.projects", id=pid)

    def from_sheet(self, sheet, table, row, q, projects, options, path):
        sheet.question_projects(table, row, q, projects, costs=True)
        total = sheet.integer(table, row, "total", minimum=1)
        if total is None and sheet.raw(table, row, "total") is None:
            sheet.problem(table, row[0], "total", N_("This field is required."))
        sheet.set(q, "total", total)
        step = sheet.integer(table, row, "step", minimum=1)
        sheet.set(q, "step", step)
        wrong = step_problem(total, step or 1) if total else None
        if wrong:
            sheet.problem(table, row[0], "step", wrong[0], **wrong[1])
        elif total:
            sheet.budget_costs(q, total, step or 1)
        currency = sheet.plain(table, row, "currency")
        if currency is not None:
            currency = currency.upper()
            if not re.fullmatch(r"[A-Z]{3}", currency):
                sheet.problem(table, row[0], "currency", N_(
                    "A currency code of three capital letters (EUR) is expected here."))
            else:
                q["currency"] = currency

    def validate(self, consultation, question, value):
        if not isinstance(value, dict):
            raise ValidationError(N_("Share the budget among the projects."), question.id)
        normal = {}
        for project_id, amount in value.items():
            project = consultation.project(project_id)
            field = f"{question.id}.{project_id}"
            if project_id not in question.projects or project is None:
                raise ValidationError(N_("Unknown project."), field)
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                raise ValidationError(N_("An amount must be a whole number, zero or more."),
                                      field)
            if amount % question.budget_step:
                raise ValidationError(N_("Amounts go in steps of {step}."), field,
                                      step=question.budget_step)
            if project.cost is not None and amount > project.cost:
                raise ValidationError(N_("More than this project costs."), field)
            if amount:
                normal[project_id] = amount
        if not normal:
            raise ValidationError(N_("Share the budget among the projects."), question.id)
        spent = sum(normal.values())
        if spent > question.budget_total:
            raise ValidationError(N_("Over budget: {spent} allocated, {total} available."),
                                  question.id, spent=spent, total=question.budget_total)
        return {pid: normal[pid] for pid in question.projects if pid in normal}


    web_form = "amounts"

    def form_fields(self, consultation, question, lang, gettext):
        from ..model import localized
        projects = [consultation.project(p) for p in question.projects]
        return {"form": "amounts", "total": question.budget_total,
                "step": question.budget_step, "currency": question.currency,
                "projects": [(p.id, localized(p.title, lang), p.cost) for p in projects if p]}

    def form_value(self, question, form):
        value = {}
        for project in question.projects:
            raw = re.sub(r"[\s.,'\u00a0\u202f]", "", form.get("b." + project, ""))
            if raw:
                if not raw.isdigit() or len(raw) > 12:
                    raise ValidationError(N_("An amount must be a whole number, zero or more."),
                                          f"{question.id}.{project}")
                value[project] = int(raw)
        return value


KIND = BudgetKind()
