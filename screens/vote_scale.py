"""A scale from 1 to 5 with its labels: a tap records the value and goes on."""
from kivy.properties import NumericProperty

from screens import load_kv
from screens.question_body import QuestionBody


class ScaleBody(QuestionBody):
    auto_advance = True
    chosen = NumericProperty(0)

    def load(self, from_end=False):
        self.chosen = self.session.answer_of(self.question.id) or 0

    def label(self, value):
        from screens.i18n import tr
        labels = self.question.scale_labels
        return tr.loc(labels[value - 1]) if len(labels) == 5 else ""

    def choose(self, value):
        if self.screen.record(value):
            self.chosen = value
            self.screen.advance()


load_kv(__file__)
