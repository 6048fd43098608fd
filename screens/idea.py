"""A resident's idea: title, text, theme, and an optional contact behind a consent box that
says what the contact is for. Limits show as the resident types; a refused idea shows the
field's error and nothing is written."""
from kivy.factory import Factory
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from app.errors import DomainError
from app.proposals import CONTACT_MAX, TEXT_MAX, TITLE_MAX
from screens import load_kv
from screens.i18n import say, tr


class IdeaScreen(Screen):
    session = ObjectProperty(None, allownone=True)
    controller = ObjectProperty(None, allownone=True)
    theme_id = StringProperty("", allownone=True)
    consent = BooleanProperty(False)
    error = StringProperty("")
    title_max = TITLE_MAX
    text_max = TEXT_MAX
    contact_max = CONTACT_MAX

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(session=self._build_themes)
        tr.bind(lang=self._theme_texts)
        self._build_themes()

    def _build_themes(self, *_args):
        box = self.ids.get("themes")
        if box is None or self.session is None:
            return
        box.clear_widgets()
        self.theme_cards = {}
        for theme_ in self.session.consultation.themes:
            card = Factory.ThemeChoice()
            card.theme_id = theme_.id
            card.bind(on_release=self._pick_theme)
            self.theme_cards[theme_.id] = card
            box.add_widget(card)
        self.bind(theme_id=self._mark_theme)
        self._theme_texts()

    def _theme_texts(self, *_args):
        if self.session is None:
            return
        for theme_ in self.session.consultation.themes:
            card = self.theme_cards.get(theme_.id)
            if card is not None:
                card.text = tr.loc(theme_.title)
        self._mark_theme()

    def _pick_theme(self, card):
        self.theme_id = "" if self.theme_id == card.theme_id else card.theme_id

    def _mark_theme(self, *_args):
        for theme_id, card in getattr(self, "theme_cards", {}).items():
            card.selected = theme_id == self.theme_id

    def clear(self):
        """Empty the form (a new resident, or after sending)."""
        for field in ("title", "text", "contact"):
            self.ids[field].text = ""
            self.ids[field].error = ""
        self.theme_id = ""
        self.consent = False
        self.error = ""

    def send(self):
        for field in ("title", "text", "contact"):
            self.ids[field].error = ""
        self.error = ""
        try:
            proposal = self.session.submit_idea(
                title=self.ids.title.text, text=self.ids.text.text, theme=self.theme_id or None,
                contact=self.ids.contact.text, contact_consent=self.consent)
        except DomainError as exc:
            target = {"contact_consent": "contact"}.get(exc.field, exc.field)
            # The message follows a change of language until the resident edits the field.
            say(self.ids[target] if target in ("title", "text", "contact") else self, "error",
                lambda exc=exc: exc.describe(tr._))
            return
        self.clear()
        if self.controller is not None:
            self.controller.idea_sent(proposal)

    def cancel(self):
        self.clear()
        if self.controller is not None:
            self.controller.idea_cancelled()


load_kv(__file__)
