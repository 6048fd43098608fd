"""The identified ballot mode's first step: the resident shows their participation card.

Most kiosks read QR codes with a USB or Bluetooth scanner that types like a keyboard: the
field below keeps the focus, receives the card's text and Enter, and the card is checked
offline (app.cards.read_card through the session). The resident can also type the short code
printed under the QR. Where the tablet has a camera (and the QR decoder), "Show your card to
the camera" opens the camera scanner (screens/widgets/qr_scanner.py), whose reading goes through
`scanned`, the same checks as the scanner's typing."""
from kivy.clock import Clock
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from app.errors import N_, DomainError
from screens import load_kv
from screens.i18n import say, tr
from screens.signup_form import forget_typing
from screens.widgets.qr_scanner import open_scanner, scanning_possible

CARD_TEXT_MAX = 400


def card_filter(substring: str, _from_undo: bool) -> str:
    """A scanner's keystrokes or a typed code: printable ASCII only, no spaces or controls."""
    return "".join(ch for ch in substring if ch.isascii() and ch.isprintable() and ch != " ")


class CardEntryScreen(Screen):
    controller = ObjectProperty(None, allownone=True)
    session = ObjectProperty(None, allownone=True)
    error = StringProperty("")
    notice = StringProperty("")          # the card answered some questions here before
    accepted = BooleanProperty(False)
    camera_ready = BooleanProperty(False)   # a camera and the QR decoder: offer the scanner

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        field = self.ids.card.input
        field.input_filter = card_filter
        field.bind(on_text_validate=lambda *_a: self.check())
        self.ids.card.bind(text=lambda *_a: setattr(self, "error", ""))
        self.scan_popup = None

    def on_pre_enter(self, *_args):
        self.camera_ready = scanning_possible()

    def on_leave(self, *_args):
        # The kiosk reset (or moved on) while the camera was open: close it.
        if self.scan_popup is not None:
            self.scan_popup.dismiss(animation=False)
            self.scan_popup = None

    def scan_card(self):
        """Open the camera scanner; the card it reads goes through `scanned`."""
        if self.accepted:
            return None
        self.error = ""
        self.scan_popup = open_scanner(
            N_("Show your card to the camera"), self._card_read,
            hint=N_("Hold the QR code of your card in front of the camera, inside the frame."))
        return self.scan_popup

    def _card_read(self, text):
        self.scan_popup = None
        self.scanned(text)

    def on_enter(self, *_args):
        # The scanner types into whatever has the focus: give it to the card field.
        Clock.schedule_once(lambda _dt: setattr(self.ids.card.input, "focus", True), 0)

    def scanned(self, text: str):
        """A card's text read by other means (e.g. a camera scanner widget): checked the same
        way as the scanner's typing."""
        if not self.accepted:
            self.ids.card.input.text = card_filter(str(text)[:CARD_TEXT_MAX + 1], False)
            self.check()

    def go_on(self):
        """Continue: check the card, or (once accepted with a notice) start the ballot."""
        if self.accepted:
            self._proceed()
        else:
            self.check()

    def check(self):
        if self.accepted:
            return
        text = self.ids.card.text[:CARD_TEXT_MAX + 1]
        forget_typing(self.ids.card)        # the card's text never stays in a widget
        try:
            self.session.present_card(text)
        except DomainError as exc:
            say(self, "error", lambda exc=exc: exc.describe(tr._))   # follows a change of language
            self.ids.card.input.focus = True
            return
        self.error = ""
        session = self.session
        if session.passed_over:
            done, total = len(session.passed_over), len(session.questions)
            say(self, "notice", lambda: tr.ngettext(
                "Your card has already answered {n} of these {total} questions on this tablet: "
                "you will see only the others.",
                "Your card has already answered {n} of these {total} questions on this tablet: "
                "you will see only the other ones.", done).format(n=done, total=total))
            self.accepted = True
            return
        self._proceed()

    def _proceed(self):
        self.accepted = False
        self.notice = ""
        if self.controller is not None:
            self.controller.card_accepted()

    def clear(self):
        forget_typing(self.ids.card)
        self.error = self.notice = ""
        self.accepted = False

    def cancel(self):
        self.clear()
        if self.session is not None:
            self.session.forget_card()
        if self.controller is not None:
            self.controller.card_cancelled()


load_kv(__file__)
