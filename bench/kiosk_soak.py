"""A kiosk that runs all day: residents one after another through ONE kiosk process, on a real
window: `sh tools/with-display.sh python bench/kiosk_soak.py [--residents N] [--quick]`.

Each resident is driven as a finger would: touches (down, then up) through the window on the
welcome's Start, on an answer of every question that moves on at a tap (a colour for each
project, yes/no, the scale), on Skip for the others, then on the thanks screen's Finish, back to
the welcome for the next one. The kiosk's own fade between screens runs; its tap guard's clock
is moved on over the 0.4 s it waits after each change (a resident reads for longer), so the
run is not made of waits. The store is on disk (WAL, synchronous FULL) and grows as it would.

Prints the process's resident memory (RSS, after a garbage collection) every 100 residents
(every 10 with --quick) and the growth from the first mark to the last; the baseline, in the
same run, is the RSS of the kiosk shown with nobody yet. Target (issue 26): growth ≤ 50 MB
from resident 100 to resident 1,000.
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent    # (bench/_common's, and importable from tests)

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_LOG_LEVEL", "warning")

ONE_TAP = {"colour": ("green", "orange", "red"), "yes_no": ("yes", "no", "abstain")}


def leak_counts() -> str:
    """What would grow if something leaked: live widgets, textures, scheduled Clock events and
    this process's open file descriptors (counted after a full collection)."""
    from kivy.clock import Clock
    from kivy.graphics.texture import Texture
    from kivy.uix.widget import Widget
    gc.collect()
    widgets = textures = 0
    for obj in gc.get_objects():
        try:
            if isinstance(obj, Widget):
                widgets += 1
            elif isinstance(obj, Texture):
                textures += 1
        except ReferenceError:          # a weak proxy whose widget is gone: not a widget
            continue
    events = len(Clock.get_events())
    fds = len(os.listdir("/proc/self/fd"))
    return f"widgets {widgets}, textures {textures}, clock events {events}, open fds {fds}"


def rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc), after a full collection."""
    gc.collect()
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class SkippingClock:
    """The tap guard's clock: the machine's, plus the waits skipped (a resident who reads)."""

    def __init__(self):
        self.skipped = 0.0

    def __call__(self):
        return time.monotonic() + self.skipped


class Finger:
    """Touches through the window on a kiosk root, as tests/ui's taps do."""

    def __init__(self, root):
        from kivy.base import EventLoop
        self.root = root
        self.idle = EventLoop.idle
        self.clock = SkippingClock()
        root.tap_guard.clock = self.clock

    def settle(self):
        for _ in range(300):
            if not self.root.manager.transition.is_active:
                break
            self.idle()
        guard = self.root.tap_guard
        if guard.settling:                       # the resident reads the new screen
            self.clock.skipped += guard.until - self.clock() + 0.01

    def tap(self, widget):
        from kivy.tests.common import UnitTestTouch
        self.settle()
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.idle()
        touch.touch_up()
        self.idle()                               # what the tap changed, drawn


def one_resident(finger, root, session, rnd) -> int:
    """Start, every question, Finish; the number of answers given."""
    finger.tap(root.welcome.ids.start)
    finger.settle()
    answers = 0
    question = root.question
    guard = 0
    while session.question is not None and root.current == "question":
        guard += 1
        if guard > 60:
            raise RuntimeError(f"stuck on {session.question.id}")
        kind = session.question.kind
        body = question.body
        before = (session.index, getattr(session, "project_index", None))
        if kind in ONE_TAP:
            finger.tap(body.ids[rnd.choice(ONE_TAP[kind])])
            answers += 1
        elif kind == "scale":
            value = rnd.randint(1, 5)
            finger.tap([c for c in body.ids.grid.children if c.value == value][0])
            answers += 1
        else:
            finger.tap(question.ids.skip)
        finger.settle()
        if (session.index, getattr(session, "project_index", None)) == before \
                and session.question is not None and root.current == "question" \
                and kind not in ONE_TAP and kind != "scale":
            raise RuntimeError(f"a tap on Skip did not move on from {session.question.id}")
    if root.current == "thanks":
        finger.tap(root.thanks.ids.finish)
        finger.settle()
    if root.current != "welcome":
        raise RuntimeError(f"the kiosk is on {root.current!r}, not back on the welcome")
    return answers


def print_now(line: str) -> None:
    print(line, flush=True)


def soak(folder: Path, residents: int, every: int, report=print_now) -> list[tuple[int, float]]:
    """`residents` through one kiosk on the window; [(residents so far, RSS MB)] at 0 and
    every `every`."""
    from kivy.base import EventLoop
    from kivy.core.window import Window

    from app.bundle import load_bundle
    from app.kiosk import KioskSession, KioskSettings
    from app.paths import DEMO_BUNDLE_DIR
    from app.security import FacilitatorPin
    from app.store import Store
    from screens.kiosk import KioskRoot

    EventLoop.ensure_window()
    store = Store.open(folder)
    FacilitatorPin(store).set_pin("258014")
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    session = KioskSession(store, consultation, settings=KioskSettings(store))
    root = KioskRoot(session=session, pin=FacilitatorPin(store),
                     bundle_dir=str(DEMO_BUNDLE_DIR), default_lang="fr")
    Window.add_widget(root)
    finger = Finger(root)
    for _ in range(5):
        EventLoop.idle()
    finger.settle()
    rnd = random.Random(26)
    curve = [(0, rss_mb())]
    report(f"{0:6d} residents  RSS {curve[0][1]:7.1f} MB  (the kiosk shown, nobody yet)  "
           f"{leak_counts()}")
    answers = 0
    start = time.perf_counter()
    try:
        for n in range(1, residents + 1):
            answers += one_resident(finger, root, session, rnd)
            if n % every == 0 or n == residents:
                curve.append((n, rss_mb()))
                report(f"{n:6d} residents  RSS {curve[-1][1]:7.1f} MB  "
                       f"({answers} answers, {time.perf_counter() - start:5.0f} s)  "
                       f"{leak_counts()}")
    finally:
        root.dispose()
        Window.remove_widget(root)
        store.close()
    return curve


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="30 residents (CI smoke)")
    parser.add_argument("--every", type=int, default=None,
                        help="residents between two memory marks (default 100; 10 with --quick)")
    args = parser.parse_args()
    residents = 30 if args.quick else args.residents
    every = args.every or (10 if args.quick else 100)
    from kivy.config import Config
    Config.set("graphics", "width", "1280")
    Config.set("graphics", "height", "800")
    from main import choose_clipboard
    choose_clipboard()
    import screens.widgets  # noqa: F401  (the shared kv rules before any screen, as the app does)
    with tempfile.TemporaryDirectory(prefix="piazzetta-soak-") as tmp:
        curve = soak(Path(tmp), residents, every)
    first = next(((n, mb) for n, mb in curve if n >= every), curve[0])
    last = curve[-1]
    print(f"growth from resident {first[0]} to resident {last[0]}: "
          f"{last[1] - first[1]:+.1f} MB   (from the kiosk with nobody: "
          f"{last[1] - curve[0][1]:+.1f} MB)   target: ≤ 50 MB from 100 to 1,000")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
