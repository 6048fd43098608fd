"""Frame time of the kiosk's map (issue 16) while a resident pans and zooms, and the time from
a tap to the pin drawn: `sh tools/with-display.sh python bench/map_frames.py [--quick]`.

On a real window (Xvfb with software OpenGL in CI) at 1280×800, the kiosk shows the demo's
place question. Measured in the same run: the idle screen (the baseline: nothing changes),
the idle screen redrawn every frame, panning (the map moved every frame, as a drag does),
zooming (the zoom changed by a small step every frame between the map's limits, crossing
tile levels, the tile cache emptied first), then taps: a tap on the map, the pin validated
and drawn, until the frame that shows it is flipped. Prints p50/p95 frame time and fps per
row, the ratio of panning and zooming p95 to the idle p95 and to the idle screen redrawn every
frame (what any movement costs before the map adds its part), and the tap → pin p95 against
the kiosk's 100 ms — and against the map drawn as before (outlines with round joints through
every vertex, a pin change redrawing the whole map), interleaved in the same run, with the
map's layer alone drawn into an Fbo both ways. The machine's load average is printed too.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentile  # noqa: E402

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_LOG_LEVEL", "warning")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="piazzetta-bench-"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0, help="per row")
    parser.add_argument("--taps", type=int, default=100)
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--quick", action="store_true", help="a few seconds in all (CI smoke)")
    args = parser.parse_args()
    seconds = 0.8 if args.quick else args.seconds
    taps = 15 if args.quick else args.taps
    width, height = (int(v) for v in args.size.lower().split("x"))

    from kivy.config import Config
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "maxfps", "60")
    Config.set("graphics", "multisamples", "0")

    import screens.kiosk  # noqa: F401  (every kv rule before any widget)
    import screens.widgets.map_view as map_view
    from app.bundle import load_bundle
    from app.kiosk import KioskSession, KioskSettings
    from app.paths import DEMO_BUNDLE_DIR
    from app.security import FacilitatorPin
    from app.store import Store
    from kivy.base import EventLoop
    from kivy.core.window import Window
    from screens.i18n import tr
    from screens.kiosk import KioskRoot

    consultation = load_bundle(DEMO_BUNDLE_DIR)
    store = Store.open(Path(tempfile.mkdtemp(prefix="piazzetta-bench-store-")))
    FacilitatorPin(store).set_pin("258014")   # a kiosk always has one; else it opens on set-up
    session = KioskSession(store, consultation, settings=KioskSettings(store))
    tr.lang = "fr"
    EventLoop.ensure_window()
    root = KioskRoot(session=session, pin=FacilitatorPin(store), sync=None, bundle_dir=str(DEMO_BUNDLE_DIR),
                     role="kiosk", default_lang="fr")
    Window.add_widget(root)
    for _ in range(6):
        EventLoop.idle()
    root.welcome.ids.start.dispatch("on_release")
    for _ in range(60):
        EventLoop.idle()
    session.index = [q.id for q in consultation.questions].index("q-place")
    root.question.show()
    for _ in range(20):
        EventLoop.idle()
    body = root.question.body
    mapview = body.ids.map
    flips = [0]
    Window.bind(on_flip=lambda *_a: flips.__setitem__(0, flips[0] + 1))

    def run(duration: float, move=None, redraw: bool = False) -> dict:
        for _ in range(10):
            EventLoop.idle()
        times, frame = [], 0
        flips[0] = 0
        start = last = time.perf_counter()
        root.poke()
        while last - start < duration:
            if move is not None:
                root.poke()            # a finger on the map: the kiosk is not idle
                move(frame)
            if redraw:
                Window.canvas.ask_update()
            EventLoop.idle()
            frame += 1
            now = time.perf_counter()
            times.append(now - last)
            last = now
        elapsed = last - start
        return {"p50": percentile(times, 50) * 1e3, "p95": percentile(times, 95) * 1e3,
                "fps": len(times) / elapsed, "drawn": flips[0] / elapsed}

    def pan(frame):
        # A finger sweeping back and forth: 40 frames one way, 40 back.
        direction = 1 if (frame // 40) % 2 == 0 else -1
        mapview.pan_by(6 * direction, 3 * direction)

    zoom_dir = [1]

    def zoom(frame):
        if mapview.zoom >= mapview.max_zoom - 1e-6:
            zoom_dir[0] = -1
        elif mapview.zoom <= mapview.min_zoom + 1e-6:
            zoom_dir[0] = 1
        mapview.zoom_by(0.05 * zoom_dir[0])

    rows = [("idle (baseline)", run(seconds))]
    baseline = rows[0][1]
    rows.append(("idle, redrawn every frame", run(seconds, redraw=True)))
    mapview.set_view(*consultation.map.center, consultation.map.zoom)
    rows.append(("panning", run(seconds, pan)))
    map_view._textures.clear()
    rows.append(("zooming (tiles decoded)", run(seconds, zoom)))
    rows.append(("zooming (tiles cached)", run(seconds, zoom)))

    mapview.fit_perimeter()
    for _ in range(10):
        EventLoop.idle()
    inside = consultation.map.area_of
    spots = []
    for i in range(2, 30):
        for j in range(3, 30):
            x = mapview.x + mapview.width * i / 32
            y = mapview.y + mapview.height * j / 32
            if inside(*mapview.to_lonlat(x, y)):
                spots.append((x, y))
    # The outlines as they were drawn before (round joints, every vertex; a pin change
    # redrawing the whole map): the same taps, interleaved in blocks of ten, for a ratio
    # measured under the same load.
    def drawn_as_before(on: bool) -> None:
        map_view.OUTLINE_JOINT = "round" if on else joint_now
        map_view.OUTLINE_TOLERANCE_PX = 0 if on else tolerance_now
        mapview._outline_levels = {}
        (mapview.fbind if on else mapview.funbind)("pin", mapview._trigger)
        mapview.redraw()
        for _ in range(3):
            EventLoop.idle()

    joint_now, tolerance_now = map_view.OUTLINE_JOINT, map_view.OUTLINE_TOLERANCE_PX
    tap_times = {False: [], True: []}
    for n in range(taps):
        before = (n // 10) % 2 == 1
        if n % 10 == 0:
            drawn_as_before(before)
        x, y = spots[(n * 7) % len(spots)]
        root.poke()                    # a resident's tap (on_touch_down): not idle
        seen = flips[0]
        t0 = time.perf_counter()
        mapview.tap_at(x, y)
        while flips[0] == seen:
            EventLoop.idle()
            if time.perf_counter() - t0 > 60:
                raise RuntimeError(f"no frame drawn a minute after the tap at {x:.0f}, {y:.0f}"
                                   f" (screen {root.current!r})")
        tap_times[before].append(time.perf_counter() - t0)
        body.pin = []
        EventLoop.idle()
    drawn_as_before(False)

    # The map's own drawing, alone: its layer drawn into an Fbo and finished (glFinish), so
    # that the rest of the window and the machine's other load weigh less on the figure.
    from kivy.graphics import Canvas, ClearBuffers, ClearColor, Fbo
    from kivy.graphics.opengl import glFinish
    fbo = Fbo(size=Window.size)
    layer_times = {}
    for before in (False, True, False, True):
        drawn_as_before(before)
        real_layer, mapview._layer = mapview._layer, Canvas()
        fbo.clear()
        with fbo:
            ClearColor(0, 0, 0, 1)
            ClearBuffers()
        fbo.add(mapview._layer)
        mapview.redraw()
        vertices = sum(len(r) // 2 for r in mapview.outline_rings(int(mapview.zoom)))
        for _ in range(taps // 2):
            fbo.ask_update()
            t0 = time.perf_counter()
            fbo.draw()
            glFinish()
            layer_times.setdefault(before, []).append(time.perf_counter() - t0)
        layer_times[(before, "vertices")] = vertices
        mapview._layer = real_layer
    drawn_as_before(False)

    print(f"map_frames: {width}x{height}, {seconds:g} s per row, Kivy maxfps 60, "
          f"GL: {Window.__class__.__name__}, tile cache {map_view.TILE_CACHE_SIZE}")
    print(f"  {'row':30} {'p50 ms':>8} {'p95 ms':>8} {'fps':>7} {'redrawn/s':>10}")
    for name, r in rows:
        print(f"  {name:30} {r['p50']:8.2f} {r['p95']:8.2f} {r['fps']:7.1f} {r['drawn']:10.1f}")
    moving = {name: r for name, r in rows[2:]}
    print("  p95 / idle p95: " + ", ".join(
        f"{name} {r['p95'] / baseline['p95']:.2f}" for name, r in moving.items()))
    # The idle screen draws nothing; a screen redrawn every frame is what any movement costs
    # before the map adds its part.
    redrawn = rows[1][1]
    print("  p95 / redrawn-idle p95: " + ", ".join(
        f"{name} {r['p95'] / redrawn['p95']:.2f}" for name, r in moving.items()))
    now, before = tap_times[False], tap_times[True]
    print(f"  tap → pin drawn ({len(now)} taps): p50 {percentile(now, 50) * 1e3:.1f} ms, "
          f"p95 {percentile(now, 95) * 1e3:.1f} ms (target: 100 ms p95); drawn as before "
          f"({len(before)} taps, interleaved): p50 {percentile(before, 50) * 1e3:.1f} ms, "
          f"p95 {percentile(before, 95) * 1e3:.1f} ms; p95 ratio now / before "
          f"{percentile(now, 95) / percentile(before, 95):.2f}")
    print(f"  the map layer alone, drawn and finished: now p50 "
          f"{percentile(layer_times[False], 50) * 1e3:.1f} ms "
          f"({layer_times[(False, 'vertices')]} outline vertices, {joint_now} joints); before "
          f"p50 {percentile(layer_times[True], 50) * 1e3:.1f} ms "
          f"({layer_times[(True, 'vertices')]} vertices, round joints)")
    load = os.getloadavg()
    print(f"  machine load average (1, 5, 15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} cores")
    Window.remove_widget(root)
    store.close()


if __name__ == "__main__":
    main()
