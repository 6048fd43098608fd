"""The question screen: a header with the progress, the prompt and its help, the body of the
question's kind (screens/vote_*.py), and Back / Skip / Next. One screen serves every question;
each question's body is built once per resident and dropped at the reset."""
from kivy.properties import (BooleanProperty, DictProperty, NumericProperty, ObjectProperty,
                             StringProperty)
from kivy.uix.screenmanager import Screen

from app.errors import DomainError
from screens import load_kv
from screens.i18n import say, tr
from screens.reading import spoken_words
from screens.vote_kinds import body_for


class QuestionScreen(Screen):
    session = ObjectProperty(None, allownone=True)
    bundle_dir = StringProperty("")
    controller = ObjectProperty(None, allownone=True)
    body = ObjectProperty(None, allownone=True)
    error = StringProperty("")
    position = NumericProperty(1)
    total = NumericProperty(1)
    answered = BooleanProperty(False)
    can_back = BooleanProperty(False)
    detail = StringProperty("")
    can_confirm = BooleanProperty(False)
    question = ObjectProperty(None, allownone=True)
    bodies = DictProperty({})
    # The resident's choices (screens/resident.py): read aloud, easy read.
    resident = ObjectProperty(None, allownone=True)
    reading = BooleanProperty(False)      # read aloud is on: the Read aloud button shows
    easy_read = BooleanProperty(False)    # easy-read words and pictures

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.confirm_stop = None      # the "Stop here?" dialog, while it is open
        from kivy.clock import Clock
        self._place_stop = Clock.create_trigger(self.place_stop)
        self.ids.nav_row.bind(width=self._place_stop)
        for button in (self.ids.back, self.ids.stop, self.ids.skip, self.ids.next):
            button.bind(width=self._place_stop)

    def on_resident(self, _screen, resident):
        if resident is not None:
            resident.bind(read_aloud=self._read_aloud_changed,
                          easy_read=self.setter("easy_read"))
            self._read_aloud_changed(resident, resident.read_aloud)
            self.easy_read = resident.easy_read

    def _read_aloud_changed(self, _resident, mode):
        self.reading = mode != "off"

    def open_display(self) -> None:
        if self.controller is not None:
            self.controller.open_display_panel()

    def read_page(self) -> None:
        """Read the question, then each answer, in the kiosk's language; while it reads, the
        same button stops it."""
        if self.controller is not None:
            self.controller.read_aloud_page(self)

    # -- read aloud (issue 31) ---------------------------------------------------------------

    def answer_buttons(self) -> list:
        """The answers' buttons the body shows, in reading order (top to bottom, then left to
        right): what read aloud reads after the question, and what audio-first answers."""
        from kivy.uix.behaviors import ButtonBehavior
        if self.body is None:
            return []
        buttons = []
        for widget in self.body.walk(restrict=True):
            if isinstance(widget, ButtonBehavior) and widget.opacity > 0 \
                    and spoken_words(widget) and widget.get_root_window() is not None:
                x, y = widget.to_window(widget.x, widget.y)
                buttons.append((-(y + widget.height), x, widget))
        return [b for _top, _x, b in sorted(buttons, key=lambda t: (round(t[0]), t[1]))]

    def spoken_button(self, button):
        """What a first touch reads in audio-first (screens/kiosk.py): an answer with its
        recording, or a button's words."""
        return self.spoken_answer(button)

    def spoken_page(self) -> list:
        """What Read aloud reads: the question (its help too), then each answer."""
        from app.speech import Utterance
        question, lang = self.question, tr.lang
        if question is None:
            return []
        page = [Utterance(spoken_words(self.ids.prompt), lang,
                          self.image_path(localized_only(question.audio, lang)),
                          self.ids.prompt)]
        if tr.loc(question.help):
            page.append(Utterance(tr.loc(question.help), lang, "", self.ids.help))
        page += [self.spoken_answer(button) for button in self.answer_buttons()]
        return page

    def spoken_answer(self, button):
        """The utterance of one answer's button: the option's recording when the bundle has
        one in the kiosk's language, else its words."""
        from app.speech import Utterance
        option = self.question.option(getattr(button, "option_id", "")) \
            if self.question is not None and getattr(button, "option_id", None) else None
        recording = localized_only(getattr(option, "audio", None), tr.lang)
        return Utterance(spoken_words(button), tr.lang, self.image_path(recording), button)

    def place_stop(self, *_args) -> None:
        """Stop beside Back while the row holds every button; above them otherwise."""
        ids = self.ids
        row, stop = ids.nav_row, ids.stop
        others = [ids.back, ids.skip, ids.next]
        needed = sum(b.width for b in others) + stop.width + row.spacing * 4 + row.spacing
        if row.width >= needed:
            if stop.parent is not row:
                if stop.parent is not None:
                    stop.parent.remove_widget(stop)
                row.add_widget(stop, index=len(row.children) - 1)     # just after Back
        elif stop.parent is not ids.stop_row:
            if stop.parent is not None:
                stop.parent.remove_widget(stop)
            ids.stop_row.add_widget(stop)

    def image_path(self, relative):
        if not relative or not self.bundle_dir:
            return ""
        from pathlib import Path
        return str(Path(self.bundle_dir) / relative)

    def reset(self) -> None:
        """Forget the previous resident. The bodies are kept for speed, but every one shows
        only what the session holds (`load`), and a new session holds nothing."""
        self.ids.body_box.clear_widgets()
        self.body = None
        self.question = None
        self.detail = ""
        self.error = ""
        for body in self.bodies.values():
            body.load()

    def show(self, from_end: bool = False) -> None:
        question = self.session.question
        if question is None:
            return
        body = self.bodies.get(question.id)
        if body is None:
            body = body_for(question, screen=self)
            body.bind(detail=self._body_detail, can_confirm=self._body_can_confirm)
            self.bodies[question.id] = body
        self.error = ""
        self.position, self.total = self.session.progress
        box = self.ids.body_box
        if self.body is not body:
            box.clear_widgets()
            box.add_widget(body)
            self.body = body
        self.question = question
        body.load(from_end=from_end)
        self.detail = body.detail
        self.can_confirm = body.can_confirm
        self.refresh_nav()
        self.settling()

    def settling(self) -> None:
        """What the body shows has changed (a question, a project): it opens at its top, and
        touches wait until it has settled (screens/tap_guard.py, armed by the kiosk)."""
        from screens.widgets import scroll_to_top
        scroll_to_top(self)
        if self.controller is not None:
            self.controller.settling()

    def _body_can_confirm(self, body, value):
        if body is self.body:
            self.can_confirm = value

    def _body_detail(self, body, detail):
        if body is self.body:
            self.detail = detail

    def refresh_nav(self, *_args):
        question = self.session.question if self.session else None
        self.answered = bool(question and question.id in self.session.answers)
        self.can_back = bool(self.position > 1 or (self.body and self.body.has_previous()))

    def record(self, value) -> bool:
        """Record an answer to the current question; show the error and return False when the
        answer is refused (nothing is written then)."""
        try:
            self.session.record(value)
        except DomainError as exc:
            say(self, "error", lambda exc=exc: exc.describe(tr._))   # follows a change of language
            return False
        self.error = ""
        self.refresh_nav()
        return True

    def advance(self) -> None:
        self.session.next()
        if self.controller is not None:
            self.controller.after_question()

    def go_next(self) -> None:
        body = self.body
        if body is not None and self.can_confirm:
            if not self.record(body.draft()):
                return
        if body is not None and body.next_inside():
            return
        self.advance()

    def ask_stop(self) -> None:
        """Stop: ask once (a slip must not end a ballot), then leave as the idle reset does."""
        from screens.widgets import ConfirmStop
        self.confirm_stop = ConfirmStop(when_confirmed=self.stop_now)
        self.confirm_stop.open(animation=False)
        if self.controller is not None:
            self.controller.settling()

    def stop_now(self) -> None:
        if self.controller is not None:
            self.controller.reset_resident()

    def go_back(self) -> None:
        if self.body is not None and self.body.back():
            return
        if self.session.back():
            self.show(from_end=True)

    def skip(self) -> None:
        if self.body is not None and self.body.skip():
            return
        self.advance()


def localized_only(text, lang) -> str:
    """A per-language value in `lang` only (a recording in another language is not read)."""
    return (text or {}).get(lang, "") if hasattr(text, "get") else ""


load_kv(__file__)
