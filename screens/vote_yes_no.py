"""Yes / no, with abstain: a tap records the answer and goes on."""
from kivy.properties import StringProperty

from screens import load_kv
from screens.question_body import QuestionBody


class YesNoBody(QuestionBody):
    auto_advance = True
    chosen = StringProperty("")

    def load(self, from_end=False):
        self.chosen = self.session.answer_of(self.question.id) or ""

    def choose(self, value):
        if self.screen.record(value):
            self.chosen = value
            self.screen.advance()


load_kv(__file__)
