"""Read aloud (issue 31): the time from a tap to the first sound, and the kiosk's cold start
with read aloud on against the same start with it off, in one run:
`sh tools/with-display.sh python bench/read_aloud.py [--taps N] [--runs N] [--quick]`.

1. Tap to first sound, on a real window: a kiosk with read aloud on shows the demo's choice
   question; each round taps Read aloud (the question, then its options) or, in audio-first
   mode, an option; the time runs from the tap to the moment the first sound starts playing
   (the Speaker's on_sound: espeak-ng has written the WAV and Kivy's player started it).
   Baseline, measured in the same run: espeak-ng alone writing the same first sentence to a
   WAV file (what a tap cannot go below). Target: p95 ≤ 300 ms.
2. Cold start to the first drawn frame (`main.py kiosk --screenshot … --screenshot-delay 0`,
   as bench/kiosk_start.py does), the tablet's read aloud off, then on (the store's
   kiosk.read_aloud setting), alternated; the ratio says what read aloud costs at start.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, percentile

os.environ.setdefault("SDL_AUDIODRIVER", "dummy")     # a machine without a sound card
os.environ.setdefault("KIVY_LOG_LEVEL", "warning")


def espeak_alone(text, lang, rounds, folder):
    from app import speech
    times = []
    for n in range(rounds):
        start = time.perf_counter()
        speech.synthesize(text, lang, Path(folder) / f"bare-{n}.wav")
        times.append(time.perf_counter() - start)
    return times


def taps_to_sound(rounds, folder):
    """(read-aloud button times, audio-first times, first sentence) in seconds."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_LEVEL", "warning")
    from kivy.config import Config
    Config.set("graphics", "width", "1280")
    Config.set("graphics", "height", "800")
    from kivy.base import EventLoop
    from kivy.core.window import Window
    import screens.kiosk as kiosk_module
    from app.bundle import load_bundle
    from app.kiosk import KioskSession, KioskSettings
    from app.paths import DEMO_BUNDLE_DIR
    from app.security import FacilitatorPin
    from app.store import Store
    from screens.i18n import tr
    kiosk_module.FADE_SECONDS = 0
    EventLoop.ensure_window()
    store = Store.open(Path(folder) / "store")
    settings = KioskSettings(store)
    settings.read_aloud = "on_demand"
    FacilitatorPin(store).set_pin("258014")
    session = KioskSession(store, load_bundle(DEMO_BUNDLE_DIR), settings=settings)
    tr.lang = "fr"
    root = kiosk_module.KioskRoot(session=session, pin=FacilitatorPin(store),
                                  bundle_dir=str(DEMO_BUNDLE_DIR), default_lang="fr")
    root.tap_guard.clock = lambda: time.monotonic() + 3600      # taps are never "too soon"
    Window.add_widget(root)

    def frames(n=3):
        for _ in range(n):
            EventLoop.idle()

    frames(6)
    root.start_ballot()
    while session.question.kind != "choice":
        root.question.skip()
    frames(6)
    speaker = root.speaker
    heard = []
    speaker.bind(on_sound=lambda _s, _kind, _u, when: heard.append(when))

    def timed(tap):
        speaker.stop()
        heard.clear()
        start = time.perf_counter()
        tap()
        while not heard and time.perf_counter() - start < 10:
            EventLoop.idle()
        return (heard[0] if heard else time.perf_counter()) - start

    button = root.question.ids.read_aloud
    on_demand = [timed(lambda: (button.dispatch("on_press"), button.dispatch("on_release")))
                 for _ in range(rounds)]
    first = root.question.spoken_page()[0].text
    answers = root.question.answer_buttons()
    audio_first = [timed(lambda n=n: root.read_aloud(
        [root.question.spoken_answer(answers[n % len(answers)])])) for n in range(rounds)]
    speaker.stop()
    root.dispose()
    Window.remove_widget(root)
    store.close()
    return on_demand, audio_first, first


def cold_starts(runs, folder):
    from app.security import FacilitatorPin
    from app.store import Store
    folder = Path(folder)
    commands = {}
    for mode in ("off", "on_demand"):
        store = Store.open(folder / f"data-{mode}")
        FacilitatorPin(store).set_pin("258014")
        store.set_setting("kiosk.read_aloud", mode)
        store.close()
        commands[mode] = [sys.executable, "main.py", "kiosk", "--data-dir",
                          str(folder / f"data-{mode}"), "--size", "1280x800", "--screenshot",
                          str(folder / f"{mode}.png"), "--screenshot-delay", "0"]
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_HOME=str(folder / "kivy"),
               KIVY_LOG_LEVEL="warning", PYTHONPYCACHEPREFIX=str(folder / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def timed(command):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    for command in commands.values():      # warm the file cache and the bytecode
        timed(command)
    times = {mode: [] for mode in commands}
    for _ in range(runs):
        for mode, command in commands.items():
            times[mode].append(timed(command))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--taps", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a few rounds each (CI smoke)")
    args = parser.parse_args()
    taps, runs = (5, 2) if args.quick else (args.taps, args.runs)
    from app import speech
    if speech.espeak() is None:
        print("espeak-ng is not installed (tools/install-system-packages.sh): nothing measured")
        return
    with tempfile.TemporaryDirectory(prefix="piazzetta-read-aloud-") as tmp:
        on_demand, audio_first, first = taps_to_sound(taps, tmp)
        bare = espeak_alone(first, "fr", taps, tmp)
        starts = cold_starts(runs, tmp)

    def line(name, values):
        return (f"{name}: p50 {percentile(values, 50) * 1e3:.0f} ms, "
                f"p95 {percentile(values, 95) * 1e3:.0f} ms ({len(values)} taps)")

    print(line("tap Read aloud → first sound      ", on_demand))
    print(line("audio-first touch → first sound   ", audio_first))
    print(line("espeak-ng alone, the same sentence", bare))
    print(f"ratio tap → sound / espeak-ng alone (p95): "
          f"{percentile(on_demand, 95) / percentile(bare, 95):.2f}  "
          f"(target: tap → sound p95 ≤ 300 ms)")
    off, on = statistics.median(starts["off"]), statistics.median(starts["on_demand"])
    print(f"kiosk cold start to first frame: read aloud off median {off * 1e3:.0f} ms, "
          f"on {on * 1e3:.0f} ms ({runs} runs each), ratio on / off {on / off:.2f}")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
