"""“Follow my idea”: the resident types the short code shown after sending their idea and sees
its status and the platform's answer, as last synced from the hub (app.tablet.follow_idea).
Letters and digits only, any case; an unknown code gets a clear message."""
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from app.errors import DomainError
from app.proposals import idea_status_label
from app.tablet import follow_idea
from screens import load_kv
from screens.i18n import say, tr
from screens.signup_form import forget_typing

CODE_MAX = 12


def code_filter(substring: str, _from_undo: bool) -> str:
    """What a code field keeps of a keystroke or a paste: letters and digits, in capitals."""
    return "".join(ch for ch in substring.upper() if ch.isascii() and ch.isalnum())


class FollowIdeaScreen(Screen):
    controller = ObjectProperty(None, allownone=True)
    session = ObjectProperty(None, allownone=True)
    found = BooleanProperty(False)
    idea_title = StringProperty("")
    idea_text = StringProperty("")
    status = StringProperty("")
    answer = StringProperty("")
    reason = StringProperty("")
    error = StringProperty("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.ids.code.input.input_filter = code_filter
        self.ids.code.input.bind(on_text_validate=lambda *_a: self.look_up())
        self.ids.code.bind(text=lambda *_a: setattr(self, "error", ""))
        tr.bind(lang=self._texts)
        self._proposal = None

    def on_enter(self, *_args):
        self.ids.code.input.focus = True

    def look_up(self):
        self.error = ""
        try:
            proposal = follow_idea(self.session.store, self.ids.code.text[:64])
        except DomainError as exc:
            self._show(None)
            say(self, "error", lambda exc=exc: exc.describe(tr._))   # follows a change of language
            return
        self._show(proposal)

    def _show(self, proposal):
        self._proposal = proposal
        self.found = proposal is not None
        self._texts()

    def _texts(self, *_args):
        p = self._proposal
        if p is None:
            self.idea_title = self.idea_text = self.status = self.answer = self.reason = ""
            return
        self.idea_title = p.title
        self.idea_text = p.text
        self.status = tr._(idea_status_label(p))
        self.answer = p.answer_text or ""
        self.reason = p.reason or "" if p.status == "rejected" else ""

    def clear(self):
        forget_typing(self.ids.code)
        self.error = ""
        self._show(None)

    def close(self):
        self.clear()
        if self.controller is not None:
            self.controller.follow_closed()


load_kv(__file__)
