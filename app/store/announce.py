"""Announcements: "new events are on disk". The store announces each committed outbox write to
the listeners of its file (the sync service of the app that holds it), so that sync sends it at
once instead of at its next poll.

The kiosk's connection (UI thread) and the sync worker's (its thread) are different objects on
one file, so listeners are keyed by the file. `append_event` counts, per connection, the events
of the open transaction (`note_event`); Store.transaction() announces them after its COMMIT
(`announce_commit`) and forgets them at BEGIN and after a ROLLBACK (`forget_uncommitted`): a
rolled-back write announces nothing, and nothing is announced inside a transaction. Pure Python
and thread-safe; no Kivy, no sync."""
from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import weakref
from typing import Callable

log = logging.getLogger("piazzetta.store")

_lock = threading.Lock()
# id(connection) -> [events written in its transaction, the last one's outbox seq]
_unannounced: dict[int, list[int]] = {}
_listeners: dict[str, list] = {}         # store file -> [(callable or weakref.WeakMethod, seqs)]


def note_event(conn: sqlite3.Connection, seq: int = 0) -> None:
    """One more event written in the transaction open on `conn`, `seq` its outbox number."""
    with _lock:
        noted = _unannounced.setdefault(id(conn), [0, 0])
        noted[0] += 1
        noted[1] = max(noted[1], seq or 0)


@functools.lru_cache(maxsize=64)
def _real(path: str) -> str:
    return os.path.realpath(path)     # a few system calls: once per file, not at every tap


def _key(path: str | os.PathLike) -> str:
    return _real(os.fspath(path))


def listen(path: str | os.PathLike, listener: Callable[..., None], *,
           seqs: bool = False) -> Callable[[], None]:
    """Call `listener(count)` after every committed transaction that wrote `count` events to the
    outbox of the store file `path`, in the thread that committed it (the UI thread for a
    kiosk's answer: a listener must return at once). With `seqs`, `listener(count, last_seq)`:
    the transaction's events are the outbox numbers last_seq - count + 1 … last_seq (one
    writer at a time: they follow each other), so that a listener can tell them from events it
    already counted in a read of the outbox. A bound method is held weakly: a forgotten service
    stops listening. Returns what unsubscribes."""
    key = _key(path)
    ref = (weakref.WeakMethod(listener) if hasattr(listener, "__self__") else listener, seqs)
    with _lock:
        _listeners.setdefault(key, []).append(ref)

    def unsubscribe() -> None:
        with _lock:
            refs = _listeners.get(key, [])
            if ref in refs:
                refs.remove(ref)
            if not refs:
                _listeners.pop(key, None)
    return unsubscribe


def forget_uncommitted(conn: sqlite3.Connection) -> None:
    """The transaction on `conn` begins or was rolled back: its events are not announced."""
    if _unannounced:
        with _lock:
            _unannounced.pop(id(conn), None)


def announce_commit(conn: sqlite3.Connection, path: Callable[[], str]) -> None:
    """The transaction on `conn` committed: tell the store file's listeners how many events it
    wrote. `path()` gives the file (asked only when there is something to say). A listener
    that fails is logged; the write it follows is on disk all the same."""
    if not _unannounced:
        return
    with _lock:
        count, last_seq = _unannounced.pop(id(conn), (0, 0))
    if not count:
        return
    file = path()
    if not file:                         # an in-memory store: nobody can listen to it
        return
    with _lock:
        refs = list(_listeners.get(_key(file), ()))
    for ref, seqs in refs:
        listener = ref() if isinstance(ref, weakref.WeakMethod) else ref
        if listener is None:
            continue
        try:
            if seqs:
                listener(count, last_seq)
            else:
                listener(count)
        except Exception:
            log.exception("an outbox listener failed")
