"""A place: "where?". The resident taps the map (a pin shows where) and confirms, or — without
reading the map — chooses their commune from a list of large buttons (the shared PlacePicker,
screens/widgets/place_picker.py). A point outside the perimeter is refused with the domain's
message and the whole perimeter is shown."""
from screens.i18n import say, tr
from screens.question_body import QuestionBody
from screens.widgets.place_picker import PlacePicker


class PlaceBody(QuestionBody, PlacePicker):
    auto_advance = True          # a commune tapped in the list is recorded and goes on
    draft = PlacePicker.draft       # the pin not yet confirmed (QuestionBody's is None)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.build_picker(self.consultation, self.screen.bundle_dir or "", self.question.id)

    def load(self, from_end=False):
        self.show_place(self.session.answer_of(self.question.id))

    def marked(self):
        stored = self.session.answer_of(self.question.id) if self.screen else None
        self.can_confirm = bool(self.pin) and self.draft() != stored
        self.detail = self.area_name(self.pin_area or self.chosen_area)

    def on_refused(self, exc):
        say(self.screen, "error", lambda exc=exc: exc.describe(tr._))

    def on_pinned(self):
        self.screen.error = ""

    def on_place(self, place):
        self.choose(place)
