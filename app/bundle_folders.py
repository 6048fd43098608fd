"""The installed consultations' folders (`<data dir>/bundles/<id>/`) and the screens that read
them (issue 26: a new version reaches running screens between residents, never mid-ballot).

A screen reads a bundle's images lazily, by path, for as long as it shows that version. So a
folder a screen of this process `hold`s is never replaced under it: a new version installed
meanwhile waits beside it, whole and checked (`.<id>.next`), and takes its place when the last
holder lets go (`release`) or asks for it between two residents (`swap_waiting`). A folder no
screen holds is replaced at once, as before. Every step runs under one lock, so a screen never
holds a folder halfway through a swap. The replaced version is removed at once: a tablet keeps
at most the version shown and the one waiting.

A kiosk's hold is seen by the other processes on the same data folder too (a projector beside
it, reading the kiosk's store): a shared `flock` on `.<id>.lock`, which a swap must get
exclusively — without it the projector's install replaced, and removed, the pictures of a
resident mid-ballot. A projector's hold is its process's only: it follows the new versions
the kiosk takes between residents, never holds them back.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:             # Windows: one process per data folder there, holds in it
    fcntl = None

_lock = threading.Lock()
_held: dict[Path, int] = {}


def _key(folder: str | Path) -> Path:
    return Path(folder).resolve()


def folder_for(consultation_id: str) -> bool:
    """Whether a consultation ID (a content ID) may name its folder under `bundles/`: one
    letter or digit at least ("." and ".." are not one), and no dot first — the names of the
    folders sync works in (`.<id>.next`: a consultation named so took another's place when
    the screens let go, its version rule with it)."""
    return any(c.isalnum() for c in consultation_id) and not consultation_id.startswith(".")


def waiting_folder(target: Path) -> Path:
    """Where a new version of `target` waits while a screen reads `target`."""
    return target.parent / f".{target.name}.next"


def _lock_file(key: Path) -> Path:
    return key.parent / f".{key.name}.lock"


def _share(key: Path) -> int | None:
    """A shared lock on `key`'s lock file (waits out a swap under way: milliseconds); its file
    descriptor, None where there is none to take."""
    if fcntl is None or key.parent.name != "bundles":
        return None         # not a folder sync installs into (the demo, a bundle named at start)
    try:
        fd = os.open(_lock_file(key), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError:
        os.close(fd)
        return None
    return fd


@contextmanager
def _alone(key: Path):
    """Whether no other process's kiosk reads `key` (an exclusive lock on its lock file, kept
    for the `with`); True when no kiosk ever made one."""
    if fcntl is None:
        yield True
        return
    try:
        fd = os.open(_lock_file(key), os.O_RDWR)
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:     # a kiosk reads it
            yield False
            return
        except OSError:             # no flock on this file system: this process's holds only
            pass
        yield True
    finally:
        os.close(fd)        # the lock with it


class Hold:
    """A screen reading `folder`: it is not replaced until `release()`. `across_processes`
    (a kiosk's): nor by another process on the same data folder."""

    def __init__(self, folder: str | Path, *, across_processes: bool = False):
        self.folder = _key(folder)
        self.active = True
        self._fd = _share(self.folder) if across_processes else None
        with _lock:
            _held[self.folder] = _held.get(self.folder, 0) + 1

    def release(self) -> None:
        """The screen no longer reads the folder: a version waiting takes its place once no
        other screen holds it. Idempotent."""
        with _lock:
            if not self.active:
                return
            self.active = False
            self._unshare()
            left = _held.get(self.folder, 0) - 1
            if left > 0:
                _held[self.folder] = left
                return
            _held.pop(self.folder, None)
            with _alone(self.folder) as alone:
                _swapped, old = _swap_in(self.folder) if alone else (False, None)
        _remove(old)

    def _unshare(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def held(folder: str | Path) -> bool:
    with _lock:
        return _held.get(_key(folder), 0) > 0


def swap_waiting(target: str | Path, mine: Hold | None = None) -> bool:
    """Put the version waiting for `target` in its place when no screen but `mine` (the
    caller's own hold, between two residents) reads it; True when it did."""
    key = _key(target)
    with _lock:
        ours = mine is not None and mine.active and mine.folder == key
        others = _held.get(key, 0) - (1 if ours else 0)
        swapped, old = False, None
        if others <= 0 and waiting_folder(key).is_dir():
            shared = ours and mine._fd is not None
            if shared:
                mine._unshare()             # the caller's own lock: asked between residents
            with _alone(key) as alone:
                if alone:
                    swapped, old = _swap_in(key)
            if shared:
                mine._fd = _share(key)
    _remove(old)
    return swapped


def replace_folder(target: Path, ready: Path) -> bool:
    """An installer's last step: `ready` (a complete, checked folder beside `target`) becomes
    `target` now when no screen reads it (True), else waits as its next version (False; an
    older one waiting is dropped)."""
    key = _key(target)
    with _lock:
        waiting = waiting_folder(key)
        stale = _aside(waiting, key.name) if waiting.exists() else None
        # Always through the waiting name: a process killed between two renames leaves the
        # new version there, where the next start finds it (consultation_folders), never
        # under a work folder's name with `target` gone.
        ready.rename(waiting)
        now = False
        if _held.get(key, 0) == 0:
            with _alone(key) as now:
                old = _swap_in(key)[1] if now else None
        else:
            old = None
    _remove(stale)
    _remove(old)
    return now


# A download folder (or a replaced version) this old was left by a process killed mid-install:
# removed at the next install of the same consultation, and at the next start. Younger ones
# may be another process's install in progress (a projector beside a kiosk on one data folder).
LEFTOVER_SECONDS = 3600


def clear_leftovers(target: Path) -> None:
    """Remove what an install of `target` killed midway left beside it (`.<id>.<hex>.tmp`, up
    to a bundle's size each time, kept forever before)."""
    import time
    try:
        found = [f for f in target.parent.iterdir()
                 if f.name.startswith(f".{target.name}.") and f.suffix in (".tmp", ".old")
                 and len(f.name) == len(target.name) + 14]
    except OSError:
        return
    for folder in found:
        try:
            if time.time() - folder.stat().st_mtime > LEFTOVER_SECONDS:
                _remove(folder)
        except OSError:
            pass


def consultation_folders(bundles_dir: Path) -> list[Path]:
    """The consultations' folders under `bundles_dir` (none of the work folders), each with
    the version waiting for it put in its place when no screen of this process reads it —
    also one a process killed mid-swap left waiting with the folder itself set aside — and
    what a kill left beside it removed once old (clear_leftovers)."""
    try:
        names = [f.name for f in Path(bundles_dir).iterdir()]
    except OSError:
        return []
    ids = {n for n in names if not n.startswith(".")}
    ids |= {n[1:-len(".next")] for n in names if n.startswith(".") and n.endswith(".next")
            and len(n) > len("..next") and not n[1:].startswith(".")}
    for name in sorted(ids):
        swap_waiting(Path(bundles_dir) / name)
        if any(n.startswith(f".{name}.") and n.endswith((".tmp", ".old")) for n in names):
            clear_leftovers(Path(bundles_dir) / name)      # a kill's, once old
    return [f for f in Path(bundles_dir).iterdir() if not f.name.startswith(".")]


def _swap_in(target: Path) -> tuple[bool, Path | None]:
    """Under the lock: the waiting version in `target`'s place; (whether there was one, the
    replaced folder to remove)."""
    waiting = waiting_folder(target)
    if not waiting.is_dir():
        return False, None
    old = _aside(target, target.name) if target.exists() else None
    try:
        waiting.rename(target)
    except FileNotFoundError:       # another process on the data folder swapped it in
        return False, old
    return True, old


def _aside(folder: Path, name: str) -> Path:
    """Under the lock: `folder` renamed out of the way (`.<name>.<hex>.old`, the name an
    install killed midway leaves and the next install of `name` clears)."""
    import uuid
    old = folder.parent / f".{name}.{uuid.uuid4().hex[:8]}.old"
    folder.rename(old)
    return old


def _remove(folder: Path | None) -> None:
    import shutil
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
