"""The budget: +/- per project in the question's steps, and a live bar of the amount left,
which can never go below zero (a + that would overspend is disabled). Next records."""
from kivy.properties import DictProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.kiosk import format_amount
from screens import load_kv
from screens.i18n import tr
from screens.question import QuestionBody


class BudgetRow(BoxLayout):
    body = ObjectProperty(None)
    project = ObjectProperty(None)
    amount = NumericProperty(0)
    amount_text = StringProperty("")
    cost_text = StringProperty("")


class BudgetBody(QuestionBody):
    amounts = DictProperty({})
    left = NumericProperty(0)
    left_text = StringProperty("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows = {}
        for project in self.consultation.projects_of(self.question):
            row = BudgetRow(body=self, project=project)
            self.rows[project.id] = row
            self.ids.rows.add_widget(row)
        tr.bind(lang=self._refresh)
        self.bind(amounts=self._refresh)

    def money(self, amount):
        return format_amount(amount, tr.lang, self.question.currency)

    def load(self, from_end=False):
        held = self.session.answer_of(self.question.id) or {}
        self.amounts = {pid: held.get(pid, 0) for pid in self.rows}
        self._refresh()

    def change(self, project_id, direction):
        step = self.question.budget_step
        amount = self.amounts.get(project_id, 0)
        project = self.consultation.project(project_id)
        if direction > 0:
            ceiling = project.cost if project.cost is not None else self.question.budget_total
            if step > self.left or amount + step > ceiling:
                return
            amount += step
        else:
            amount = max(0, amount - step)
        amounts = dict(self.amounts)
        amounts[project_id] = amount
        self.amounts = amounts

    def _refresh(self, *_args):
        spent = sum(self.amounts.values())
        self.left = max(0, self.question.budget_total - spent)
        self.left_text = tr._("Left to share: {left} of {total}").format(
            left=self.money(self.left), total=self.money(self.question.budget_total))
        step = self.question.budget_step
        for project_id, row in self.rows.items():
            project = row.project
            row.amount = self.amounts.get(project_id, 0)
            row.amount_text = self.money(row.amount)
            row.cost_text = tr._("Cost: {cost}").format(cost=self.money(project.cost)) \
                if project.cost is not None else ""
            ceiling = project.cost if project.cost is not None else self.question.budget_total
            row.ids.plus.disabled = step > self.left or row.amount + step > ceiling
            row.ids.minus.disabled = row.amount <= 0
        held = self.session.answer_of(self.question.id) if self.screen else None
        self.can_confirm = spent > 0 and self.draft() != (held or {})

    def draft(self):
        return {pid: amount for pid, amount in self.amounts.items() if amount}


load_kv(__file__)
