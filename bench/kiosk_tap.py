"""Tap on an answer → the next question (or project) drawn, on a real window:
`sh tools/with-display.sh python bench/kiosk_tap.py [--taps N] [--quick]`.

The kiosk runs at 1280×800 on the demo consultation with a store on disk (WAL, synchronous
FULL: each tap's answer is fsynced before the next screen is drawn, invariant 1). A tap is the
on_press/on_release a finger makes on an answer button (a colour for each of the six projects,
yes/no, the scale); it is timed until the following frame has been drawn. Frame pacing is off
(maxfps 0) so that no sleep hides in the figure. The baseline, in the same run and the same
way, is a tap on a bare Kivy button that changes one label. Prints p50/p95 of both and the p95
ratio. Target (issue 3): p95 ≤ 100 ms on a 2-core machine with software OpenGL.

Then again under load (issue 26), the same taps and the same baseline, while on the same
machine a real hub runs (`python -m server serve` on a free port, the demo consultation
imported), a projector process follows it (`main.py projector --hub URL`, its own window), and
the kiosk is enrolled with that hub: its sync worker (the one main.py starts) pushes every
ballot to the hub while the resident taps. `--no-load` skips that part.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, percentile

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_LOG_LEVEL", "warning")
os.environ.setdefault("KIVY_CLIPBOARD", "dummy")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="24 taps (CI smoke)")
    parser.add_argument("--no-load", action="store_true",
                        help="only without load (no hub, no projector)")
    args = parser.parse_args()
    taps = 24 if args.quick else args.taps

    from main import choose_clipboard
    choose_clipboard()                  # as main.py does: no xclip/xsel looked for
    from kivy.config import Config
    Config.set("graphics", "width", "1280")
    Config.set("graphics", "height", "800")
    Config.set("graphics", "maxfps", "0")
    from kivy.base import EventLoop
    from kivy.core.window import Window
    from kivy.uix.button import Button

    import screens.widgets  # noqa: F401  (the shared kv rules before any screen, as the app does)

    EventLoop.ensure_window()

    def frame():
        EventLoop.idle()

    def tap(widget):
        start = time.perf_counter()
        widget.dispatch("on_press")
        widget.dispatch("on_release")
        frame()
        return time.perf_counter() - start

    def settle(root):
        for _ in range(300):
            frame()
            if not root.manager.transition.is_active:
                break

    def bare_taps():
        """Baseline: a bare button whose tap changes a label."""
        button = Button(text="0")
        button.bind(on_release=lambda b: setattr(b, "text", str(int(b.text) + 1)))
        Window.add_widget(button)
        for _ in range(5):
            frame()
        times = [tap(button) for _ in range(taps)]
        Window.remove_widget(button)
        return times

    def kiosk_taps(folder, hub=None):
        """The resident's taps on a kiosk whose store is in `folder`; with `hub`, the kiosk
        is enrolled there and its sync worker runs as on a real kiosk."""
        return run_kiosk(folder, hub, taps, tap, frame, settle)

    def show(name, values):
        print(f"{name}: p50 {percentile(values, 50) * 1e3:6.1f} ms   "
              f"p95 {percentile(values, 95) * 1e3:6.1f} ms   "
              f"max {max(values) * 1e3:6.1f} ms   ({len(values)} taps)")

    with tempfile.TemporaryDirectory(prefix="piazzetta-tap-") as tmp:
        tmp = Path(tmp)
        baseline = bare_taps()
        timings, ballots, answers = kiosk_taps(tmp / "quiet")
        print(f"without a hub or a projector (load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores):")
        show("  kiosk tap → next question drawn", timings)
        show("  bare Kivy button tap → redraw  ", baseline)
        print(f"  p95 ratio kiosk / bare: "
              f"{percentile(timings, 95) / percentile(baseline, 95):.1f}   "
              f"({ballots} ballots, {answers} answers on disk)   target: p95 ≤ 100 ms")
        if args.no_load:
            return
        from tests.integration.conftest import start_hub
        hub = start_hub(tmp / "hub")
        projector = None
        try:
            projector = subprocess.Popen(
                [sys.executable, "main.py", "projector", "--hub", hub.url, "--size",
                 "1280x800", "--data-dir", str(tmp / "projector")],
                cwd=ROOT, env=dict(os.environ, KIVY_HOME=str(tmp / "projector-kivy")),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(4)         # its window up and following the hub
            if projector.poll() is not None:
                raise SystemExit("the projector process did not start")
            loaded_baseline = bare_taps()
            loaded, ballots, answers = kiosk_taps(tmp / "loaded", hub)
            pushed = hub_answers(hub)
        finally:
            if projector is not None:
                projector.terminate()
                projector.wait(10)
            hub.stop()
        print("under load (a hub process, a projector window following it, the kiosk's "
              "sync worker pushing to the hub):")
        show("  kiosk tap → next question drawn", loaded)
        show("  bare Kivy button tap → redraw  ", loaded_baseline)
        print(f"  p95 ratio kiosk / bare: "
              f"{percentile(loaded, 95) / percentile(loaded_baseline, 95):.1f}   "
              f"({ballots} ballots, {answers} answers on disk, {pushed} ballots on the hub)   "
              f"target: p95 ≤ 100 ms")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def hub_answers(hub):
    """How many ballots the hub holds (the kiosk's worker pushed them)."""
    import requests
    from app.paths import DEMO_BUNDLE_DIR
    from app.bundle import load_bundle
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    answer = requests.get(f"{hub.url}/api/v1/consultations/{consultation.id}/results",
                          timeout=10)
    return answer.json().get("ballots", "?") if answer.status_code == 200 else "?"


def run_kiosk(folder, hub, taps, tap, frame, settle):
    from kivy.core.window import Window

    from app.bundle import load_bundle
    from app.kiosk import KioskSession, KioskSettings
    from app.paths import DEMO_BUNDLE_DIR
    from app.security import FacilitatorPin
    from app.store import Store
    from screens.kiosk import KioskRoot

    rnd = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    store = Store.open(folder)
    FacilitatorPin(store).set_pin("258014")
    sync = None
    if hub is not None:
        from sync.enroll import enroll
        from sync.service import SyncService
        enroll(store, hub.url, hub.code())
        sync = SyncService(folder, push_delay=0.3)     # as main.py starts it
        sync.start()
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    session = KioskSession(store, consultation, settings=KioskSettings(store))
    root = KioskRoot(session=session, pin=FacilitatorPin(store), sync=sync,
                     bundle_dir=str(DEMO_BUNDLE_DIR), default_lang="fr")
    Window.add_widget(root)
    settle(root)
    timings = []
    ballots = 0
    while len(timings) < taps:
        root.welcome.ids.start.dispatch("on_release")
        settle(root)
        ballots += 1
        question = root.question
        while session.question is not None and len(timings) < taps:
            kind = session.question.kind
            body = question.body
            if kind == "colour":
                timings.append(tap(body.ids[rnd.choice(("green", "orange", "red"))]))
            elif kind == "yes_no":
                timings.append(tap(body.ids[rnd.choice(("yes", "no", "abstain"))]))
            elif kind == "scale":
                value = rnd.randint(1, 5)
                timings.append(tap([c for c in body.ids.grid.children
                                    if c.value == value][0]))
            else:
                question.ids.skip.dispatch("on_release")
                frame()
        root.finish()
        settle(root)
    answers = store.figures(consultation.id)["answers"]
    if sync is not None:
        sync.push_soon()
        time.sleep(1.5)         # the last ballot's push, before the hub is asked
        sync.stop()
    root.dispose()
    Window.remove_widget(root)
    store.close()
    return timings, ballots, answers


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
