"""A scale from 1 to 5 with its labels: a tap records the value and goes on."""
from kivy.properties import NumericProperty

from screens import load_kv
from screens.question_body import QuestionBody


class ScaleBody(QuestionBody):
    auto_advance = True
    chosen = NumericProperty(0)

    def load(self, from_end=False):
        self.chosen = self.session.answer_of(self.question.id) or 0

    def label(self, value, _gettext=None):
        """The label of `value`: the bundle's, or the tablet's own for the scale's kind
        (kv passes tr._ so that a change of language redraws it)."""
        from app.kinds.scale import scale_label
        from screens.i18n import tr
        if self.question is None:
            return ""
        return scale_label(self.question, value, tr.lang, tr._)

    def choose(self, value):
        if self.screen.record(value):
            self.chosen = value
            self.screen.advance()


load_kv(__file__)
