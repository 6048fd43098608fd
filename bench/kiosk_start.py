"""Cold start of the kiosk to its first drawn frame, against a bare Kivy app showing one label:
`sh tools/with-display.sh python bench/kiosk_start.py [--runs N] [--quick]`.

Both are started as fresh processes, in turn, and timed from spawn until they exit right after
their first drawn frame (`main.py kiosk --screenshot … --screenshot-delay 0`, and the same
screenshot-and-exit for the bare app), so both pay the same interpreter, Kivy and window costs
and the same screenshot. The kiosk's store already holds a PIN, so its first frame is the
welcome screen (cover image, title, themes, meetings). Prints the median of each and their
ratio. Target (issue 26): ratio ≤ 1.25 (issue 3: 1.5).
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT

BARE = r'''
import os, sys
os.environ["KIVY_NO_ARGS"] = "1"
from kivy.config import Config
Config.set("graphics", "width", "1280")
Config.set("graphics", "height", "800")
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.label import Label

class Bare(App):
    def build(self):
        def save(_dt):
            Window.screenshot(name=sys.argv[1])
            self.stop()
        Clock.schedule_once(lambda _dt: Clock.schedule_once(save, 0), 0)
        return Label(text="Piazzetta")

Bare().run()
'''


CPU = []     # (name, seconds of CPU, user + system) of each timed run


def timed(command, env, name=""):
    """Wall time from spawn to exit; the child's CPU time is kept in CPU (a figure that a
    machine shared with other work disturbs less: software OpenGL draws in the process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append((name, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))
    return wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="two runs each (CI smoke)")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="piazzetta-start-") as tmp:
        tmp = Path(tmp)
        sys.path.insert(0, str(ROOT))
        from app.security import FacilitatorPin
        from app.store import Store
        store = Store.open(tmp / "data")
        FacilitatorPin(store).set_pin("258014")
        store.close()
        env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_HOME=str(tmp / "kivy"),
                   KIVY_LOG_LEVEL="warning", PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
        # Both start from bytecode, as an installed app does (an APK ships .pyc; Kivy's own
        # modules have theirs in site-packages): with PYTHONDONTWRITEBYTECODE, as in CI, the
        # kiosk alone recompiled its ~90 modules at every start. The warm-up runs write it,
        # into this run's temporary folder (never into the source tree), and so the kiosk's
        # compiled kv rules (screens/kv_cache.py, kept beside the bytecode).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        bare_script = tmp / "bare.py"
        bare_script.write_text(BARE)
        kiosk = [sys.executable, "main.py", "kiosk", "--data-dir", str(tmp / "data"),
                 "--size", "1280x800", "--screenshot", str(tmp / "kiosk.png"),
                 "--screenshot-delay", "0"]
        bare = [sys.executable, str(bare_script), str(tmp / "bare.png")]
        timed(bare, env)                         # warm the file cache for both
        timed(kiosk, env)
        kiosk_times, bare_times = [], []
        for _ in range(runs):
            bare_times.append(timed(bare, env, "bare"))
            kiosk_times.append(timed(kiosk, env, "kiosk"))
    kiosk_s, bare_s = statistics.median(kiosk_times), statistics.median(bare_times)
    print(f"kiosk cold start to first frame: median {kiosk_s * 1e3:.0f} ms "
          f"(min {min(kiosk_times) * 1e3:.0f}, max {max(kiosk_times) * 1e3:.0f}, {runs} runs)")
    print(f"bare Kivy label app:             median {bare_s * 1e3:.0f} ms "
          f"(min {min(bare_times) * 1e3:.0f}, max {max(bare_times) * 1e3:.0f})")
    kiosk_cpu = statistics.median(t for n, t in CPU if n == "kiosk")
    bare_cpu = statistics.median(t for n, t in CPU if n == "bare")
    print(f"CPU time (user + system), median: kiosk {kiosk_cpu * 1e3:.0f} ms, "
          f"bare {bare_cpu * 1e3:.0f} ms, ratio {kiosk_cpu / bare_cpu:.2f}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"ratio kiosk / bare: {kiosk_s / bare_s:.2f}  (target ≤ 1.25)")


if __name__ == "__main__":
    main()
