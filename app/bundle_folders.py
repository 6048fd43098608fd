"""The installed consultations' folders (`<data dir>/bundles/<id>/`) and the screens that read
them (issue 26: a new version reaches running screens between residents, never mid-ballot).

A screen reads a bundle's images lazily, by path, for as long as it shows that version. So a
folder a screen of this process `hold`s is never replaced under it: a new version installed
meanwhile waits beside it, whole and checked (`.<id>.next`), and takes its place when the last
holder lets go (`release`) or asks for it between two residents (`swap_waiting`). A folder no
screen holds is replaced at once, as before. Every step runs under one lock, so a screen never
holds a folder halfway through a swap. The replaced version is removed at once: a tablet keeps
at most the version shown and the one waiting.

Holds are this process's: a second process on the same data folder (a projector beside a
kiosk) does not see them — it follows its own new versions.
"""
from __future__ import annotations

import threading
from pathlib import Path

_lock = threading.Lock()
_held: dict[Path, int] = {}


def _key(folder: str | Path) -> Path:
    return Path(folder).resolve()


def waiting_folder(target: Path) -> Path:
    """Where a new version of `target` waits while a screen reads `target`."""
    return target.parent / f".{target.name}.next"


class Hold:
    """A screen reading `folder`: it is not replaced until `release()`."""

    def __init__(self, folder: str | Path):
        self.folder = _key(folder)
        self.active = True
        with _lock:
            _held[self.folder] = _held.get(self.folder, 0) + 1

    def release(self) -> None:
        """The screen no longer reads the folder: a version waiting takes its place once no
        other screen holds it. Idempotent."""
        with _lock:
            if not self.active:
                return
            self.active = False
            left = _held.get(self.folder, 0) - 1
            if left > 0:
                _held[self.folder] = left
                return
            _held.pop(self.folder, None)
            _swapped, old = _swap_in(self.folder)
        _remove(old)


def held(folder: str | Path) -> bool:
    with _lock:
        return _held.get(_key(folder), 0) > 0


def swap_waiting(target: str | Path, mine: Hold | None = None) -> bool:
    """Put the version waiting for `target` in its place when no screen but `mine` (the
    caller's own hold, between two residents) reads it; True when it did."""
    key = _key(target)
    with _lock:
        others = _held.get(key, 0) - (1 if mine is not None and mine.active
                                      and mine.folder == key else 0)
        swapped, old = _swap_in(key) if others <= 0 else (False, None)
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
        now = _held.get(key, 0) == 0
        if now:
            old = _aside(key, key.name) if key.exists() else None
            ready.rename(key)
        else:
            old = None
            ready.rename(waiting)
    _remove(stale)
    _remove(old)
    return now


def _swap_in(target: Path) -> tuple[bool, Path | None]:
    """Under the lock: the waiting version in `target`'s place; (whether there was one, the
    replaced folder to remove)."""
    waiting = waiting_folder(target)
    if not waiting.is_dir():
        return False, None
    old = _aside(target, target.name) if target.exists() else None
    waiting.rename(target)
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
