"""The hub's one way to write: a unit of work (docs/protocol.md, "Hub internals").

A unit of work is one write transaction (immediate on SQLite: server.db.writer) taken
under the process's writer turn, so that the in-memory tallies (server.results) follow the
commits in the order they happened. Inside it, the work records what the tallies gain
(`tally`), which consultation versions it read (`follow`) and what to remember in memory
(`on_commit`, e.g. a parsed consultation cached); all are applied once the transaction
committed, still in the writer's turn, and dropped when it rolls back.

    with hub.unit_of_work() as uow:
        uow.conn.execute(...)
        uow.tally(CountDelta(...))

`UnitsOfWork.run` runs a function as a unit of work and runs it again, from the start, when
another process stored the same rows or held the database meanwhile (what it already stored
then reads as a duplicate).

Several hub processes on one PostgreSQL database (`shared`): a unit of work that changes the
tallies also writes its changes to the results log (server.db.results_log) under the next
revision of `counters` "results", the last statement before its commit. That row's lock orders
the commits: revision N+1 is taken only once N committed, so a process reading the log past
the revision it holds gets every commit once, in order, with no gap. Each process applies its
own commit at once, and the others' when PostgreSQL tells it (NOTIFY, server.hub's listener)
or at the latest at its next poll. A tally is rebuilt from the rows in a snapshot that reads
the revision it holds (`snapshot`). Exactly-once rules are the database's (primary keys, row
locks); the process lock below only keeps this process's writers in turn (SQLite's order).
"""
from __future__ import annotations

import json
import logging
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from sqlalchemy import delete, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from app.canonical import compact_json
from app.model import Consultation

from . import db
from .results import DisplayDelta, ResultsCache, TallyDelta, decode_deltas, encode_deltas

log = logging.getLogger("piazzetta.hub.results")

T = TypeVar("T")
LOG_KEPT = 100_000       # results log rows kept (revisions: one per unit of work)
POLL_SECONDS = 5         # shared: the log is read at least this often, NOTIFY or not
PRUNE_SECONDS = 600      # and its old rows dropped this often
# Another process stored one of these rows (a unique key) or held the database's lock.
RETRYABLE = (IntegrityError, OperationalError)


class UnitOfWork:
    """One write transaction in progress: its connection, and what follows its commit."""

    def __init__(self, conn):
        self.conn = conn
        self.deltas: list[TallyDelta] = []
        self.versions: dict[str, int] = {}
        self.committed: list[Callable[[], None]] = []
        self.revision: int | None = None     # shared: its revision in the results log

    def tally(self, *deltas: TallyDelta) -> None:
        """Changes of the tallies, applied once the transaction committed."""
        self.deltas.extend(deltas)

    def follow(self, versions: dict[str, int]) -> None:
        """The consultation versions this work read: once committed, a tally kept for another
        version (another process imported one meanwhile) is rebuilt from the database."""
        self.versions.update(versions)

    def on_commit(self, action: Callable[[], None]) -> None:
        """`action()` once the transaction committed (never when it rolls back): what memory
        keeps of the work, so that it never holds what the database does not."""
        self.committed.append(action)

    def include(self, batch) -> None:
        """What an ingest batch (server.ingest.Batch) that ran in this transaction changes."""
        self.follow(batch.versions)
        self.tally(*batch.deltas)


class UnitsOfWork:
    """The units of work of one hub process on `engine` (its writer: server.db.writer),
    keeping `results`; `consultation(id, version)` finds a version to follow."""

    def __init__(self, engine: Engine, results: ResultsCache,
                 consultation: Callable[[str, int], Consultation | None]):
        self._engine = engine
        self._writer = db.writer(engine)
        self._results = results
        self._consultation = consultation
        # One writer at a time in this process, and tallies follow commits in order.
        self._lock = threading.RLock()
        self.shared = engine.dialect.name == "postgresql"
        self._follow_lock = threading.RLock()
        self.revision = 0          # shared: the results log's revision the tallies hold
        self._own: set[int] = set()   # revisions of this process committing: it applies them

    @contextmanager
    def begin(self) -> Iterator[UnitOfWork]:
        """A unit of work: committed when the block ends, rolled back when it raises."""
        with self._lock:
            uow = None
            try:
                with self._writer.begin() as conn:
                    uow = UnitOfWork(conn)
                    yield uow
                    if self.shared and (uow.deltas or uow.versions):
                        uow.revision = _log(conn, uow)
                        self._own.add(uow.revision)
                self._after_commit(uow)
            finally:
                if uow is not None and uow.revision is not None:
                    self._own.discard(uow.revision)

    def run(self, work: Callable[[UnitOfWork], T], *, attempts: int = 5,
            retry_on: tuple[type[BaseException], ...] = RETRYABLE) -> T:
        """`work(uow)` in a unit of work; run again from the start (up to `attempts` in all)
        when it fails on one of `retry_on`."""
        for attempt in range(attempts):
            try:
                with self.begin() as uow:
                    return work(uow)
            except retry_on:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def turn(self) -> Iterator[None]:
        """The writer's turn without a transaction: no commit of this process happens
        meanwhile (tallies rebuilt from the database)."""
        with self._lock:
            yield

    def _after_commit(self, uow: UnitOfWork) -> None:
        for action in uow.committed:
            action()
        if self.shared:
            if uow.revision is not None:
                self.catch_up(uow)
            return
        reloaded = self._follow(uow.versions)
        # A tally just rebuilt from the database holds this commit already.
        self._results.apply([d for d in uow.deltas if d.consultation_id not in reloaded])

    def _follow(self, versions: dict[str, int]) -> set[str]:
        reloaded = set()
        for consultation_id, version in versions.items():
            if self._results.version(consultation_id) != version:
                consultation = self._consultation(consultation_id, version)
                if consultation is None:
                    continue
                with self.snapshot() as (conn, revision):
                    self._results.load(conn, consultation, revision)
                reloaded.add(consultation_id)
        return reloaded

    # -- shared tallies (PostgreSQL) -------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[tuple[Connection, int | None]]:
        """A connection reading one snapshot, and (shared) the results log's revision in it:
        tallies built from it hold every commit up to that revision, none after."""
        if not self.shared:
            with self._engine.connect() as conn:
                yield conn, None
            return
        with self._engine.connect().execution_options(
                isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                revision = conn.execute(select(db.counters.c.value).where(
                    db.counters.c.name == "results")).scalar() or 0
                yield conn, revision

    def load_all(self, load: Callable[[Connection, int | None], None]) -> None:
        """Every tally built by `load(conn, revision)` from one snapshot (the hub's start, or
        a gap in the results log); the log is then followed from that revision."""
        with self._follow_lock:
            with self.snapshot() as (conn, revision):
                load(conn, revision)
            if revision is not None:
                self.revision = revision

    def catch_up(self, own: UnitOfWork | None = None) -> int:
        """Apply the commits of every process not applied yet, in order (`own`: this process's
        unit of work just committed, applied from memory when nothing came between). Returns
        the revision the tallies now hold."""
        if not self.shared:
            return 0
        with self._follow_lock:
            if own is not None and own.revision is not None:
                if self.revision >= own.revision:
                    return self.revision
                if self.revision == own.revision - 1:
                    self._apply(own.revision, own.versions, own.deltas)
                    return self.revision
            with self._engine.connect() as conn:
                rows = conn.execute(select(db.results_log.c.revision, db.results_log.c.changes)
                                    .where(db.results_log.c.revision > self.revision)
                                    .order_by(db.results_log.c.revision)).all()
                # Nothing logged past us, but committed past us: the log was emptied (a crash
                # of PostgreSQL: UNLOGGED) after those commits.
                lost = not rows and (conn.execute(select(db.counters.c.value).where(
                    db.counters.c.name == "results")).scalar() or 0) > self.revision
            if lost or (rows and rows[0].revision != self.revision + 1):
                # Pruned past us, or emptied by a crash (UNLOGGED): rebuild from the rows.
                log.warning("results log from %s, tallies at %d: rebuilt",
                            rows[0].revision if rows else "nothing", self.revision)
                self.reload()
                return self.revision
            for row in rows:
                changes = json.loads(row.changes)
                self._apply(row.revision, changes["versions"], decode_deltas(changes["deltas"]))
            return self.revision

    def reload(self) -> None:
        """Every consultation's tallies rebuilt from one snapshot."""
        def load(conn, revision):
            rows = conn.execute(select(db.consultations.c.id, db.consultations.c.version)).all()
            for consultation_id, version in rows:
                try:
                    consultation = self._consultation(consultation_id, version)
                except Exception:          # noqa: BLE001 - logged at start (server.hub)
                    continue
                if consultation is not None:
                    self._results.load(conn, consultation, revision)
        self.load_all(load)

    def _apply(self, revision: int, versions: dict[str, int], deltas: list[TallyDelta]) -> None:
        # A tally rebuilt at this revision or later holds these already (and a later version).
        self._follow({cid: v for cid, v in versions.items()
                      if self._results.followed(cid) < revision})
        self._results.apply(deltas, revision)
        self.revision = revision

    def holds(self, revision: int) -> bool:
        """Whether the tallies hold `revision`, or this process is applying it (its own)."""
        return revision <= self.revision or revision in self._own

    def counter(self, name: str = "results") -> int:
        """A counter's value in the database ("results": the last revision committed)."""
        with self._engine.connect() as conn:
            return conn.execute(select(db.counters.c.value).where(
                db.counters.c.name == name)).scalar() or 0

    def prune(self, keep: int = LOG_KEPT) -> int:
        """Drop the results log's rows older than the last `keep` revisions (a process that far
        behind rebuilds its tallies). Returns how many were dropped."""
        with self._engine.begin() as conn:
            return conn.execute(delete(db.results_log).where(
                db.results_log.c.revision <= self.revision - keep)).rowcount


# One round trip: the revision taken, the changes logged under it, each touched consultation's
# revision set, the other processes told (delivered at the commit).
_LOG = text(f"""
WITH taken AS (
    UPDATE counters SET value = value + 1 WHERE name = 'results' RETURNING value),
logged AS (
    INSERT INTO results_log (revision, changes) SELECT value, :changes FROM taken),
touched AS (
    INSERT INTO results_revisions (consultation_id, revision)
    SELECT c, (SELECT value FROM taken) FROM unnest(CAST(:touched AS text[])) AS c
    ON CONFLICT (consultation_id) DO UPDATE SET revision = EXCLUDED.revision)
SELECT value, pg_notify('{db.RESULTS_CHANNEL}', value::text) FROM taken""")


def _log(conn: Connection, uow: UnitOfWork) -> int:
    """The unit of work's changes in the results log, under the next revision; the row lock
    on the counter is held until the commit, right after (see the module's doc)."""
    touched = sorted({d.consultation_id for d in uow.deltas if not isinstance(d, DisplayDelta)})
    changes = compact_json({"deltas": encode_deltas(uow.deltas), "versions": uow.versions})
    return conn.execute(_LOG, {"changes": changes, "touched": touched}).first()[0]


class ResultsListener:
    """Shared: a thread that LISTENs for the revisions other processes commit and applies
    them at once (the results streams of this process then push them); it reads the log at
    least every POLL_SECONDS too, and after every reconnection, so a lost notification only
    delays a change."""

    def __init__(self, units: UnitsOfWork, engine: Engine):
        self._units = units
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="results-listener",
                                        daemon=True)
        self.listening = False

    def start(self) -> "ResultsListener":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(POLL_SECONDS + 2)

    def _run(self) -> None:
        import time

        import psycopg
        wait = 1.0
        pruned = polled = time.monotonic()
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {db.RESULTS_CHANNEL}")
                    self.listening, wait = True, 1.0
                    self._units.catch_up()      # what committed while not listening
                    while not self._stop.is_set():
                        told = [n.payload for n in conn.notifies(timeout=0.25, stop_after=1)]
                        if told and all(p.isdigit() and self._units.holds(int(p))
                                        for p in told):
                            continue            # held, or our own commit: applied by its writer
                        if told or time.monotonic() - polled >= POLL_SECONDS:
                            polled = time.monotonic()
                            self._units.catch_up()
                        if time.monotonic() - pruned >= PRUNE_SECONDS:
                            pruned = time.monotonic()
                            self._units.prune()
            except Exception:                # noqa: BLE001 - the database is away: again
                log.warning("results listener: the database cannot be reached; again in "
                            "%d s", round(wait), exc_info=True)
            self.listening = False
            self._stop.wait(wait)
            wait = min(wait * 2, 30.0)
