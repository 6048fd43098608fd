"""The facilitator's PIN: chosen (twice) at first start, then asked to leave the kiosk.
A keypad of large keys; the physical keyboard's digits work too. Wrong PINs are slowed down
by app.security; the screen says how long to wait."""
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.properties import BooleanProperty, ObjectProperty, OptionProperty, StringProperty
from kivy.uix.screenmanager import Screen

from app.errors import DomainError
from app.security import PIN_MAX, PinThrottled
from screens import load_kv
from screens.i18n import say, tr


class PinScreen(Screen):
    pin = ObjectProperty(None, allownone=True)          # app.security.FacilitatorPin
    controller = ObjectProperty(None, allownone=True)
    mode = OptionProperty("enter", options=["enter", "choose", "confirm"])
    entered = StringProperty("")
    message = StringProperty("")
    failed = BooleanProperty(False)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._first = ""
        self._countdown = None

    def on_pre_enter(self, *_args):
        self.mode = "enter" if self.pin is not None and self.pin.is_set else "choose"
        self.entered = ""
        self.message = ""
        self.failed = False
        self._first = ""
        Window.bind(on_key_down=self._on_key)
        self._tick_wait()

    def on_leave(self, *_args):
        Window.unbind(on_key_down=self._on_key)
        if self._countdown is not None:
            self._countdown.cancel()
            self._countdown = None

    def _on_key(self, _window, key, _scancode, codepoint, _modifiers):
        if codepoint and codepoint.isdigit() and codepoint.isascii():
            self.press(codepoint)
            return True
        if key == 8:          # backspace
            self.erase()
            return True
        if key in (13, 271):  # enter
            self.submit()
            return True
        return False

    def press(self, digit):
        if len(self.entered) < PIN_MAX:
            self.entered += digit

    def erase(self):
        self.entered = self.entered[:-1]

    def submit(self):
        entered, self.entered = self.entered, ""
        if self.mode == "choose":
            try:
                from app.security import check_pin_format
                check_pin_format(entered)
            except DomainError as exc:
                self._fail(exc.describe(tr._))
                return
            self._first = entered
            self.mode = "confirm"
            self.message = ""
            self.failed = False
            return
        if self.mode == "confirm":
            try:
                self.pin.set_pin(self._first, entered)
            except DomainError as exc:
                self.mode = "choose"
                self._fail(exc.describe(tr._))
                return
            self._accepted()
            return
        try:
            ok = self.pin.verify(entered)
        except PinThrottled:
            self._tick_wait()
            return
        if ok and getattr(self.pin, "shorter_than_required", False):
            # A right PIN chosen before PIN_MIN was raised: choose a longer one now.
            from app.security import PIN_MIN, PIN_TOO_SHORT
            self.mode = "choose"
            self.failed = False
            say(self, "message", lambda: tr._(PIN_TOO_SHORT).format(min=PIN_MIN))
            return
        if ok:
            self._accepted()
        else:
            self._fail(tr._("Wrong PIN."))
            self._tick_wait()

    def _fail(self, message):
        self.failed = True
        self.message = message

    def _tick_wait(self, *_args):
        """While attempts are slowed down, say how long remains and update every second."""
        if self.pin is None or self.mode != "enter":
            return
        wait = self.pin.wait_remaining()
        if wait > 0:
            self.failed = True
            self.message = tr._("Too many wrong PINs. Try again in {seconds} s.").format(
                seconds=int(wait + 0.999))
            if self._countdown is None:
                self._countdown = Clock.schedule_interval(self._tick_wait, 1)
        elif self._countdown is not None:
            self._countdown.cancel()
            self._countdown = None
            self.message = ""
            self.failed = False

    @property
    def waiting(self):
        return self.pin is not None and self.pin.wait_remaining() > 0

    def _accepted(self):
        self.message = ""
        self.failed = False
        if self.controller is not None:
            self.controller.facilitator_unlocked()

    def cancel(self):
        if self.controller is not None:
            self.controller.leave_pin()


load_kv(__file__)
