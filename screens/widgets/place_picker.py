"""Choosing a place on the consultation's map, the same way wherever a place is asked (a `place`
question, an idea put on the map): tap the map (a pin shows where, and the place in words) and
confirm, or — without reading the map — choose the commune from a list of large buttons. A
point outside the perimeter is refused and the whole perimeter is shown again.

Events: `on_place(place)` with the place in the form app.answers.validate_place takes
(`{"lon", "lat"}` confirmed on the map, or `{"area"}` chosen from the list); `on_refused(exc)`
when a tap falls outside (the DomainError to show, in the reader's language); `on_pinned()`
when a tap is accepted (a message shown for an earlier tap can go)."""
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.answers import validate_place
from app.errors import DomainError
from screens import load_kv
from screens.i18n import tr
from screens.widgets import ToggleCard
from screens.widgets.map_view import MapView  # noqa: F401  (its kv rule is used below)


class PlacePicker(BoxLayout):
    """The map, its Confirm button and the list of areas. Call `build_picker` once."""
    pin = ListProperty([])               # [lon, lat] tapped, not yet confirmed
    pin_area = StringProperty("")        # the area the pin falls in
    chosen_area = StringProperty("")     # the area chosen from the list
    picker_consultation = ObjectProperty(None, allownone=True)
    place_field = "place"                # the field a refusal names
    area_cols = NumericProperty(1)       # two columns of areas where every name stays whole
    list_fits = BooleanProperty(True)    # the list beside the map keeps every name whole

    __events__ = ("on_place", "on_refused", "on_pinned")

    def build_picker(self, consultation, bundle_dir: str, field: str = "place") -> None:
        self.picker_consultation = consultation
        self.place_field = field
        perimeter = consultation.map
        self.area_cards = {}
        mapview = self.ids.map
        mapview.bundle_dir = bundle_dir or ""
        mapview.consultation_map = perimeter
        mapview.bind(on_tap=self._tapped)
        mapview.name_of = lambda area: tr.loc(area.name)
        for area in (perimeter.areas if perimeter else ()):
            card = ToggleCard(size_hint_y=None)
            card.area_id = area.id
            card.bind(on_release=self._choose_area)
            self.area_cards[area.id] = card
            self.ids.areas.add_widget(card)
        tr.bind(lang=self._picker_texts)
        self.bind(pin=self._mark, pin_area=self._mark, chosen_area=self._mark)
        self.ids.areas.fbind("width", self._fit_cols)
        self.fbind("width", self._fit_cols)
        from screens.theme import theme
        theme.bind(font_button=self._fit_cols)      # weak: the theme outlives the picker
        self._picker_texts()

    def area_name(self, area_id: str) -> str:
        consultation = self.picker_consultation
        perimeter = consultation.map if consultation else None
        area = perimeter.area(area_id) if perimeter and area_id else None
        return tr.loc(area.name) if area else ""

    def _picker_texts(self, *_args):
        perimeter = self.picker_consultation.map
        for area_id, card in self.area_cards.items():
            card.text = self.area_name(area_id)
        self.ids.map.attribution = tr.loc(perimeter.attribution) if perimeter else ""
        self.ids.map.names_changed()
        self._mark()
        self._fit_cols()

    def _fit_cols(self, *_args):
        from kivy.metrics import dp

        from screens.widgets import longest_word_width
        grid = self.ids.areas
        cards = list(self.area_cards.values())
        widest = max((longest_word_width(c.text, c.font_size, c.bold) for c in cards),
                     default=0)
        self.list_fits = self.width * 0.34 - dp(112) - dp(24) >= widest + dp(4)
        self.area_cols = 2 if (grid.width > dp(560) and
                               (grid.width - grid.spacing[0]) / 2 - dp(112) >= widest + dp(4)) \
            else 1

    def show_place(self, place) -> None:
        """Show `place` (a validated place, or None for none) and the whole perimeter."""
        place = place or {}
        if "lon" in place:
            self.pin = [place["lon"], place["lat"]]
            self.pin_area = place.get("area", "")
            self.chosen_area = ""
        else:
            self.pin, self.pin_area = [], ""
            self.chosen_area = place.get("area", "")
        self.ids.map.pin = list(self.pin)
        self.ids.map.go_home()

    def _mark(self, *_args):
        for area_id, card in self.area_cards.items():
            card.selected = area_id == self.chosen_area
        self.ids.map.pin = list(self.pin)
        self.marked()

    def marked(self) -> None:
        """The pin or the chosen area changed (for subclasses)."""

    def _tapped(self, _map, lon, lat):
        try:
            place = validate_place(self.picker_consultation, {"lon": lon, "lat": lat},
                                   self.place_field)
        except DomainError as exc:
            self.pin, self.pin_area = [], ""
            self.ids.map.go_home()      # the whole perimeter, again after the message resizes the map
            self.dispatch("on_refused", exc)
            return
        self.pin_area = place["area"]
        self.pin = [place["lon"], place["lat"]]
        self.dispatch("on_pinned")

    def confirm(self) -> None:
        if self.pin:
            self.dispatch("on_place", self.draft())

    def _choose_area(self, card):
        self.pin, self.pin_area = [], ""
        self.chosen_area = card.area_id
        self.dispatch("on_place", {"area": card.area_id})

    def draft(self):
        if not self.pin:
            return None
        return {"lon": self.pin[0], "lat": self.pin[1]}

    def on_place(self, place):
        pass

    def on_refused(self, exc):
        pass

    def on_pinned(self):
        pass


load_kv(__file__)
