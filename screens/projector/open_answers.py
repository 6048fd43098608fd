"""An open question: a word cloud of the words that several answers share (a word one person
typed alone — a name, an address — never shows: app.display.cloud_words), sized by how many
answers used it, and the number of answers."""
from kivy.uix.label import Label

from app.display import cloud_words
from screens import load_kv
from screens.projector.base import PjResultView
from screens.projector.style import PALETTE

CLOUD_COLOURS = [PALETTE["text"], PALETTE["primary"], PALETTE["accent"], PALETTE["green"],
                 PALETTE["second_lang"], PALETTE["orange"]]


class PjCloudWord(Label):
    pass


class PjOpenAnswersView(PjResultView):
    def build(self, body):
        from kivy.uix.stacklayout import StackLayout
        self.cloud = StackLayout(orientation="lr-tb", spacing=(self.u(3), self.u(1.5)))
        body.add_widget(self.cloud)
        self._shown = None

    @staticmethod
    def u(n):
        from screens.projector.style import pstyle
        return pstyle.u * n

    def update(self, result, animate):
        words = cloud_words(result.words)               # app.kinds.open.OpenResult
        total = result.total
        self.caption = self.compose(lambda lang, _, ngettext: _(
            "{answers} · the words that several answers share").format(
                answers=self.answers(lang, total)))
        if words == self._shown:
            return
        self._shown = words
        self.cloud.clear_widgets()
        if not words:
            self.cloud.add_widget(PjCloudWord(
                text=self._("The words will appear here when several answers share them.",
                            sep="\n"), font_size=self.u(3.8), markup=True,
                color=PALETTE["text_muted"]))
            return
        top = words[0][1]
        for index, (word, count) in enumerate(words):
            size = self.u(3.8) + self.u(6.9) * (count / top)
            self.cloud.add_widget(PjCloudWord(text=word, font_size=size, bold=count >= top / 2,
                                            color=CLOUD_COLOURS[index % len(CLOUD_COLOURS)]))


load_kv(__file__)
