"""The tablet's local store: SQLite in WAL mode with synchronous=FULL, so that a call that
records a vote or an idea returns only once it is committed and on disk (invariant 1).

Every record is also appended to the outbox, an append-only log of events with an ID made on
this device and the device's own sequence number (invariant 2). Sync reads the outbox and only
marks as acknowledged what the hub acknowledged (invariant 3).

A Store belongs to the thread that opened it (sqlite3's rule); a worker thread opens its own.

At rest (issue 13): the store's folder is 0700 and its files 0600 on POSIX systems; the local
copies of residents' times (ballots, answers, ideas) are kept to the hour, an event's own time
too once the hub acknowledged it; and acknowledged events are purged after the facilitator's
retention (`purge_acknowledged`), closed ballots folding into anonymous totals so that the
local figures stay whole.

One module per resource, each a part of `Store` built on the same connection and transaction
(core.StoreCore): ballots (answers, card uses), ideas, signups, counts (typed-in counts, tallies,
figures), rehearsal (answers kept apart until the session opens), outbox (the one writer of an event, and what sync reads), retention (redaction,
checkpoints, the purge).
"""
from __future__ import annotations

import logging
import sqlite3

from ..errors import StoreError
from .ballots import Ballots
from .core import STORE_FILE, StoreCore
from .counts import Counts
from .ideas import Ideas, Proposal
from .outbox import Outbox, OutboxEvent
from .rehearsal import REHEARSAL_ANSWER, REHEARSAL_ENDED, REHEARSAL_STARTED, Rehearsals
from .retention import (CHECKPOINT_BUSY_MS, REDACTION_CHECKPOINT_OWED, RETENTION_CHOICES,
                        RETENTION_DEFAULT, RETENTION_NAMES, RETENTION_SETTING, Retention)
from .signups import Signups

__all__ = ["CHECKPOINT_BUSY_MS", "REDACTION_CHECKPOINT_OWED", "RETENTION_CHOICES",
           "RETENTION_DEFAULT", "RETENTION_NAMES", "RETENTION_SETTING", "STORE_FILE",
           "OutboxEvent", "Proposal", "REHEARSAL_ANSWER", "REHEARSAL_ENDED", "REHEARSAL_STARTED",
           "Store",
           "StoreError"]

log = logging.getLogger("piazzetta.store")


class Store(Ballots, Ideas, Signups, Counts, Rehearsals, Outbox, Retention, StoreCore):
    """Entry point to the local store. `Store.open(folder)` or `Store.memory()` in tests."""

    def __init__(self, conn: sqlite3.Connection):
        super().__init__(conn)
        try:
            self.purge_acknowledged()
        except sqlite3.OperationalError as exc:   # busy or read-only: the next push tries again
            log.warning("purge of acknowledged events not done at open: %s", exc)
