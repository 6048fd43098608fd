"""app/bundle_folders.py: a folder a screen reads is never replaced under it; a new version
waits beside it (one at most) and takes its place once the screens let go; nothing else is
kept (a tablet's storage holds the version shown and the one waiting, no more)."""
from __future__ import annotations

import json
import shutil

from app.bundle import BUNDLE_FILE, installed_bundles
from app.bundle_folders import Hold, held, replace_folder, swap_waiting, waiting_folder
from app.paths import DEMO_BUNDLE_DIR

DEMO = json.loads((DEMO_BUNDLE_DIR / BUNDLE_FILE).read_text(encoding="utf-8"))
CID = DEMO["consultation"]["id"]


def ready(bundles, version: int):
    """A complete version beside the target, as an install leaves it before its last step."""
    folder = bundles / f".{CID}.{version:08x}.tmp"
    folder.mkdir(parents=True)
    data = json.loads(json.dumps(DEMO))
    data["consultation"]["version"] = version
    (folder / BUNDLE_FILE).write_text(json.dumps(data), encoding="utf-8")
    return folder


def version(folder) -> int:
    return json.loads((folder / BUNDLE_FILE).read_text(encoding="utf-8"))["consultation"][
        "version"]


def test_a_folder_no_screen_reads_is_replaced_at_once(tmp_path):
    target = tmp_path / CID
    assert replace_folder(target, ready(tmp_path, 1))
    assert replace_folder(target, ready(tmp_path, 2))
    assert version(target) == 2
    assert [f.name for f in tmp_path.iterdir()] == [CID]        # version 1 removed


def test_a_folder_a_screen_reads_waits_for_it_to_let_go(tmp_path):
    target = tmp_path / CID
    replace_folder(target, ready(tmp_path, 1))
    kiosk, projector = Hold(target), Hold(target)
    try:
        assert not replace_folder(target, ready(tmp_path, 2))
        assert not replace_folder(target, ready(tmp_path, 3))   # the newer one waits instead
        assert version(target) == 1 and version(waiting_folder(target)) == 3
        assert sorted(f.name for f in tmp_path.iterdir()) == sorted([CID, f".{CID}.next"])
        # Between two residents the kiosk asks: the projector still reads the folder.
        assert not swap_waiting(target, mine=kiosk)
        projector.release()
        assert swap_waiting(target, mine=kiosk)
        assert version(target) == 3 and held(target)
        assert [f.name for f in tmp_path.iterdir()] == [CID]
        assert not replace_folder(target, ready(tmp_path, 4))
    finally:
        kiosk.release()
        projector.release()
    assert not held(target)
    assert version(target) == 4                     # the last holder let go: swapped in
    assert [f.name for f in tmp_path.iterdir()] == [CID]


def test_installed_bundles_lists_no_work_folder_and_takes_a_version_left_waiting(tmp_path):
    """A kiosk stopped (or killed) while a version waited: at the next start the waiting
    version is the one listed, and the folders sync works in are never listed."""
    bundles = tmp_path / "bundles"
    target = bundles / CID
    replace_folder(target, ready(bundles, 1))
    hold = Hold(target)
    replace_folder(target, ready(bundles, 2))
    shutil.copytree(target, bundles / f".{CID}.0badc0de.tmp")       # an install under way
    assert [c.version for c, f in installed_bundles(tmp_path) if c.id == CID] == [1]
    hold.release()
    assert not waiting_folder(target).exists() and version(target) == 2
    # A process killed while version 3 waited left it there, held by no one now.
    ready(bundles, 3).rename(waiting_folder(target))
    hold = Hold(bundles / "other")                  # another folder's hold changes nothing
    try:
        found = [(c.version, f) for c, f in installed_bundles(tmp_path) if c.id == CID]
    finally:
        hold.release()
    assert found == [(3, target)]
    assert sorted(f.name for f in bundles.iterdir()) == sorted([CID, f".{CID}.0badc0de.tmp"])
