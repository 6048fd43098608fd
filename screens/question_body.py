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

    # -- easy read (issue 31): the option's easy-read words and picture ------------------------

    @property
    def easy_read(self) -> bool:
        return bool(self.screen is not None and self.screen.easy_read)

    def option_words(self, option) -> str:
        """An option's words: its easy-read words when the resident chose easy read and the
        bundle has them, else its label."""
        from screens.i18n import tr
        return (tr.loc(option.label_easy) if self.easy_read else "") or tr.loc(option.label)

    def option_picture(self, card, option) -> None:
        """Easy read: the option's picture at the left of its card, the words beside it."""
        from kivy.metrics import dp
        from kivy.uix.image import Image
        picture = getattr(card, "picture", None)
        path = self.screen.image_path(option.image) if self.easy_read and option.image else ""
        if not path:
            if picture is not None:
                card.remove_widget(picture)
                card.picture = None
                card.padding = [0, 0, 0, 0]
            return
        if picture is None:
            picture = Image(fit_mode="contain", size_hint=(None, None))
            card.picture = picture
            card.add_widget(picture)

            def place(card, *_args):
                picture.size = (dp(104), max(dp(40), card.height - dp(16)))
                picture.pos = (card.x + dp(10), card.y + dp(8))
            card.bind(pos=place, size=place)
            place(card)
        picture.source = path
        # Room for the picture at the left, and a card tall enough to show it.
        card.padding = [dp(112), dp(30), 0, dp(30)]

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
