"""A place: "where?". The resident taps the map (a pin shows where) and confirms, or — without
reading the map — chooses their commune from a list of large buttons. A point outside the
perimeter is refused with the domain's message and the whole perimeter is shown."""
from kivy.properties import ListProperty, StringProperty

from app.answers import validate_place
from app.errors import DomainError
from screens import load_kv
from screens.i18n import say, tr
from screens.question_body import QuestionBody
from screens.widgets import ToggleCard
from screens.widgets.map_view import MapView  # noqa: F401  (its kv rule is used below)


class PlaceBody(QuestionBody):
    pin = ListProperty([])               # [lon, lat] tapped, not yet recorded
    pin_area = StringProperty("")        # the area the pin falls in
    chosen_area = StringProperty("")     # the area of the recorded answer, for the list

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        perimeter = self.consultation.map
        self.area_cards = {}
        mapview = self.ids.map
        mapview.bundle_dir = self.screen.bundle_dir or ""
        mapview.consultation_map = perimeter
        mapview.bind(on_tap=self._tapped)
        for area in (perimeter.areas if perimeter else ()):
            card = ToggleCard(size_hint_y=None)
            card.area_id = area.id
            card.bind(on_release=self._choose_area)
            self.area_cards[area.id] = card
            self.ids.areas.add_widget(card)
        tr.bind(lang=self._texts)
        self.bind(pin=self._mark, pin_area=self._mark, chosen_area=self._mark)
        self._texts()

    def area_name(self, area_id: str) -> str:
        perimeter = self.consultation.map
        area = perimeter.area(area_id) if perimeter and area_id else None
        return tr.loc(area.name) if area else ""

    def _texts(self, *_args):
        perimeter = self.consultation.map
        for area_id, card in self.area_cards.items():
            card.text = self.area_name(area_id)
        self.ids.map.attribution = tr.loc(perimeter.attribution) if perimeter else ""
        self._mark()

    def load(self, from_end=False):
        answer = self.session.answer_of(self.question.id) or {}
        if "lon" in answer:
            self.pin = [answer["lon"], answer["lat"]]
            self.pin_area = answer.get("area", "")
        else:
            self.pin = []
            self.pin_area = ""
        self.chosen_area = answer.get("area", "") if "lon" not in answer else ""
        self.ids.map.pin = list(self.pin)
        self.ids.map.go_home()

    def _mark(self, *_args):
        for area_id, card in self.area_cards.items():
            card.selected = area_id == self.chosen_area
        self.ids.map.pin = list(self.pin)
        stored = self.session.answer_of(self.question.id) if self.screen else None
        self.can_confirm = bool(self.pin) and self.draft() != stored
        self.detail = self.area_name(self.pin_area or self.chosen_area)

    def _tapped(self, _map, lon, lat):
        try:
            place = validate_place(self.consultation, {"lon": lon, "lat": lat},
                                   self.question.id)
        except DomainError as exc:
            say(self.screen, "error", lambda exc=exc: exc.describe(tr._))
            self.pin, self.pin_area = [], ""
            self.ids.map.fit_perimeter()
            return
        self.screen.error = ""
        self.pin_area = place["area"]
        self.pin = [place["lon"], place["lat"]]

    def confirm(self):
        if self.pin:
            self.choose(self.draft())

    def _choose_area(self, card):
        self.pin, self.pin_area = [], ""
        self.chosen_area = card.area_id
        self.choose({"area": card.area_id})

    def draft(self):
        if not self.pin:
            return None
        return {"lon": self.pin[0], "lat": self.pin[1]}


load_kv(__file__)
