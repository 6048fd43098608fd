"""Starts Piazzetta: `python main.py kiosk|facilitator|projector [--data-dir D] [--lang L]`."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.model import LANGUAGES
from app.paths import DEMO_BUNDLE_DIR

ROLES = ("kiosk", "facilitator", "projector")


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "piazzetta"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="piazzetta", description=__doc__)
    parser.add_argument("role", choices=ROLES, help="what this device is used for")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the local store lives (default: %(default)s → "
                             "~/.local/share/piazzetta)")
    parser.add_argument("--lang", choices=LANGUAGES, default="fr",
                        help="the interface language at start")
    parser.add_argument("--bundle", type=Path, default=DEMO_BUNDLE_DIR,
                        help="the consultation bundle to show (default: the demo)")
    parser.add_argument("--size", default=None, metavar="WxH",
                        help="window size, e.g. 1280x800 (default: full screen on a kiosk)")
    parser.add_argument("--screenshot", type=Path, default=None, metavar="PNG",
                        help="draw the first screen, save it to PNG and exit")
    parser.add_argument("--screenshot-delay", type=float, default=1.5, metavar="S",
                        help="seconds before the screenshot (0: right after the first frame "
                             "is drawn, as the start-up benchmark uses)")
    return parser.parse_args(argv)


def configure_kivy(args: argparse.Namespace, data_dir: Path) -> None:
    """Settings Kivy reads at import time: no argument parsing, its config under data_dir."""
    os.environ["KIVY_NO_ARGS"] = "1"
    os.environ.setdefault("KIVY_HOME", str(data_dir / "kivy"))
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    from kivy.config import Config
    if args.size:
        width, height = args.size.lower().split("x")
        Config.set("graphics", "width", width)
        Config.set("graphics", "height", height)
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")


def make_sync_service(data_dir: Path, store):
    """The sync worker when this build has one (sync/service.py), else None: the kiosk works
    the same without it (invariant 4), and its facilitator screen says so."""
    try:
        from sync.service import SyncService
    except ImportError:
        return None
    try:
        service = SyncService(data_dir)
        if service.status().enrolled:
            service.start()
        return service
    except Exception as exc:  # a broken worker must never stop the kiosk
        print(f"piazzetta: sync disabled: {exc}", file=sys.stderr)
        return None


def projector_factory(role: str):
    """Hook for the projector role: return a callable `factory(app) -> root widget` (the
    projector's screens live in screens/projector/, wired by their own helper). None shows a
    placeholder. PIAZZETTA_HUB_URL makes it read results from a hub instead of this
    device's store."""
    if role != "projector":
        return None
    try:
        from screens.projector.app import projector_factory as factory
    except ImportError:
        return None
    return factory(os.environ.get("PIAZZETTA_HUB_URL") or None)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = (args.data_dir or default_data_dir()).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)

    from app.bundle import load_bundle
    from app.errors import BundleError
    from app.store import Store
    try:
        consultation = load_bundle(args.bundle)
    except BundleError as exc:
        print(f"piazzetta: {exc.describe()}", file=sys.stderr)
        return 2
    store = Store.open(data_dir)

    configure_kivy(args, data_dir)
    from screens.app import PiazzettaApp
    sync_factory = (lambda: make_sync_service(data_dir, store)) \
        if args.role in ("kiosk", "facilitator") else None
    application = PiazzettaApp(role=args.role, consultation=consultation, store=store,
                               bundle_dir=args.bundle.resolve()
                               if args.bundle.is_dir() else args.bundle.parent,
                               lang=args.lang, sync_factory=sync_factory,
                               projector_factory=projector_factory(args.role))
    if args.screenshot:
        from kivy.clock import Clock

        def save(_dt):
            from kivy.core.window import Window
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            Window.screenshot(name=str(args.screenshot))
            application.stop()
        if args.screenshot_delay > 0:
            Clock.schedule_once(save, args.screenshot_delay)
        else:  # the frame after the first one: the first is drawn by then
            Clock.schedule_once(lambda _dt: Clock.schedule_once(save, 0), 0)
    application.run()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
