"""A choice question (one option or several): one bar per option, in the question's order,
with the share of ballots that chose it and the count written beside it."""
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.formatting import number
from screens import load_kv
from screens.projector.base import PjResultView, set_fraction


class PjOptionRow(BoxLayout):
    """A label, a bar and its figures, for the choice and ranking views."""
    rank = StringProperty("")
    label = StringProperty("")
    figures = StringProperty("")
    detail = StringProperty("")


class PjChoiceView(PjResultView):
    def build(self, body):
        self.rows = {}
        for option in self.question.options:
            row = PjOptionRow(label=self.text(option.label, "\n"))
            self.rows[option.id] = row
            body.add_widget(row)

    def update(self, result, animate):
        lang = self.lang
        counts = result.get("counts") or {}
        shares = result.get("shares") or {}
        for option_id, row in self.rows.items():
            share = shares.get(option_id, 0)
            row.figures = self.percent(share)
            row.detail = self.say_votes(counts.get(option_id, 0))
            set_fraction(row.ids.bar, share, animate)
        ballots = number(result.get("ballots", 0), lang)
        self.caption = (self._("Several answers per ballot: shares are of the {n} ballots.",
                               sep="\n", n=ballots)
                        if self.question.multiple else self._("Ballots: {n}", sep="\n", n=ballots))


load_kv(__file__)
