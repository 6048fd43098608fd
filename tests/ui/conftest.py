"""Screen tests on a real Kivy window (under Xvfb: `sh tools/with-display.sh`).

Every screen module is imported here, before any test builds a widget, so that every kv rule
is loaded once into the one Builder. Screens are driven as a resident would: taps are
on_press/on_release dispatched on the very buttons shown (never on a disabled one), text is
typed into the TextInputs, and frames are stepped with EventLoop.idle().
"""
import gc
import os
from datetime import datetime
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="piazzetta-kivy-"))
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_CLIPBOARD", "dummy")

from kivy.config import Config  # noqa: E402

Config.set("graphics", "width", "1280")
Config.set("graphics", "height", "800")
Config.set("kivy", "exit_on_escape", "0")
Config.set("input", "mouse", "mouse,disable_multitouch")

import pytest  # noqa: E402
from kivy.base import EventLoop  # noqa: E402
from kivy.core.window import Window  # noqa: E402

import screens.widgets  # noqa: E402,F401
import screens.welcome  # noqa: E402,F401
import screens.question  # noqa: E402,F401
import screens.vote_kinds  # noqa: E402,F401
import screens.idea  # noqa: E402,F401
import screens.thanks  # noqa: E402,F401
import screens.followup  # noqa: E402,F401
import screens.signup_form  # noqa: E402,F401
import screens.follow_idea  # noqa: E402,F401
import screens.card_entry  # noqa: E402,F401
import screens.pin  # noqa: E402,F401
import screens.facilitator  # noqa: E402,F401  (its pages too)
import screens.projector.app  # noqa: E402,F401
import screens.kiosk  # noqa: E402,F401
from app.kiosk import KioskSession, KioskSettings  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.security import FacilitatorPin  # noqa: E402
from app.store import Store  # noqa: E402
from screens.i18n import tr  # noqa: E402
from screens.kiosk import KioskRoot  # noqa: E402
from screens.theme import theme  # noqa: E402

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "kiosk"
PIN = "258014"


# -- frames: ticked, and drawn only for a picture -----------------------------------------------
# Under Xvfb the window is drawn in software (Mesa llvmpipe): drawing and flipping a 1280×800
# frame is nearly all of a window test's CPU, and only a picture of the window needs it. So a
# frame stepped in a test (`step`, `EventLoop.idle()`) does all a frame does — the clock's
# events, input, kv rules, layouts, labels' textures — but the window's draw and flip; a
# picture draws once (`screenshot()`: `Kiosk.shot`, `window_shot`). A test about
# what is drawn frame after frame asks for the `drawn_frames` fixture.
# (The state lives on the window: this file is loaded twice, as pytest's conftest and as
# `tests.ui.conftest` imported by test files, and one window must obey one switch.)
def _held(*_args):
    return not Window.piazzetta_drawn      # True ends the event there: no draw, no flip


def _held_flip(*_args):
    if Window.piazzetta_drawn:          # the GL buffers take the window's size at a flip
        Window.piazzetta_buffer_size = tuple(Window.size)
    return _held()


if not hasattr(Window, "piazzetta_drawn"):
    Window.piazzetta_drawn = False
    Window.piazzetta_buffer_size = None
    Window.fbind("on_draw", _held)
    Window.fbind("on_flip", _held_flip)


def screenshot(name: str) -> str:
    """The window as it is now, drawn and read back into a PNG file. `Window.screenshot` reads
    the back buffer (glReadPixels), which a draw has just filled: drawn once and read before
    any flip (two draws and flips, as before, gave the same pixels for twice the CPU). The
    buffers take a new window size only at a flip: after a resize, one frame is flipped first
    (else the rows past the old size are garbage)."""
    drawn, Window.piazzetta_drawn = Window.piazzetta_drawn, True
    try:
        if Window.piazzetta_buffer_size != tuple(Window.size):
            Window.dispatch("on_draw")
            Window.dispatch("on_flip")
        Window.dispatch("on_draw")
    finally:
        Window.piazzetta_drawn = drawn
    return Window.screenshot(name=name)


@pytest.fixture
def drawn_frames():
    """Every frame stepped in this test drawn and flipped, as on a tablet."""
    Window.piazzetta_drawn = True
    yield
    Window.piazzetta_drawn = False


def step(frames: int = 3) -> None:
    for _ in range(frames):
        EventLoop.idle()


class GuardClock:
    """The time a kiosk's tap guard reads: the machine's, plus the waits a test makes without
    spending them (`wait_settled`)."""

    def __init__(self):
        self.skipped = 0.0

    def __call__(self):
        return time.monotonic() + self.skipped


def wait_settled(limit: int = 200) -> None:
    """Wait until every kiosk on the window takes touches again (after a change of screen,
    touches wait for it to settle: screens/tap_guard.py): the guard's clock is moved on to
    the end of the wait, then frames are stepped."""
    guards = [w.tap_guard for w in Window.children if isinstance(w, KioskRoot)]
    for guard in guards:
        if isinstance(guard.clock, GuardClock) and guard.settling:
            guard.clock.skipped += guard.until - guard.clock()
    for _ in range(limit):
        if not any(g.settling for g in guards):
            return
        EventLoop.idle()


def window_rect(widget):
    x, y = widget.to_window(widget.x, widget.y)
    return x, y, x + widget.width, y + widget.height


def _inside(widget, x, y) -> bool:
    x0, y0, x1, y1 = window_rect(widget)
    return x0 <= x <= x1 and y0 <= y <= y1


def widget_at(widget, x, y):
    """The widget a touch at window point (x, y) goes to, found as Kivy dispatches it: the
    children last added first; only the current screen of a screen manager; a scroll only
    within its bounds; a disabled widget swallows what falls on it; a button, a text field, a
    scroll or a map takes it. None when nothing takes it."""
    from kivy.core.window import WindowBase
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.textinput import TextInput
    from screens.widgets.map_view import MapView
    if not isinstance(widget, WindowBase):
        if widget.disabled and _inside(widget, x, y):
            return widget
        if isinstance(widget, ScrollView) and not _inside(widget, x, y):
            return None
    for child in list(widget.children):
        found = widget_at(child, x, y)
        if found is not None:
            return found
    if isinstance(widget, (ButtonBehavior, TextInput, ScrollView, MapView)) \
            and _inside(widget, x, y):
        return widget
    return None


def set_size(width: int, height: int) -> None:
    Window.size = (width, height)
    step(4)


def shown(widget) -> bool:
    """On the window, and (inside a screen manager) on the current screen."""
    from kivy.core.window import WindowBase
    from kivy.uix.screenmanager import Screen, ScreenManager
    node = widget
    for _ in range(100):
        parent = node.parent
        if parent is None:
            return False
        if isinstance(node, Screen) and isinstance(parent, ScreenManager):
            if parent.current != node.name:
                return False
        if isinstance(parent, WindowBase):
            return True
        node = parent
    return False


class Kiosk:
    """A kiosk on the test window, and the moves a resident makes on it."""

    def __init__(self, root, store, session):
        self.root = root
        self.store = store
        self.session = session

    @property
    def screen(self):
        return self.root.manager.current_screen

    def tap(self, widget, frames: int = 2):
        assert not widget.disabled, f"tapped a disabled {widget.__class__.__name__}"
        assert shown(widget), f"tapped a {widget.__class__.__name__} that is not on screen"
        widget.dispatch("on_press")
        widget.dispatch("on_release")
        step(frames)
        self.settle()

    def settle(self, limit: int = 300):
        """Step frames until the screen transition (a fade) is over: until then the screens
        are drawn through a texture and take no touch, for a resident as for a test."""
        for _ in range(limit):
            if not self.root.manager.transition.is_active:
                return
            EventLoop.idle()

    def type(self, field, text: str):
        """Type into a TextField (or a TextInput) as a keyboard would."""
        text_input = getattr(field, "input", None) or field
        text_input.focus = True
        text_input.insert_text(text)
        step(1)
        text_input.focus = False

    def body(self):
        return self.root.question.body

    def touch_targets(self):
        """Every button shown is at least 48 dp on both sides (invariant 8)."""
        from kivy.metrics import dp
        from kivy.uix.behaviors import ButtonBehavior
        small = [(w.__class__.__name__, getattr(w, "text", ""), tuple(w.size))
                 for w in self.root.walk(restrict=True)
                 if isinstance(w, ButtonBehavior) and shown(w) and w.opacity > 0
                 and min(w.size) < dp(48) - 0.5]
        assert not small, small

    def shot(self, name: str, lang: str | None = None) -> Path:
        folder = SHOTS / (lang or tr.lang)
        folder.mkdir(parents=True, exist_ok=True)
        step(6)
        self.touch_targets()
        path = folder / f"{name}.png"
        # Window.screenshot numbers its files (name.<pid>0001.png, this process's own): the one
        # it wrote takes the stable name.
        written = screenshot(str(folder / f"{name}.{os.getpid()}.png"))
        Path(written).replace(path)
        return path


@pytest.fixture(autouse=True)
def cheap_pin_hash(monkeypatch):
    """Screen tests are about the screens, not the PIN's cost: a cheap scrypt for new PINs
    (app.security keeps the real cost; tests/unit/test_security.py checks it)."""
    import app.security as security
    monkeypatch.setattr(security, "SCRYPT_N", 2 ** 10)


@pytest.fixture(autouse=True)
def pictures_from_their_files(monkeypatch):
    """An app built in a test keeps scaled copies of its pictures under that test's data
    folder (screens.widgets.FittedImage.copies): the next test reads the files again."""
    from screens.widgets import FittedImage
    monkeypatch.setattr(FittedImage, "copies", None)


@pytest.fixture(autouse=True)
def screen_fade(monkeypatch):
    """No fade between screens: screen tests step frames, and a fade after each tap is only
    frames to step. Tests about taps during a change of screen override this fixture."""
    import screens.kiosk
    monkeypatch.setattr(screens.kiosk, "FADE_SECONDS", 0)


@pytest.fixture(scope="session")
def window():
    EventLoop.ensure_window()
    set_size(1280, 800)
    return Window


def _let_go_of_the_last_test() -> None:
    """What the tests before built (kiosks, projectors: hundreds of thousands of objects) freed
    before this one starts. Until then a widget tree left on no window still follows the theme,
    the language and the window's size: a test that reset them at its end relaid out the
    kiosks it had just closed, and every collection walked them. The animations a test left
    running (a scroll bar's fade, a bar's move) hold their widgets until their last frame:
    cancelled, nothing holds a closed kiosk any more."""
    from kivy.animation import Animation
    for animation in list(Animation._instances):
        animation._widgets.clear()       # (a widget may be gone already: no cancel(widget))
        animation._clock_uninstall()
        animation._unregister()
    gc.collect()


@pytest.fixture(autouse=True)
def window_as_new():
    """Every window test starts on the window as a resident first finds it: 1280×800, normal
    text, normal contrast, French — whatever the test before changed.

    And the garbage collector runs once between tests rather than during them: a kiosk is
    ~300,000 objects, and while a test built one the collector walked every live object again
    at each quarter of growth (0.3-0.6 s a walk, about half of the window tests' CPU). A test
    that needs a collection mid-test (the leak checks) calls gc.collect() itself."""
    _let_go_of_the_last_test()
    theme.text_size = "normal"
    theme.high_contrast = False
    tr.lang = "fr"
    if tuple(Window.size) != (1280, 800):
        set_size(1280, 800)
    gc.disable()
    yield
    gc.enable()


@pytest.fixture
def kiosk_factory(window, tmp_path, demo):
    made = []

    def make(*, pin=True, role="kiosk", lang="fr", consultation=None,
             bundle_dir=DEMO_BUNDLE_DIR, **settings):
        store = Store.open(tmp_path / f"store{len(made)}")
        kiosk_settings = KioskSettings(store)
        for key, value in settings.items():
            setattr(kiosk_settings, key, value)
        if pin:
            FacilitatorPin(store).set_pin(PIN)
        session = KioskSession(store, consultation or demo, settings=kiosk_settings)
        tr.lang = lang
        root = KioskRoot(session=session, pin=FacilitatorPin(store), sync=settings.pop(
            "sync", None), bundle_dir=str(bundle_dir), role=role, default_lang=lang)
        root.tap_guard.clock = GuardClock()
        # The welcome screen lists meetings not yet over: a fixed day, before the demo's.
        root.welcome.clock = lambda: datetime(2026, 12, 1, 9, 0)
        Window.add_widget(root)
        step(4)
        kiosk = Kiosk(root, store, session)
        made.append(kiosk)
        return kiosk

    yield make
    for kiosk in made:
        kiosk.root.dispose()
        Window.remove_widget(kiosk.root)
        kiosk.store.close()
        kiosk.root = kiosk.session = None    # the test's own Kiosk objects hold nothing more
    made.clear()


@pytest.fixture
def kiosk(kiosk_factory):
    return kiosk_factory()
