"""Starts Piazzetta: `python main.py kiosk|facilitator|projector [--data-dir D] [--lang L]`."""
from __future__ import annotations

import gc

_GC_HELD = __name__ == "__main__"
if _GC_HELD:
    # No cyclic collection before the first frame: the start allocates some 60,000 objects
    # that live as long as the app (modules, classes, kv rules, the welcome's widgets), and
    # the collector walked them over and over (about 110 young, 10 middle collections before
    # the first frame). main() turns it back on once that frame is drawn.
    gc.disable()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from app.model import LANGUAGES  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402

ROLES = ("kiosk", "facilitator", "projector")
DEMO_PIN = "246810"


def default_data_dir() -> Path:
    if os.environ.get("ANDROID_PRIVATE"):      # the app's private folder on Android
        return Path(os.environ["ANDROID_PRIVATE"]) / "piazzetta"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "piazzetta"


def choose_bundle(data_dir: Path, chosen_id: str | None = None) -> Path:
    """The bundle of the consultation the facilitator chose (`chosen_id`), else the one most
    recently pulled from the hub (sync saves them under <data_dir>/bundles/<id>/), else the
    demo."""
    return _chosen(data_dir, chosen_id)[0]


def _chosen(data_dir: Path, chosen_id: str | None = None):
    """choose_bundle's folder and the consultation already loaded from it (as main loads a
    chosen bundle: without decoding its images), or None: loaded once at start, not twice."""
    from app.bundle import installed_bundles
    installed = installed_bundles(data_dir)
    for consultation, folder in installed:
        if consultation.id == chosen_id:
            return folder, consultation
    return (installed[0][1], installed[0][0]) if installed else (DEMO_BUNDLE_DIR, None)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="piazzetta", description=__doc__)
    # Optional so that Android, which starts main.py with no arguments, gets the kiosk.
    parser.add_argument("role", nargs="?", default="kiosk", choices=ROLES,
                        help="what this device is used for (default: %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the local store lives (default: %(default)s → "
                             "~/.local/share/piazzetta)")
    parser.add_argument("--lang", choices=LANGUAGES, default="fr",
                        help="the interface language at start")
    parser.add_argument("--bundle", type=Path, default=None,
                        help="the consultation bundle to show (default: the newest one pulled "
                             "from the hub into the data folder, else the demo)")
    parser.add_argument("--size", default=None, metavar="WxH",
                        help="window size, e.g. 1280x800 (default: full screen on a kiosk)")
    parser.add_argument("--hub", default=os.environ.get("PIAZZETTA_HUB_URL"), metavar="URL",
                        help="projector: read results and controls from this hub (default: "
                             "$PIAZZETTA_HUB_URL, else this device's own store)")
    parser.add_argument("--rehearsal", action="store_true",
                        help="projector: show the tablets' rehearsal (marked on screen, "
                             "never the real results) until the session opens")
    parser.add_argument("--demo", action="store_true",
                        help="demo set-up: a 1280x800 window unless --size says otherwise, and "
                             f"the facilitator PIN {DEMO_PIN} when none is chosen yet")
    parser.add_argument("--screenshot", type=Path, default=None, metavar="PNG",
                        help="draw the first screen, save it to PNG and exit")
    parser.add_argument("--screenshot-delay", type=float, default=1.5, metavar="S",
                        help="seconds before the screenshot (0: right after the first frame "
                             "is drawn, as the start-up benchmark uses)")
    return parser.parse_args(argv)


class _NoCutBufferNotice:
    """Drops Kivy's one critical line about the cut buffer no provider was asked for."""

    @staticmethod
    def filter(record) -> bool:
        return not str(record.msg).startswith("Cutbuffer: Unable to find")


def choose_clipboard() -> None:
    """The clipboard text fields copy and paste through: SDL2's, which the window already has
    (Android: the system's). Left to Kivy, the first text field spawned `xclip` and `xsel`
    and logged a traceback when they are missing. Call before Kivy's window is created."""
    os.environ.setdefault("KIVY_CLIPBOARD",
                          "android" if os.environ.get("ANDROID_PRIVATE") else "sdl2")
    import kivy
    from kivy.logger import Logger
    # X's middle-click selection ("cut buffer") is only offered through xclip/xsel: a kiosk
    # has no middle button, so none is looked for (nor its absence logged as critical).
    kivy.kivy_options["cutbuffer"] = ()
    if not any(isinstance(f, _NoCutBufferNotice) for f in Logger.filters):
        Logger.addFilter(_NoCutBufferNotice())


def configure_kivy(args: argparse.Namespace, data_dir: Path) -> None:
    """Settings Kivy reads at import time: no argument parsing, its config under data_dir;
    Kivy's own kv rules read from their cache (screens/kv_cache.py) like ours."""
    from screens.kv_cache import cache_kivy_style
    cache_kivy_style()
    os.environ["KIVY_NO_ARGS"] = "1"
    os.environ.setdefault("KIVY_HOME", str(data_dir / "kivy"))
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    choose_clipboard()
    from kivy.config import Config
    if args.demo and not args.size:
        args.size = "1280x800"
    if args.size:
        width, height = args.size.lower().split("x")
        Config.set("graphics", "width", width)
        Config.set("graphics", "height", height)
    elif args.role in ("kiosk", "projector"):
        Config.set("graphics", "fullscreen", "auto")
    if args.role == "projector":
        # Multisampling halves the frame rate under software OpenGL (bench/projector_frames.py).
        Config.set("graphics", "multisamples", "0")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")


def make_sync_service(data_dir: Path, store, on_content=None, public_hub=None,
                      consultation_id=None, public_interval: float = 10.0):
    """The sync worker when this build has one (sync/service.py), else None: the kiosk works
    the same without it (invariant 4), and its facilitator screen says so. `on_content(ids)`:
    new bundle versions installed (the app's `content_arrived`, called in the worker's
    thread). `public_hub`: a projector's --hub; not enrolled with it, the projector still gets
    new versions of `consultation_id` through the hub's public routes."""
    try:
        from sync.service import SyncService
    except ImportError:
        return None
    try:
        # The store announces every event and the worker pushes within 0.25 s of the first
        # one not yet sent (batched: few requests); no screen asks for it.
        service = SyncService(data_dir, on_content=on_content)
        if service.status().enrolled:
            service.start()
        elif public_hub and consultation_id:
            service.follow_public(public_hub, consultation_id, public_interval)
        return service
    except Exception as exc:  # a broken worker must never stop the kiosk
        print(f"piazzetta: sync disabled: {exc}", file=sys.stderr)
        return None


def projector_factory(role: str, hub_url: str | None = None, rehearsal: bool = False):
    """Hook for the projector role: return a callable `factory(app) -> root widget` (the
    projector's screens live in screens/projector/, wired by their own helper). None shows a
    placeholder. PIAZZETTA_HUB_URL makes it read results from a hub instead of this
    device's store. `rehearsal`: the rehearsal's tally only, marked on screen."""
    if role != "projector":
        return None
    try:
        from screens.projector.app import projector_factory as factory
        from sync.display import projector_results
    except ImportError:
        return None
    # The screens never import sync: they are handed what they read.
    return factory(lambda app: projector_results(app.consultation, hub_url=hub_url or None,
                                                 store_path=app.store.path,
                                                 rehearsal=rehearsal),
                   phone_base=hub_url or None, rehearsal=rehearsal)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = (args.data_dir or default_data_dir()).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)

    from app.bundle import load_bundle
    from app.errors import BundleError
    from app.kiosk import KioskSettings
    from app.store import Store
    store = Store.open(data_dir)
    # A bundle chosen here was checked whole when it was installed (the demo by the tests,
    # a pulled one by sync before it replaced the old one): its images are not decoded again
    # at every start. A bundle named on the command line is checked in full.
    verified = args.bundle is None
    consultation = None
    if args.bundle is None:
        args.bundle, consultation = _chosen(data_dir, KioskSettings(store).consultation_id)
    try:
        if consultation is None:
            consultation = load_bundle(args.bundle, check_images=not verified)
    except BundleError as exc:
        if args.bundle == DEMO_BUNDLE_DIR or not str(args.bundle).startswith(str(data_dir)):
            print(f"piazzetta: {exc.describe()}", file=sys.stderr)
            store.close()
            return 2
        # A pulled bundle that does not load must not stop the kiosk: fall back to the demo.
        print(f"piazzetta: {exc.describe()}; showing the demo consultation", file=sys.stderr)
        args.bundle = DEMO_BUNDLE_DIR
        consultation = load_bundle(args.bundle)
    if args.demo:
        from app.security import FacilitatorPin
        pin = FacilitatorPin(store)
        if not pin.is_set:
            pin.set_pin(DEMO_PIN, DEMO_PIN)
            print(f"piazzetta: demo set-up: the facilitator PIN is {DEMO_PIN} "
                  "(hold the top-left corner for two seconds, or press Ctrl+Shift+F)")

    configure_kivy(args, data_dir)
    from screens.app import PiazzettaApp
    # A projector enrolled with a hub runs sync too: new versions of its consultation reach
    # it at once (the app's content_arrived; a kiosk waits for the end of a resident).
    sync_factory = lambda: make_sync_service(   # noqa: E731
        data_dir, store, on_content=lambda ids: application.content_arrived(ids),
        public_hub=args.hub if args.role == "projector" else None,
        consultation_id=application.consultation.id)
    application = PiazzettaApp(role=args.role, consultation=consultation, store=store,
                               bundle_dir=args.bundle.resolve()
                               if args.bundle.is_dir() else args.bundle.parent,
                               lang=args.lang, sync_factory=sync_factory,
                               projector_factory=projector_factory(args.role, args.hub,
                                                                   args.rehearsal))
    from kivy.clock import Clock
    if args.screenshot:
        def save(_dt):
            from kivy.core.window import Window
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            if args.screenshot_delay <= 0:
                # The start-up benchmark's figure: when the first frame was on screen (the
                # wall clock, and this process's CPU time so far), beside the screenshot.
                Path(f"{args.screenshot}.frame").write_text(
                    f"{time.time()!r} {time.process_time()!r}\n")
            Window.screenshot(name=str(args.screenshot))
            application.stop()
        if args.screenshot_delay > 0:
            Clock.schedule_once(save, args.screenshot_delay)
        else:  # the frame after the first one: the first is drawn by then
            Clock.schedule_once(lambda _dt: Clock.schedule_once(save, 0), 0)
    if _GC_HELD:
        # The collector back on (turned off as main.py started) in the tick after the first
        # frame, before anything a resident does (after the screenshot's moment is noted:
        # its first collection walks everything the start made, once the frame is drawn).
        Clock.schedule_once(lambda _dt: Clock.schedule_once(lambda _dt: gc.enable(), 0), 0)
    application.run()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
