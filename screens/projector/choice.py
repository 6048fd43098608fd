"""A choice question (one option or several): one bar per option, in the question's order,
with the share of ballots that chose it and the count written beside it."""
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from screens import load_kv
from screens.projector.base import PjResultView, set_fraction


class PjOptionRow(BoxLayout):
    """A label, a bar and its figures, for the choice and ranking views."""
    rank = StringProperty("")
    label = StringProperty("")
    figures = StringProperty("")
    detail = StringProperty("")
    figures_units = NumericProperty(24)     # the figures' width, in pstyle.u


class PjChoiceView(PjResultView):
    def build(self, body):
        self.rows = {}
        for option in self.question.options:
            row = PjOptionRow(label=self.text(option.label, "\n"))
            self.rows[option.id] = row
            body.add_widget(row)

    def update(self, result, animate):
        counts, shares = result.counts, result.shares       # app.kinds.choice.ChoiceResult
        # One answer per ballot: the shares add up to 100. Several: each is of the answers.
        written = ({} if self.question.multiple else self.percents(counts, self.rows))
        for option_id, row in self.rows.items():
            share = shares.get(option_id, 0)
            row.figures = written.get(option_id) or self.percent(share)
            row.detail = self.say_votes(counts.get(option_id, 0))
            set_fraction(row.ids.bar, share, animate)
        ballots = result.ballots
        self.caption = (self.ngettext("Several choices per answer: shares are of {n} answer.",
                                      "Several choices per answer: shares are of the {n} "
                                      "answers.", ballots, sep="\n")
                        if self.question.multiple else self.say_answers(ballots))


load_kv(__file__)
