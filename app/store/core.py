"""The store's connection and its one unit of work: opening the SQLite file (private on POSIX),
the PRAGMAs that make every write durable, the numbered migrations (app/migrations.py), the
write transaction, and the settings kept in `meta`.

A store belongs to the thread that opened it (sqlite3's rule); a worker thread opens its own.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import uuid
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Self

if TYPE_CHECKING:
    from sqlite_utils import Database

from ..canonical import canonical_json
from .. import migrations
from .announce import announce_commit, forget_uncommitted

STORE_FILE = "piazzetta.sqlite3"

log = logging.getLogger("piazzetta.store")


class StoreCore:
    """The connection, its transactions and the settings; every part of the store builds on
    this (app.store.Store puts the parts together)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        # Freed bytes are overwritten: a sign-up redacted after sync cannot be read back from
        # the file (invariant 5).
        conn.execute("PRAGMA secure_delete = ON")
        self.schema_version = self._migrate()
        self.device_id = self._device_id()

    @classmethod
    def open(cls, path: str | Path) -> Self:
        """Open (creating if needed) the store in folder `path`, or the SQLite file `path`.

        On POSIX systems the folder is made 0700 (an existing one tightened to that) and the
        SQLite file with its -wal and -shm 0600: they hold the device secret, the PIN hash and
        the answers. When that cannot be done (a folder owned by someone else, a read-only file
        system) a warning is logged and the store opens all the same. Given a file, its folder
        is the caller's: only a missing one is made, 0700."""
        path = Path(path)
        if path.suffix not in (".sqlite3", ".db", ".sqlite"):
            _private_folder(path, tighten=True)
            path = path / STORE_FILE
        elif not path.parent.exists():
            _private_folder(path.parent, tighten=False)
        _private_files(path)
        store = cls(sqlite3.connect(str(path), isolation_level=None))
        _private_files(path)       # the -wal and -shm exist now (an old 0644 pair is tightened)
        return store

    @cached_property
    def db(self) -> "Database":
        """The sqlite-utils view of this store (queries, introspection), made on first use:
        importing sqlite-utils costs a kiosk's start more than everything else it reads."""
        from sqlite_utils import Database
        return Database(self.conn)

    @classmethod
    def memory(cls) -> Self:
        return cls(sqlite3.connect(":memory:", isolation_level=None))

    def close(self) -> None:
        self.conn.close()

    @property
    def path(self) -> str:
        return self.conn.execute("PRAGMA database_list").fetchone()[2]

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    def _migrate(self) -> int:
        """Apply the migrations not yet applied, each in its own transaction; the version."""
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        for number, migration in migrations.pending(self.conn):
            with self.transaction() as conn:
                migration(conn)
                migrations.mark_applied(conn, number)
            version = number
        return version

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: `with store.transaction() as conn: conn.execute(...)`.

        BEGIN IMMEDIATE takes the write lock at once (no deadlock upgrading a read lock); the
        block's statements are committed together when it ends, and with WAL and
        synchronous=FULL the COMMIT is fsynced, so the data is on disk when the `with`
        statement returns (invariant 1). Any exception, KeyboardInterrupt included, rolls
        everything back and is raised again: nothing is half written.

        Transactions do not nest: a `with store.transaction()` inside another raises
        RuntimeError, since an inner block could not promise "on disk when this returns".
        """
        conn = self.conn
        if conn.in_transaction:
            raise RuntimeError("Store.transaction() does not nest: a transaction is open")
        conn.execute("BEGIN IMMEDIATE")
        forget_uncommitted(conn)
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            forget_uncommitted(conn)
            if conn.in_transaction:     # SQLite may have rolled back already (e.g. disk full)
                conn.execute("ROLLBACK")
            raise
        # Events written by this transaction are on disk: sync may send them (app.store.outbox).
        announce_commit(conn, lambda: self.path)

    # -- settings and identity -------------------------------------------------------------

    def _device_id(self) -> str:
        device_id = self.get_setting("device_id")
        if device_id is None:
            device_id = uuid.uuid4().hex
            self.conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('device_id', ?)",
                              (canonical_json(device_id),))
            device_id = self.get_setting("device_id")
        return device_id

    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        """Store a facilitator setting (durably, like everything else)."""
        self.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                          (key, canonical_json(value)))


def _private_folder(folder: Path, *, tighten: bool) -> None:
    """Make `folder` (0700 on POSIX), or tighten an existing one to that when `tighten`."""
    if os.name != "posix":       # Windows: the user's profile folder carries its own ACL
        folder.mkdir(parents=True, exist_ok=True)
        return
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not tighten:
        return
    try:
        if folder.stat().st_mode & 0o077:
            folder.chmod(0o700)
    except OSError as exc:       # owned by someone else, read-only: the owner's choice stands
        log.warning("the store's folder %s stays open to other users of this device (%s)",
                    folder, exc)


def _private_files(database: Path) -> None:
    """The SQLite file (made 0600 before SQLite first opens it, so it is never readable by
    others, and its -wal and -shm get the same mode) and its -wal and -shm tightened to 0600."""
    if os.name != "posix":
        return
    try:
        os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError:
        pass                     # SQLite will say what is wrong with it
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        try:
            if path.exists() and path.stat().st_mode & 0o077:
                path.chmod(0o600)
        except OSError as exc:
            log.warning("%s stays readable by other users of this device (%s)", path.name, exc)
