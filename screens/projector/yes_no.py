"""Yes / no / abstain: three long bars with the word, the share and the count written beside
each; the caption counts the answers."""
from kivy.properties import ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.errors import N_
from app.model import YES_NO
from screens import load_kv
from screens.projector.base import PjResultView, set_fraction
from screens.projector.style import PALETTE

ANSWER_WORDS = {"yes": N_("Yes"), "no": N_("No"), "abstain": N_("Abstain")}
ANSWER_COLOURS = {"yes": PALETTE["green"], "no": PALETTE["red"], "abstain": PALETTE["grey"]}


class PjShareRow(BoxLayout):
    """A word, a bar, its share in large type and its count: used by several views."""
    word = StringProperty("")
    share = StringProperty("")
    count = StringProperty("")
    colour = ListProperty(PALETTE["primary"])


class PjYesNoView(PjResultView):
    def build(self, body):
        self.rows = {}
        for answer in YES_NO:
            row = PjShareRow(word=self._(ANSWER_WORDS[answer], sep="\n"),
                           colour=ANSWER_COLOURS[answer])
            self.rows[answer] = row
            body.add_widget(row)

    def update(self, result, animate):
        counts, shares = result.counts, result.shares       # app.kinds.yes_no.YesNoResult
        written = self.percents(counts, YES_NO)
        for answer, row in self.rows.items():
            row.share = written[answer]
            row.count = self.say_votes(counts.get(answer, 0))
            set_fraction(row.ids.bar, shares.get(answer, 0), animate)
        # One headline figure per answer: the caption counts the answers and gives no second
        # percentage (a yes share of the votes expressed, 68 %, beside the big 55 % read as a
        # contradiction on stage).
        self.caption = self.say_answers(result.ballots)


load_kv(__file__)
