"""A kiosk runs for weeks: a root that is replaced (a consultation switched, screens/app.py)
is freed whole once disposed, with its screens, scrolls and place picker; nothing that lives as
long as the process (the theme, the translator, the window, the clock) keeps it. (Kivy keeps
the arguments of the last text field it scrolled, so one kiosk is checked after another.)"""
import gc
import time
import weakref

from kivy.core.window import Window

from app.kiosk import KioskSession, KioskSettings
from app.paths import DEMO_BUNDLE_DIR
from app.security import FacilitatorPin
from app.store import Store
from screens.kiosk import KioskRoot
from screens.theme import theme
from screens.widgets import CueScroll
from tests.ui.conftest import PIN, step


def used_and_disposed(store, demo):
    """A kiosk shown, every question and the idea screen (its place picker) built, the theme
    changed under it, then disposed and taken off the window: weak references to it and to
    its scrolls."""
    session = KioskSession(store, demo, settings=KioskSettings(store))
    root = KioskRoot(session=session, pin=FacilitatorPin(store), bundle_dir=str(DEMO_BUNDLE_DIR))
    Window.add_widget(root)
    step(4)
    root.start_ballot()
    for index in range(len(session.consultation.questions)):
        session.index = index
        root.question.show()
        step(2)
    root.open_idea()
    step(2)
    scrolls = [weakref.ref(w) for w in root.walk(restrict=True) if isinstance(w, CueScroll)]
    theme.text_size = "large"
    step(2)
    theme.text_size = "normal"
    root.dispose()
    Window.remove_widget(root)
    return weakref.ref(root), scrolls


def test_a_replaced_kiosk_is_freed(window, tmp_path, demo):
    store = Store.open(tmp_path / "store")
    FacilitatorPin(store).set_pin(PIN)
    first, scrolls = used_and_disposed(store, demo)
    assert scrolls
    used_and_disposed(store, demo)
    deadline = time.monotonic() + 5       # a scroll's animation under way holds it until done
    while first() is not None and time.monotonic() < deadline:
        step(2)
        gc.collect()
    store.close()
    assert first() is None
    assert all(scroll() is None for scroll in scrolls)
