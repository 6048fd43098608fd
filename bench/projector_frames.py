"""Frame time of the projector while results change:
`sh tools/with-display.sh python bench/projector_frames.py [--seconds S] [--quick]`.

On a real window (Xvfb with software OpenGL in CI) at 1920×1080, the projector shows the demo
consultation while a simulated room votes: every `--vote-every` seconds a ballot is added to
the domain's tallies and the new results are handed to the projector, whose bars animate
(0.4 s). Each view under load is measured in turn, then, in the same run, the same projector
on an idle screen (no new results) as the baseline. A frame is one turn of Kivy's event loop
(clock, input, drawing when something changed); Kivy caps it at 60 per second (maxfps).
Prints p50/p95 frame time, the frames per second reached and the frames actually redrawn, for
each view and for the baseline, and the p95 ratio. Target (issue 5): 60 fps held on a 2-core
machine with software OpenGL, or the figure it reaches.
"""
import argparse
import os
import random
import sys
import time
from pathlib import Path

from _common import percentile

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_LOG_LEVEL", "warning")

VIEWS = ("q-colour", "q-ticket", "q-cooperation", "q-services", "q-budget", "q-missing",
         "participation")
WORDS = ["transport", "médecins", "villages", "autobus", "medici", "soirée", "frontière",
         "marché", "internet", "crèche", "navette", "trasporti"]


def random_answer(rnd, question):
    kind = question.kind
    if kind == "colour":
        return {p: rnd.choice(("green", "orange", "red")) for p in question.projects}
    if kind == "yes_no":
        return rnd.choice(("yes", "no", "abstain"))
    if kind == "scale":
        return rnd.randint(1, 5)
    if kind == "choice":
        return rnd.sample(question.option_ids, 2 if question.multiple else 1)
    if kind == "ranking":
        return rnd.sample(question.option_ids, question.ranking_length)
    if kind == "budget":
        return {p: rnd.choice((0, 30000, 60000)) for p in question.projects[:4]}
    if kind == "place":
        return {"area": rnd.choice(question_map_areas(question))}
    return " ".join(rnd.sample(WORDS, 4))


def question_map_areas(question):
    from app.bundle import load_bundle
    from app.paths import DEMO_BUNDLE_DIR
    global _AREAS
    if _AREAS is None:
        _AREAS = list(load_bundle(DEMO_BUNDLE_DIR, check_images=False).map.area_ids)
    return _AREAS


_AREAS = None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0, help="per view, and for the baseline")
    parser.add_argument("--vote-every", type=float, default=0.2, help="seconds between ballots")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--quick", action="store_true", help="a few seconds in all (CI smoke)")
    parser.add_argument("--multisamples", type=int, default=0,
                        help="MSAA samples: 0, as the projector runs (Kivy's default, 2, "
                             "costs several times more per frame on software GL)")
    args = parser.parse_args()
    seconds = 0.8 if args.quick else args.seconds
    views = VIEWS[:2] if args.quick else VIEWS
    width, height = (int(v) for v in args.size.lower().split("x"))

    from kivy.config import Config
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "maxfps", "60")
    if args.multisamples is not None:
        Config.set("graphics", "multisamples", str(args.multisamples))

    from app.bundle import load_bundle
    from app.paths import DEMO_BUNDLE_DIR
    from app.tally import new_tally
    from screens.projector.app import build_projector
    from sync.results_source import ResultsPoll, ResultsSnapshot
    from kivy.base import EventLoop
    from kivy.core.window import Window

    consultation = load_bundle(DEMO_BUNDLE_DIR)
    rnd = random.Random(7)
    tallies = {q.id: new_tally(consultation, q) for q in consultation.questions}
    ballots = 0

    def vote() -> ResultsSnapshot:
        nonlocal ballots
        ballots += 1
        for question in consultation.questions:
            tallies[question.id].add(random_answer(rnd, question))
        return ResultsSnapshot(consultation.id, {k: t.result() for k, t in tallies.items()},
                               ballots=ballots, ideas_received=ballots // 5)

    for _ in range(40):
        vote()
    projector = build_projector(consultation, None, "fr", DEMO_BUNDLE_DIR, rotating=False)
    EventLoop.ensure_window()
    Window.add_widget(projector.root)
    projector.root.size = Window.size
    projector.receive(ResultsPoll(True, vote()))
    flips = [0]
    Window.bind(on_flip=lambda *_a: flips.__setitem__(0, flips[0] + 1))

    def run(duration: float, voting: bool, redraw: bool = False) -> dict:
        for _ in range(10):  # settle: layout, textures
            EventLoop.idle()
        times, next_vote = [], time.perf_counter()
        flips[0] = 0
        start = time.perf_counter()
        last = start
        while last - start < duration:
            if voting and last >= next_vote:
                projector.receive(ResultsPoll(True, vote()))
                next_vote = last + args.vote_every
            if redraw:
                Window.canvas.ask_update()
            EventLoop.idle()
            now = time.perf_counter()
            times.append(now - last)
            last = now
        elapsed = last - start
        return {"p50": percentile(times, 50) * 1e3, "p95": percentile(times, 95) * 1e3,
                "fps": len(times) / elapsed, "drawn": flips[0] / elapsed}

    rows = []
    for view in views:
        projector.apply_control({"view": view})
        rows.append((view + " (votes)", run(seconds, True)))
    projector.apply_control({"view": views[0]})
    baseline = run(seconds, False)
    rows.append((views[0] + " (idle baseline)", baseline))
    redraw = run(seconds, False, redraw=True)
    rows.append((views[0] + " (redrawn, no change)", redraw))
    Window.remove_widget(projector.root)
    empty = run(seconds, False, redraw=True)
    rows.append(("empty window (redrawn)", empty))

    print(f"projector_frames: {width}x{height}, a ballot every {args.vote_every} s, "
          f"{seconds:g} s per row, Kivy maxfps 60, GL: {Window.__class__.__name__}")
    print(f"  {'view':34} {'p50 ms':>8} {'p95 ms':>8} {'fps':>7} {'redrawn/s':>10}")
    for name, r in rows:
        print(f"  {name:34} {r['p50']:8.2f} {r['p95']:8.2f} {r['fps']:7.1f} {r['drawn']:10.1f}")
    loaded = [r for name, r in rows[:-3]]
    worst = max(r["p95"] for r in loaded)
    slowest = min(r["fps"] for r in loaded)
    print(f"  worst p95 under votes / idle p95: {worst / baseline['p95']:.2f}   "
          f"lowest fps under votes: {slowest:.1f} (target: 60 held); "
          f"a full redraw alone: {redraw['fps']:.1f} fps, of an empty window: "
          f"{empty['fps']:.1f} fps")
    projector.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
