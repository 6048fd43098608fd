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

The process lock lives here only: several hub processes on one database (PostgreSQL) replace
it in this module, nowhere else.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from app.model import Consultation

from . import db
from .results import ResultsCache, TallyDelta

T = TypeVar("T")
# Another process stored one of these rows (a unique key) or held the database's lock.
RETRYABLE = (IntegrityError, OperationalError)


class UnitOfWork:
    """One write transaction in progress: its connection, and what follows its commit."""

    def __init__(self, conn):
        self.conn = conn
        self.deltas: list[TallyDelta] = []
        self.versions: dict[str, int] = {}
        self.committed: list[Callable[[], None]] = []

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

    @contextmanager
    def begin(self) -> Iterator[UnitOfWork]:
        """A unit of work: committed when the block ends, rolled back when it raises."""
        with self._lock:
            with self._writer.begin() as conn:
                uow = UnitOfWork(conn)
                yield uow
            self._after_commit(uow)

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
                with self._engine.connect() as conn:
                    self._results.load(conn, consultation)
                reloaded.add(consultation_id)
        return reloaded

