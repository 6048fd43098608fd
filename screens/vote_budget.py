"""The budget: +/- per project in the question's steps, and a live bar of the amount left,
which can never go below zero (a + that would overspend is disabled). Beside the +/-, one
button per project does in a tap what would take many: "Fund fully" (its whole cost, or all
that is left when less is left, in whole steps); it is a toggle, shown selected ("Funded", with
its tick) once funded, and a second tap takes the money back. The bar fills with what has been
given (empty at the start), and a line says why Next waits while nothing is given."""
from kivy.metrics import dp
from kivy.properties import BooleanProperty, DictProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.formatting import money
from screens import load_kv
from screens.i18n import tr
from screens.question_body import QuestionBody
from screens.theme import theme


def text_width(text: str) -> float:
    """How wide a button's bold label is drawn, so that a button keeps one width whatever it
    says (the - and + beside it never move under a finger)."""
    from screens.widgets import text_width as measured
    return measured(text, theme.font_button, bold=True)


class BudgetRow(BoxLayout):
    body = ObjectProperty(None)
    wide = BooleanProperty(True)      # one line; narrow rows put the buttons under the title
    project = ObjectProperty(None)
    amount = NumericProperty(0)
    amount_text = StringProperty("")
    cost_text = StringProperty("")
    quick_text = StringProperty("")   # what the quick button does now: fund fully, the rest, remove
    quick_action = StringProperty("fill")    # "fill" or "remove"
    quick_width = NumericProperty(0)
    image_source = StringProperty("")    # easy read: the project's picture (vote_budget.kv)


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
        theme.bind(font_button=self._refresh)
        self.bind(amounts=self._refresh)

    def money(self, amount):
        return money(amount, tr.lang, self.question.currency)

    def load(self, from_end=False):
        held = self.session.answer_of(self.question.id) or {}
        self.amounts = {pid: held.get(pid, 0) for pid in self.rows}
        self._refresh()

    def ceiling(self, project) -> int:
        """The most a project can get: its cost (or the whole budget), in whole steps."""
        step = self.question.budget_step
        ceiling = project.cost if project.cost is not None else self.question.budget_total
        return ceiling - ceiling % step if step else ceiling

    def fill_amount(self, project_id) -> int:
        """What "Fund fully" gives: the whole cost, or all that is left when less is left."""
        step = self.question.budget_step
        amount = self.amounts.get(project_id, 0)
        room = self.left - self.left % step if step else self.left
        return min(self.ceiling(self.consultation.project(project_id)), amount + room)

    def change(self, project_id, direction):
        step = self.question.budget_step
        amount = self.amounts.get(project_id, 0)
        project = self.consultation.project(project_id)
        if direction > 0:
            if step > self.left or amount + step > self.ceiling(project):
                return
            amount += step
        else:
            amount = max(0, amount - step)
        self._set(project_id, amount)

    def quick(self, project_id):
        """The quick button: fund the project fully (clamped to what is left), or remove it."""
        row = self.rows[project_id]
        if row.quick_action == "remove":
            self._set(project_id, 0)
        else:
            self._set(project_id, max(self.amounts.get(project_id, 0),
                                      self.fill_amount(project_id)))

    def _set(self, project_id, amount):
        amounts = dict(self.amounts)
        amounts[project_id] = amount
        self.amounts = amounts

    def _refresh(self, *_args):
        spent = sum(self.amounts.values())
        self.left = max(0, self.question.budget_total - spent)
        self.left_text = tr._("Given: {given} of {total}. Left: {left}").format(
            given=self.money(spent), total=self.money(self.question.budget_total),
            left=self.money(self.left))
        step = self.question.budget_step
        # One width for every label of the quick button, so the - and + never move.
        quick_width = max(text_width(t) for t in (
            tr._("Fund fully"), tr._("Add all that is left"), tr._("Funded"))) + dp(96)
        for project_id, row in self.rows.items():
            project = row.project
            row.quick_width = quick_width
            row.amount = self.amounts.get(project_id, 0)
            row.amount_text = self.money(row.amount)
            row.cost_text = tr._("Cost: {cost}").format(cost=self.money(project.cost)) \
                if project.cost is not None else ""
            ceiling = self.ceiling(project)
            row.ids.plus.disabled = step > self.left or row.amount + step > ceiling
            row.ids.minus.disabled = row.amount <= 0
            fill = self.fill_amount(project_id)
            if fill > row.amount:
                row.quick_action = "fill"
                row.quick_text = (tr._("Fund fully") if fill >= ceiling
                                  else tr._("Add all that is left"))
                row.ids.quick.disabled = False
            elif row.amount > 0:
                # Fully funded, or nothing left to add: selected; a tap takes it back.
                row.quick_action = "remove"
                row.quick_text = tr._("Funded")
                row.ids.quick.disabled = False
            else:
                row.quick_action = "fill"
                row.quick_text = tr._("Fund fully")
                row.ids.quick.disabled = True
        held = self.session.answer_of(self.question.id) if self.screen else None
        self.can_confirm = spent > 0 and self.draft() != (held or {})

    def draft(self):
        return {pid: amount for pid, amount in self.amounts.items() if amount}


load_kv(__file__)
