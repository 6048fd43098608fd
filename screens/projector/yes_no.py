"""Yes / no / abstain: three long bars with the word, the share and the count written beside
each, and the share of yes among the votes expressed."""
from kivy.properties import ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.errors import N_
from app.formatting import percent
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
        counts = result.get("counts") or {}
        shares = result.get("shares") or {}
        written = self.percents(counts, YES_NO)
        for answer, row in self.rows.items():
            row.share = written[answer]
            row.count = self.say_votes(counts.get(answer, 0))
            set_fraction(row.ids.bar, shares.get(answer, 0), animate)
        expressed = counts.get("yes", 0) + counts.get("no", 0)
        ballots = result.get("ballots", 0)
        share = result.get("yes_share_of_expressed", 0)
        self.caption = self.compose(lambda lang, _, ngettext: _(
            "Yes: {share} of the votes expressed (yes or no) · {answers}").format(
                share=percent(share, lang), answers=self.answers(lang, ballots))) \
            if expressed else self.say_answers(ballots)


load_kv(__file__)
