"""A resident's idea: title, text, theme, optionally where it would happen, and an optional
contact behind a consent box that says what the contact is for. Limits show as the resident
types; a refused idea shows the field's error and nothing is written.

The place (when the consultation has a map): "Put it on the map" opens the same picker as a
`place` question (screens/widgets/place_picker.py) in the screen's second mode — tap and
confirm, or choose a commune from the list; a tap outside the perimeter is refused there —
and comes back to the form, which says the place in words; it can be changed or removed, and
an idea without one is as welcome."""
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from app.answers import validate_place
from app.errors import DomainError
from app.proposals import CONTACT_MAX, TEXT_MAX, TITLE_MAX
from screens import load_kv
from screens.i18n import say, tr
from screens.theme import theme


class IdeaScreen(Screen):
    session = ObjectProperty(None, allownone=True)
    controller = ObjectProperty(None, allownone=True)
    theme_id = StringProperty("", allownone=True)
    bundle_dir = StringProperty("")
    has_map = BooleanProperty(False)
    place = ObjectProperty(None, allownone=True)    # the idea's validated place, if any
    place_text = StringProperty("")                 # the place in words, on the form
    place_error = StringProperty("")                # a tap outside, in the place mode
    consent = BooleanProperty(False)
    error = StringProperty("")
    title_max = TITLE_MAX
    text_max = TEXT_MAX
    contact_max = CONTACT_MAX

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.picker = None
        self.bind(session=self._build_themes, place=self._place_texts)
        tr.bind(lang=self._theme_texts)
        tr.bind(lang=self._place_texts)
        self._build_themes()

    def _build_themes(self, *_args):
        box = self.ids.get("themes")
        if box is None or self.session is None:
            return
        box.clear_widgets()
        self.has_map = self.session.consultation.map is not None
        self._place_texts()
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

    # -- the place -------------------------------------------------------------------------

    def _place_texts(self, *_args):
        place = self.place
        if not place:
            self.place_text = tr._("No place given.")
            return
        consultation = self.session.consultation if self.session else None
        area = consultation.map.area(place.get("area", "")) \
            if consultation and consultation.map else None
        name = tr.loc(area.name) if area else ""
        self.place_text = (tr._("Pin on the map: {place}") if "lon" in place
                           else tr._("Place: {place}")).format(place=name)

    def open_place(self):
        """The map and the list of communes, showing the place chosen so far."""
        if not self.has_map:
            return
        if self.picker is None:
            from screens.widgets.place_picker import PlacePicker
            self.picker = PlacePicker()
            self.picker.build_picker(self.session.consultation, self.bundle_dir)
            self.picker.bind(on_place=self._place_chosen, on_refused=self._place_refused,
                             on_pinned=self._place_pinned)
            self.ids.picker_box.add_widget(self.picker)
        self.place_error = ""
        self.picker.show_place(self.place)
        self.ids.modes.current = "place"

    def _place_chosen(self, _picker, place):
        try:
            self.place = validate_place(self.session.consultation, place, "place")
        except DomainError as exc:      # the picker checked it: only a changed bundle
            say(self, "place_error", lambda exc=exc: exc.describe(tr._))
            return
        self.close_place()

    def _place_refused(self, _picker, exc):
        say(self, "place_error", lambda exc=exc: exc.describe(tr._))

    def _place_pinned(self, _picker):
        self.place_error = ""

    def close_place(self):
        """Back to the form (the place as it was, when nothing was confirmed)."""
        self.place_error = ""
        self.ids.modes.current = "form"

    def remove_place(self):
        self.place = None

    def clear(self):
        """Empty the form (a new resident, or after sending)."""
        for field in ("title", "text", "contact"):
            self.ids[field].text = ""
            self.ids[field].error = ""
        self.theme_id = ""
        self.consent = False
        self.error = ""
        self.place = None
        if self.picker is not None:
            self.picker.show_place(None)
        self.close_place()

    def send(self):
        for field in ("title", "text", "contact"):
            self.ids[field].error = ""
        self.error = ""
        try:
            proposal = self.session.submit_idea(
                title=self.ids.title.text, text=self.ids.text.text, theme=self.theme_id or None,
                contact=self.ids.contact.text, contact_consent=self.consent,
                place=self.place)
        except DomainError as exc:
            target = {"contact_consent": "contact"}.get(exc.field, exc.field)
            # The message follows a change of language until the resident edits the field.
            say(self.ids[target] if target in ("title", "text", "contact") else self, "error",
                lambda exc=exc: exc.describe(tr._))
            if target not in ("title", "text", "contact"):
                # A message about the whole form (a rehearsal keeps no idea) sits below it:
                # brought into view, so that the tap on Send is never answered by nothing.
                Clock.schedule_once(lambda _dt: self.ids.scroll.scroll_to(
                    self.ids.form_error, padding=theme.padding), 0)
            return
        self.clear()
        if self.controller is not None:
            self.controller.idea_sent(proposal)

    def cancel(self):
        self.clear()
        if self.controller is not None:
            self.controller.idea_cancelled()


load_kv(__file__)
