"""Sign-up on the tablet, for a resident without a phone: the same questions as the hub's
sign-up page (name or pseudonym, one contact, consent; an age bracket and a neighbourhood
only when the consultation asks for them, each with its purpose). The record goes to the
outbox only, and leaves the tablet once the hub acknowledged it (sync/worker.py). Nothing of
it stays in the form: it is emptied after sending, on cancel and at the idle reset."""
from kivy.factory import Factory
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

import screens.idea  # noqa: F401  (the ConsentBox and ThemeChoice rules)
from app.errors import DomainError
from app.signup import AGE_BRACKET_LABELS, AGE_BRACKETS, CONTACT_MAX, NAME_MAX, SignupConfig
from screens import load_kv
from screens.i18n import say, tr

FIELDS = ("name", "contact")


def forget_typing(field) -> None:
    """Empty a TextField and its TextInput's undo history (which keeps what was typed)."""
    field.text = ""
    field.error = ""
    text_input = field.input
    if text_input is not None:
        text_input.text = ""
        text_input.reset_undo()
        text_input.cancel_selection()


class SignupFormScreen(Screen):
    controller = ObjectProperty(None, allownone=True)
    session = ObjectProperty(None, allownone=True)
    config = ObjectProperty(SignupConfig())
    consent = BooleanProperty(False)
    age_bracket = StringProperty("")
    neighbourhood = StringProperty("")
    error = StringProperty("")
    ask_age = BooleanProperty(False)          # what the consultation configures
    ask_neighbourhood = BooleanProperty(False)
    name_max = NAME_MAX
    contact_max = CONTACT_MAX

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.age_cards, self.hood_cards = {}, {}
        self.bind(config=self._build_choices, age_bracket=self._mark,
                  neighbourhood=self._mark)
        tr.bind(lang=self._texts)
        self._build_choices()

    # -- the optional questions --------------------------------------------------------------

    def _build_choices(self, *_args):
        ages, hoods = self.ids.get("ages"), self.ids.get("hoods")
        if ages is None or hoods is None:
            return
        ages.clear_widgets()
        hoods.clear_widgets()
        self.age_cards, self.hood_cards = {}, {}
        self.ask_age = bool(self.config.age_bracket)
        self.ask_neighbourhood = bool(self.config.neighbourhoods)
        if self.config.age_bracket:
            for bracket in AGE_BRACKETS:
                card = Factory.ThemeChoice()
                card.choice = bracket
                card.bind(on_release=self._pick_age)
                self.age_cards[bracket] = card
                ages.add_widget(card)
        for hood_id, _name in self.config.neighbourhoods:
            card = Factory.ThemeChoice()
            card.choice = hood_id
            card.bind(on_release=self._pick_hood)
            self.hood_cards[hood_id] = card
            hoods.add_widget(card)
        self._texts()

    def _texts(self, *_args):
        for bracket, card in self.age_cards.items():
            card.text = tr._(AGE_BRACKET_LABELS[bracket])
        names = dict(self.config.neighbourhoods)
        for hood_id, card in self.hood_cards.items():
            card.text = tr.loc(names.get(hood_id)) or hood_id
        self._mark()

    def _pick_age(self, card):
        self.age_bracket = "" if self.age_bracket == card.choice else card.choice

    def _pick_hood(self, card):
        self.neighbourhood = "" if self.neighbourhood == card.choice else card.choice

    def _mark(self, *_args):
        for bracket, card in self.age_cards.items():
            card.selected = bracket == self.age_bracket
        for hood_id, card in self.hood_cards.items():
            card.selected = hood_id == self.neighbourhood

    # -- sending -------------------------------------------------------------------------------

    def clear(self):
        """Empty the form: nothing personal stays in the widgets."""
        for field in FIELDS:
            forget_typing(self.ids[field])
        self.consent = False
        self.age_bracket = self.neighbourhood = ""
        self.error = ""
        self.ids.scroll.scroll_y = 1

    def send(self):
        for field in FIELDS:
            self.ids[field].error = ""
        self.error = ""
        session = self.session
        settings = session.settings
        form = {"name": self.ids.name.text, "contact": self.ids.contact.text,
                "consent": self.consent, "age_bracket": self.age_bracket or None,
                "neighbourhood": self.neighbourhood or None}
        from app.signup import signup_problems
        problems = signup_problems(self.config, form)
        if problems:
            # Every field at fault at once; each message follows a change of language until
            # the resident edits its field.
            form.clear()
            for exc in problems:
                if exc.field in FIELDS:
                    say(self.ids[exc.field], "error", lambda exc=exc: exc.describe(tr._))
                else:
                    say(self, "error", lambda exc=exc: exc.describe(tr._))
            first = problems[0]
            self.ids.scroll.scroll_to(self.ids[first.field] if first.field in FIELDS
                                      else self.ids.error, animate=False)
            return
        try:
            session.store.record_signup(form, consultation_id=session.consultation.id,
                                        config=self.config, site_id=settings.site_id,
                                        meeting_id=settings.meeting_id, lang=tr.lang)
        except DomainError as exc:
            # The message follows a change of language until the resident edits the field.
            if exc.field in FIELDS:
                say(self.ids[exc.field], "error", lambda exc=exc: exc.describe(tr._))
                self.ids.scroll.scroll_to(self.ids[exc.field], animate=False)
            else:
                say(self, "error", lambda exc=exc: exc.describe(tr._))
                self.ids.scroll.scroll_to(self.ids.error, animate=False)
            return
        finally:
            form.clear()
        self.clear()
        if self.controller is not None:
            self.controller.signup_sent()

    def cancel(self):
        self.clear()
        if self.controller is not None:
            self.controller.signup_cancelled()


load_kv(__file__)
