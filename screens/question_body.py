"""What the body of every kind of question offers the question screen (screens/question.py).
Its own module so that the kinds (screens/vote_*.py) and the screen that shows them import it
without importing each other."""
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout


class QuestionBody(BoxLayout):
    """What every kind's body offers the question screen."""
    question = ObjectProperty(None)
    screen = ObjectProperty(None, allownone=True)
    can_confirm = BooleanProperty(False)   # a draft Next would record
    detail = StringProperty("")            # e.g. "Project 2 of 6"
    # A tap records and goes on (yes/no, scale, colour, single choice, a commune): what comes
    # next is drawn under the finger, so the kiosk's tap guard (screens/tap_guard.py) waits
    # for the screen to settle; tests/ui/test_taps.py taps every such kind.
    auto_advance = False

    @property
    def session(self):
        return self.screen.session

    @property
    def consultation(self):
        return self.screen.session.consultation

    def load(self, from_end: bool = False) -> None:
        """Show the answer the session holds for this question (or a blank form)."""

    def draft(self):
        """The answer Next would record, in the form record_answer takes."""
        return None

    def back(self) -> bool:
        """Go back inside the body (e.g. the previous project); False to leave the question."""
        return False

    def skip(self) -> bool:
        return False

    def next_inside(self) -> bool:
        """Next shows what comes next inside the body (the next project) instead of the next
        question; False once everything in it was shown."""
        return False

    def has_previous(self) -> bool:
        """True when back stays inside this body."""
        return False

    def choose(self, value) -> None:
        """A tap that is an answer: record it now, then go on."""
        if self.screen.record(value):
            self.screen.advance()
