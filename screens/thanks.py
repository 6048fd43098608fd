"""Thanks: shown only once the answers or the idea are on disk; then back to the welcome.

Beside the thanks, the follow-up panel with one QR code at most: after an idea, its receipt QR
and short code; else the sign-up QR (when the tablet is enrolled). Two codes side by side left
residents unsure which one to scan; after an idea the sign-up stays one tap away ("Register
here without a phone"). A resident without a phone can register here."""
from kivy.metrics import dp
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

import screens.followup  # noqa: F401  (the FollowUpPanel rule)
from screens import load_kv


class ThanksScreen(Screen):
    controller = ObjectProperty(None, allownone=True)
    idea_code = StringProperty("")        # the short code of the idea just sent
    idea_url = StringProperty("")         # its receipt link at the hub ("" when not enrolled)
    signup_url = StringProperty("")       # the sign-up link ("" when not enrolled)
    offer_idea = BooleanProperty(True)
    offer_signup = BooleanProperty(True)  # "Register here without a phone"
    signed_up = BooleanProperty(False)    # the resident just registered on this tablet
    qr_side = NumericProperty(dp(250))
    seconds_left = NumericProperty(0)     # until the screen closes by itself (shown)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(size=self._fit, signup_url=self._fit, idea_url=self._fit,
                  signed_up=self._fit)
        self._fit()

    def _fit(self, *_args):
        """The QR code as large as the screen allows beside the thanks (at least 220 px)."""
        if self.width >= self.height * 1.1:     # side by side with the thanks
            side = min(self.width * 0.5 - dp(40), self.height - dp(260))
        else:
            side = self.width - dp(72) - dp(40)
        self.qr_side = max(dp(220), min(dp(320), side))

    def count_down(self, seconds: int) -> None:
        """Say how long the screen stays (an idea's code must be noted before it goes)."""
        self._stop_count()
        self.seconds_left = seconds
        from kivy.clock import Clock
        self._tick = Clock.schedule_interval(self._count, 1)

    def _count(self, _dt):
        self.seconds_left = max(0, self.seconds_left - 1)
        if not self.seconds_left:
            self._stop_count()

    def _stop_count(self):
        tick = getattr(self, "_tick", None)
        if tick is not None:
            tick.cancel()
            self._tick = None

    def on_leave(self, *_args):
        self._stop_count()
        self.seconds_left = 0

    def finish(self):
        if self.controller is not None:
            self.controller.finish()

    def propose_idea(self):
        if self.controller is not None:
            self.controller.open_idea()

    def sign_up_here(self):
        if self.controller is not None:
            self.controller.open_signup()

    def forget(self):
        """Nothing of the previous resident stays (their idea's code, their sign-up)."""
        self.idea_code = self.idea_url = self.signup_url = ""
        self.signed_up = False
        self._stop_count()
        self.seconds_left = 0


load_kv(__file__)
