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
from app.bundle_folders import LEFTOVER_SECONDS
from app.paths import DEMO_BUNDLE_DIR
from sync.content import MANIFEST
from tests.unit.test_bundle_folders import CID, ready, version
from tests.unit.test_tablet_version_rule import shown, tablet  # noqa: F401

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


@pytest.mark.process
@pytest.mark.parametrize("held", ["held", "free"])
def test_a_tablet_killed_between_two_renames_starts_on_a_whole_version(tmp_path, held):
    """Killed at every rename of an install (and of the swap between two residents): the
    next start lists the consultation, on version 1 or 2, never none (version 1 aside and
    version 2 waiting under names the start never read left the tablet without its
    consultation, and the pull, finding version 2 'installed', never brought it back); what
    the kill left is gone at the next start once old (kept until a new version came)."""
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
        # The next start clears what the kill left, once old.
        for leftover in bundles.iterdir():
            if leftover.name.startswith("."):
                os.utime(leftover, (time.time() - LEFTOVER_SECONDS - 60,) * 2)
        assert [c.version for c, f in installed_bundles(bundles.parent)
                if c.id == CID] == [found[0][0]]
        assert [f.name for f in bundles.iterdir()] == [CID], kill_at
        assert replace_folder(bundles / CID, ready(bundles, 3))
        assert version(bundles / CID) == 3
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


# Another process on the same data folder (a projector beside the kiosk, following the same
# hub): `steps` run there one at a time, each when a line comes on its stdin.
OTHER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from app.bundle_folders import Hold, replace_folder, swap_waiting
    from tests.unit.test_bundle_folders import ready
    target, hold = Path(sys.argv[1]), None
    for line in sys.stdin:
        step = line.strip()
        if step.startswith("install"):     # as sync.content installs: with its manifest
            n = int(step.split()[1])
            folder = ready(target.parent, n)
            (folder / ".piazzetta-bundle.json").write_text('{"sha256": "%d"}' % n)
            print(replace_folder(target, folder), flush=True)
        elif step == "swap":
            print(swap_waiting(target, mine=hold), flush=True)
        elif step == "hold":            # a projector's hold: this process's only
            hold = Hold(target)
            print("held", flush=True)
""")


class Other:
    def __init__(self, target: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", OTHER, str(target)], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})

    def __call__(self, step: str) -> str:
        self.proc.stdin.write(step + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


@pytest.mark.process
def test_a_kiosk_holds_its_folder_against_a_projector_on_the_same_data_folder(tmp_path):
    """The projector's process installed a new version straight over the folder the kiosk's
    resident was reading (and removed the old pictures): holds were each process's. Now the
    kiosk's hold is seen there — the version waits — and the kiosk takes it between residents
    while the projector still shows the old one (a projector holds back no kiosk)."""
    from app.bundle_folders import Hold, swap_waiting
    from sync.worker import SyncWorker
    bundles = tmp_path / "bundles"
    target = bundles / CID
    first = ready(bundles, 1)
    (first / MANIFEST).write_text('{"sha256": "1"}')
    replace_folder(target, first)
    worker = SyncWorker(tmp_path / "store.db", bundles, lambda status: None)
    assert worker._with_folders_changed([]) == []
    kiosk = Hold(target, across_processes=True)
    other = Other(target)
    try:
        assert other("install 2") == "False"        # waits for the kiosk's resident
        assert other("swap") == "False"
        assert version(target) == 1 and version(waiting_folder(target)) == 2
        # The kiosk's sync did not install it: it learns of it all the same.
        assert worker._with_folders_changed([]) == [CID]
        assert worker._with_folders_changed([]) == []
        assert other("hold") == "held"
        assert swap_waiting(target, mine=kiosk)      # between two residents
        assert version(target) == 2 and not waiting_folder(target).exists()
        assert worker._with_folders_changed([]) == [CID]     # the projector's sync: follow
        assert other("install 3") == "False"        # the projector's own hold, and the kiosk's
        kiosk.release()         # the kiosk stops: version 3 in (the projector holds back none)
        assert version(target) == 3 and other("swap") == "False"
    finally:
        kiosk.release()
        other.close()
    assert sorted(f.name for f in bundles.iterdir()) == sorted([CID, f".{CID}.lock"])


@pytest.mark.parametrize("name", [f".{CID}.next", ".x", "...", "-"])
def test_the_hub_imports_no_consultation_a_tablet_could_not_keep(hub, name):
    """The same rule where consultations come from (app/bundle.py's parser: the hub's import,
    the spreadsheet, the zip): a consultation a tablet's pull would refuse — and with it the
    whole index, every other consultation of its hub — is refused when staff import it."""
    from app.errors import BundleError
    data = json.loads((DEMO_BUNDLE_DIR / BUNDLE_FILE).read_text(encoding="utf-8"))
    data["consultation"]["id"] = name
    with pytest.raises(BundleError) as refused:
        hub.import_bundle(data)
    assert refused.value.field == "consultation.id"
    assert [c["id"] for c in hub.consultations()] == [CID]
