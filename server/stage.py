"""The person's side of sign-ups kept out of PostgreSQL's WAL until the hour is published
(docs/protocol.md, "Order, too" and "What remains").

PostgreSQL writes every commit to its WAL (`pg_wal`, archives, replicas, base backups) in
order: a sign-up's INSERT or a confirmation's UPDATE of `signups`, followed minutes later by
the first answers of the card shown, pairs the resident with the card for whoever reads that
WAL with `pg_waldump`. So on PostgreSQL a sign-up (the form, or a tablet's `signup` event) and
a confirmation write to `signups_stage`, an UNLOGGED table (never in the WAL; emptied by crash
recovery), and `flush` moves the stage into `signups` in one transaction per published hour
(and when the hub stops), rows in ID order (random), then empties the stage (TRUNCATE: its file
is replaced, no dead rows stay behind). A row of the stage is either a new sign-up or the new
state of a sign-up already in `signups` (confirmed, card shown): `live(conn)` reads the two
together, the stage's row first, so the hub's own checks (a link opened again, one card per
address) see a confirmation at once.

The commit of a transaction that wrote only the stage still has a COMMIT record in the WAL (its
transaction ID and time): it names no table, no row, and once the stage is flushed no row
carries that transaction ID any more.

On SQLite there is no stage: every commit that writes a sign-up is checkpointed out of the WAL
at once (server.db.forget_order), and `live` is `signups` itself.
"""
from __future__ import annotations

import hashlib
import logging
import random
import threading
import time

from sqlalchemy import func, literal, select, text, union_all

from . import db

log = logging.getLogger("piazzetta.hub.stage")
# The advisory lock the stage's writers share and its flush takes alone (not in the WAL).
STAGE_LOCK = 0x7069617A7A61   # "piazza"
CONFIRM_COLUMNS = ("confirmed_at", "card_issued")


def advisory_key(name: str) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Stage:
    """The hub's stage (one per Hub: `hub.stage`); inactive on SQLite."""

    def __init__(self, engine, writer):
        self.engine, self.writer = engine, writer
        self.active = engine.dialect.name == "postgresql"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # This process staged something since its last flush: its stop flushes (a command
        # line's short-lived hub does not, so it never cuts an hour's batch short).
        self.dirty = False

    # -- reading -----------------------------------------------------------------------------------

    def live(self, conn=None):
        """What to select sign-ups from: `signups` on SQLite; on PostgreSQL the stage's rows
        and the rows of `signups` the stage does not hold (a subquery with the same columns)."""
        if not self.active:
            return db.signups
        staged, kept = db.signups_stage, db.signups
        return union_all(
            select(*[staged.c[c.name] for c in kept.columns]),
            select(*kept.columns).where(kept.c.id.not_in(select(staged.c.id))),
        ).subquery("signups_live")

    def row(self, conn, signup_id: str):
        """One sign-up as the hub knows it now (the stage's row first). Not found, it is read
        again after a flush in progress: a statement's snapshot taken before the flush's
        TRUNCATE commits would see the row in neither table."""
        live = self.live()
        query = select(live).where(live.c.id == signup_id)
        found = conn.execute(query).first()
        if found is None and self.active and not self._entered(conn):
            self.enter(conn)
            found = conn.execute(query).first()
        return found

    # -- writing (inside the caller's transaction) ----------------------------------------------------

    def enter(self, conn, lock: str | None = None) -> None:
        """Before a transaction reads or writes the stage: the shared lock (held to the
        transaction's end, not in the WAL) that a flush waits for and takes alone; with
        `lock`, in the same round trip, an exclusive one on that name (a contact's card:
        writers of one thing serialised across processes, with no row lock in the WAL)."""
        if not self.active:
            return
        if lock is not None:
            conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k), "
                              "pg_advisory_xact_lock(:n)"),
                         {"k": STAGE_LOCK, "n": advisory_key(lock)})
        elif self._entered(conn):
            return          # taken already in this transaction (one round trip saved)
        else:
            conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": STAGE_LOCK})
        conn.info["piazzetta_stage"] = conn.get_transaction()

    @staticmethod
    def _entered(conn) -> bool:
        transaction = conn.get_transaction()
        return transaction is not None and conn.info.get("piazzetta_stage") is transaction

    def insert(self, conn, rows: list[dict]) -> None:
        """New sign-ups: into the stage (PostgreSQL) or `signups` (SQLite)."""
        if not rows:
            return
        if self.active:
            self.enter(conn)
            conn.execute(db.signups_stage.insert(), rows)
            self.dirty = True
        else:
            conn.execute(db.signups.insert(), rows)

    def update(self, conn, signup_id: str, changes: dict) -> None:
        """A confirmation's changes to one sign-up (CONFIRM_COLUMNS only on PostgreSQL: the
        flush writes nothing else of a row `signups` already holds)."""
        if not changes:
            return
        if not self.active:
            conn.execute(db.signups.update().where(db.signups.c.id == signup_id)
                         .values(**changes))
            return
        self.enter(conn)
        self.dirty = True
        done = conn.execute(db.signups_stage.update().where(
            db.signups_stage.c.id == signup_id).values(**changes))
        if done.rowcount:
            return
        # A sign-up `signups` already holds: its row copied into the stage with the changes.
        kept = db.signups.c
        columns = [literal(changes[c.name], c.type).label(c.name)
                   if c.name in changes and c.name in CONFIRM_COLUMNS else c
                   for c in kept]
        conn.execute(db.signups_stage.insert().from_select(
            [c.name for c in kept], select(*columns).where(kept.id == signup_id)))

    # -- the hourly flush ------------------------------------------------------------------------------

    def flush(self) -> int:
        """Move the stage into `signups` in one transaction (rows in ID order; a sign-up
        already there gets only its confirmation's columns, and only forward) and empty the
        stage. The number of rows moved; nothing is written when the stage is empty."""
        if not self.active:
            return 0
        try:
            with self._lock, self.writer.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STAGE_LOCK})
                self.dirty = False        # no writer of the stage is in progress now
                rows = [dict(r._mapping) for r in conn.execute(
                    select(db.signups_stage).order_by(db.signups_stage.c.id))]
                if rows:
                    insert = db.dialect_insert(conn, db.signups)
                    kept = db.signups.c
                    # Only ever forward: confirmed stays confirmed, a card shown stays shown.
                    stmt = insert.on_conflict_do_update(
                        index_elements=[kept.id],
                        set_={"confirmed_at": func.coalesce(kept.confirmed_at,
                                                            insert.excluded.confirmed_at),
                              "card_issued": kept.card_issued | insert.excluded.card_issued})
                    for chunk in db.in_chunks(rows, 500):
                        conn.execute(stmt, chunk)
                    conn.exec_driver_sql("TRUNCATE signups_stage")
        except BaseException:
            self.dirty = True
            raise
        return len(rows)

    def start(self) -> None:
        """Flush at each hour's turn (a few seconds after, at random), in a thread."""
        if not self.active or self._thread is not None:
            return

        def run():
            while True:
                now = time.time()
                wait = 3600 - now % 3600 + random.SystemRandom().uniform(1, 30)
                if self._stop.wait(wait):
                    return
                try:
                    self.flush()
                except Exception:     # the database gone for a while: the next hour's flush
                    log.warning("the sign-ups' stage could not be written to `signups` now")

        self._thread = threading.Thread(target=run, name="piazzetta-stage", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """At a clean stop: no more hourly flushes, then, if this process staged anything
        since its last flush, one flush of what is staged (every process's rows)."""
        self._stop.set()
        if self.active and self.dirty:
            try:
                self.flush()
            except Exception:
                log.warning("the sign-ups' stage could not be written to `signups` at stop: "
                            "the next hour's flush of a running hub writes it")
