"""Attack review of issue 26's leftovers, the bundle folders (app/bundle_folders.py): a tablet
killed between the rename steps of a swap, and a hub naming a consultation after a folder
sync works in. Real processes killed with SIGKILL, a real HTTP server for the hub that lies
(tests/unit/test_tablet_version_rule.py's stand-in)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.bundle import BUNDLE_FILE, installed_bundles
from app.bundle_folders import replace_folder, waiting_folder
from sync import protocol as p
from sync.content import LEFTOVER_SECONDS, _clear_leftovers
from tests.unit.test_bundle_folders import CID, ready, version
from tests.unit.test_tablet_version_rule import StandIn, shown, tablet  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]

# A tablet process that installs version 2 of CID (held by its screens or not) and is killed
# with SIGKILL at its `kill_at`-th rename: between two steps of the swap.
CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from app.bundle_folders import Hold, replace_folder
    from tests.unit.test_bundle_folders import ready
    bundles, kill_at, held = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "held"
    target = bundles / {cid!r}
    hold = Hold(target) if held else None
    renames, rename = [0], Path.rename
    def killing(self, to):
        renames[0] += 1
        if renames[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return rename(self, to)
    Path.rename = killing
    replace_folder(target, ready(bundles, 2))
    if hold is not None:
        hold.release()          # between two residents: the waiting version takes its place
    print(renames[0])
""").format(cid=CID)


def run_killed(bundles: Path, kill_at: int, held: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, str(bundles), str(kill_at), held],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("held", ["held", "free"])
def test_a_tablet_killed_between_two_renames_starts_on_a_whole_version(tmp_path, held):
    """Killed at every rename of an install (and of the swap between two residents): the
    next start lists the consultation, on version 1 or 2, never none (version 1 aside and
    version 2 waiting under names the start never read left the tablet without its
    consultation, and the pull, finding version 2 'installed', never brought it back); what
    the kill left is gone at the next install once old."""
    killed_at = []
    for kill_at in range(1, 8):
        bundles = tmp_path / f"{held}-{kill_at}" / "bundles"
        replace_folder(bundles / CID, ready(bundles, 1))
        child = run_killed(bundles, kill_at, held)
        if child.returncode == 0:               # fewer renames than that: nothing killed
            assert int(child.stdout) < kill_at
            break
        assert child.returncode == -signal.SIGKILL, child.stderr
        killed_at.append(kill_at)
        found = [(c.version, f) for c, f in installed_bundles(bundles.parent) if c.id == CID]
        assert len(found) == 1 and found[0][0] in (1, 2), (kill_at, sorted(
            f.name for f in bundles.iterdir()))
        assert found[0][1] == bundles / CID
        # The next install of the consultation clears what the kill left, once old.
        for leftover in bundles.iterdir():
            if leftover.name.startswith("."):
                os.utime(leftover, (time.time() - LEFTOVER_SECONDS - 60,) * 2)
        _clear_leftovers(bundles / CID)
        assert replace_folder(bundles / CID, ready(bundles, 3))
        assert version(bundles / CID) == 3
        assert [f.name for f in bundles.iterdir()] == [CID], kill_at
    assert len(killed_at) >= 2, killed_at          # the swap has two renames at least


def test_a_consultation_named_after_a_work_folder_is_not_installed(tablet, tmp_path):
    """A hub naming a consultation `.<id>.next` had it installed as the version waiting for
    <id>: it took <id>'s place at the next start, and with it <id>'s version rule — version 2
    was then taken after version 5. Refused like any index entry that cannot name a folder."""
    tablet(5, title="Cinq")
    for name in (f".{CID}.next", f".{CID}.0badc0de.tmp", f".{CID}.0badc0de.old", ".x"):
        with pytest.raises(p.NotAcknowledged) as caught:
            tablet(1, title="Forged", cid=name, id=name)
        assert not isinstance(caught.value, p.ContentRefused)
        assert not (tmp_path / "bundles" / name).exists()
    assert [(c.id, c.version) for c, f in installed_bundles(tmp_path)
            if f.parent.name == "bundles"] == [(CID, 5)]
    assert shown(tablet.folder) == (5, "Cinq")
    with pytest.raises(p.ContentRefused) as caught:
        tablet(2, title="Deux")
    assert caught.value.reason == "not_newer"
    assert not waiting_folder(tablet.folder).exists()
    assert json.loads((tablet.folder / BUNDLE_FILE).read_text("utf-8"))["consultation"][
        "version"] == 5
