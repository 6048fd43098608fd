"""See a consultation as residents will, before it reaches a tablet: walks every kiosk screen of a
bundle (welcome, each question in order, thanks, the idea form, the sign-up form, "Follow my
idea") in each of its languages, on a real window, and writes a screenshot of each: every
project of a colour question (one shot each), and a list longer than the screen (a budget's
rows, a long choice) scrolled down shot by shot to its end.

    python tools/preview.py BUNDLE_FOLDER [--out build/preview] [--size 1280x800] [--lang fr,it]
    make preview BUNDLE=build/my-consultation

Nothing is kept of the walk: answers go to a throw-away store. A bundle that does not load is
refused with the loader's message (file and field), and nothing is written.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _step(frames: int = 4) -> None:
    from kivy.base import EventLoop
    for _ in range(frames):
        EventLoop.idle()


def _shot(path: Path) -> Path:
    from kivy.core.window import Window
    _step(6)
    path.parent.mkdir(parents=True, exist_ok=True)
    Window.screenshot(name=str(path))
    # Window.screenshot numbers its files (name0001.png): keep the stable name.
    numbered = sorted(path.parent.glob(path.stem + "*.png"), key=lambda p: p.stat().st_mtime)
    if numbered and numbered[-1] != path:
        numbered[-1].replace(path)
    return path


def walk(bundle_folder: Path, out: Path, langs: list[str] | None = None,
         size: tuple[int, int] = (1280, 800)) -> list[Path]:
    """Screenshots of every kiosk screen of the bundle in each language, under out/<lang>/.
    Needs a window (the caller's, or the one Kivy opens); returns the files written."""
    from kivy.core.window import Window

    from app.bundle import load_bundle
    from app.kiosk import KioskSession, KioskSettings
    from app.security import FacilitatorPin
    from app.store import Store
    from screens.i18n import tr
    from screens.kiosk import KioskRoot

    consultation = load_bundle(bundle_folder)
    langs = [lang for lang in (langs or consultation.languages) if lang in consultation.languages]
    Window.size = size
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="piazzetta-preview-") as scratch:
        for lang in langs:
            store = Store.open(Path(scratch) / lang)
            # A PIN is set, so that the kiosk opens on its welcome screen, not on choosing one.
            import secrets
            FacilitatorPin(store).set_pin("".join(secrets.choice("0123456789") for _ in range(8)))
            session = KioskSession(store, consultation, settings=KioskSettings(store))
            tr.lang = lang
            root = KioskRoot(session=session, pin=FacilitatorPin(store), sync=None,
                             bundle_dir=str(bundle_folder), role="kiosk", default_lang=lang)
            Window.add_widget(root)
            try:
                folder = out / lang
                written.append(_shot(folder / "01-welcome.png"))
                root.start_ballot()
                number = 2
                while session.started and session.question is not None:
                    question = session.question
                    stem = folder / f"{number:02d}-{question.kind}-{question.id}"
                    written.append(_shot(stem.with_name(stem.name + ".png")))
                    written += _more_of(root.question.body, stem)
                    number += 1
                    session.next()
                    root.after_question()
                written.append(_shot(folder / f"{number:02d}-thanks.png"))
                root.open_idea()
                written.append(_shot(folder / f"{number + 1:02d}-idea.png"))
                root.open_signup()
                written.append(_shot(folder / f"{number + 2:02d}-signup.png"))
                root.open_follow()
                written.append(_shot(folder / f"{number + 3:02d}-follow.png"))
            finally:
                root.dispose()
                Window.remove_widget(root)
                store.close()
    return written


def built_from_sheet(sheet: Path) -> Path | None:
    """A spreadsheet previewed: built into a temporary bundle folder by `bundle build`'s own
    code, its warnings printed (the preview goes on), its problems printed (nothing to
    preview: None)."""
    from server.sheets import SheetError, write_bundle_folder
    out = Path(tempfile.mkdtemp(prefix="piazzetta-preview-bundle-")) / "bundle"
    warned: list = []
    try:
        write_bundle_folder(sheet, out, None, warned)
    except SheetError as exc:
        for problem in exc.warnings:
            print("Warning: " + problem.describe(), file=sys.stderr)
        print(exc.describe(), file=sys.stderr)
        return None
    for problem in warned:
        print("Warning: " + problem.describe(), file=sys.stderr)
    return out


MAX_SCROLLED_SHOTS = 40         # per list: a 500-row budget still ends


def _more_of(body, stem: Path) -> list[Path]:
    """The rest of a question beyond its first shot: each further project of a colour
    question, then each screenful of a list longer than the screen, scrolled to its end
    (`stem`-2.png, -3.png…)."""
    from screens.widgets import CueScroll
    written, n = [], 2
    projects = getattr(body, "projects", None)
    if projects is not None and hasattr(body, "project_index"):
        for index in range(1, len(projects)):
            body.project_index = index
            written.append(_shot(stem.with_name(f"{stem.name}-{n}.png")))
            n += 1
        if projects:
            body.project_index = 0
    for scroll in [w for w in body.walk(restrict=True) if isinstance(w, CueScroll)]:
        _step(2)
        hidden = scroll.overflow()
        if hidden <= 1:
            continue
        # A screenful at a time, overlapping a fifth so that no row is cut at every edge.
        stride = min(1.0, scroll.height * 0.8 / hidden)
        for _ in range(MAX_SCROLLED_SHOTS):
            if scroll.scroll_y <= 0:
                break
            scroll.scroll_y = max(0.0, scroll.scroll_y - stride)
            written.append(_shot(stem.with_name(f"{stem.name}-{n}.png")))
            n += 1
        scroll.scroll_y = 1.0
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="the bundle folder (with its bundle.json), "
                        "or a spreadsheet (.xlsx, .ods) built first")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "preview")
    parser.add_argument("--size", default="1280x800", help="window size, WxH")
    parser.add_argument("--lang", default="", help="languages, comma-separated (default: all "
                                                   "the consultation offers)")
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        parser.error("--size is WxH, e.g. 1280x800")

    from app.bundle import load_bundle
    from app.errors import BundleError
    if args.bundle.suffix.lower() in (".xlsx", ".ods"):
        args.bundle = built_from_sheet(args.bundle)
        if args.bundle is None:
            return 1
    try:
        load_bundle(args.bundle)
    except BundleError as exc:
        print(exc.describe(), file=sys.stderr)
        return 1

    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="piazzetta-preview-kivy-"))
    from kivy.config import Config
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "resizable", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from kivy.base import EventLoop
    import screens.widgets  # noqa: F401  (the shared kv rules before any screen)
    EventLoop.ensure_window()
    if args.out.exists():
        shutil.rmtree(args.out)
    files = walk(args.bundle, args.out, [x for x in args.lang.split(",") if x] or None,
                 (width, height))
    for path in files:
        print(path)
    print(f"{len(files)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
