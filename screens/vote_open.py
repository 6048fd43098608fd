"""An open question: a text field with its live count; Next records the text."""
from kivy.properties import StringProperty

from screens import load_kv
from screens.question_body import QuestionBody


class OpenBody(QuestionBody):
    text = StringProperty("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(text=self._check)

    def load(self, from_end=False):
        self.ids.field.text = self.session.answer_of(self.question.id) or ""
        self._check()

    def _check(self, *_args):
        held = self.session.answer_of(self.question.id) or ""
        self.can_confirm = bool(self.text.strip()) and self.text != held

    def draft(self):
        return self.text


load_kv(__file__)
