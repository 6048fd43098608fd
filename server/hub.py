"""What the hub does, independent of HTTP: one object, `Hub`, that the API (server.api), the
admin CLI (server.admin) and the room hub (server.room) hold, in front of one part per resource:
consultations and bundles (server.content), sites, enrollment and devices (server.devices),
events (server.events), ideas and their answers (server.proposals), sign-ups and cards
(server.participation), and the results kept in memory (server.results).

Ingest is exactly-once by construction: the events table's primary key is the event ID, checked
in the same transaction that applies the event to ballots, answers and ideas. The hub builds the
registry of ingest extensions (server.ingest) and runs each batch as a unit of work
(server.unit_of_work). Tallies are the domain's (app.tally), kept in memory and updated after
each commit (server.results).
"""
from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select

from app.errors import BundleError

from . import ballots, channels, db, ideas, migrations, rehearsal, relay
from .content import Content
from .content import incompatible_question  # noqa: F401  (its path before the split)
from .devices import DeviceRegister, Enrollment, SiteRegister
# Their path before the split, which other modules and tests import.
from .devices import check_device_id, enrollment_qr_payload, same_secret  # noqa: F401
from .events import EventLog
from .ingest import IngestRegistry
from .participation import Participation
from .proposals import IdeaRegister
from .results import ResultsCache
from .settings import Settings, private_dir
from .stage import Stage
from .unit_of_work import ResultsListener, UnitsOfWork

log = logging.getLogger("piazzetta.hub")


def _part(part: str, name: str) -> property:
    """`hub.<name>` is `hub.<part>.<name>`: the callers keep one front while each resource
    lives in its own module."""
    return property(lambda hub: getattr(getattr(hub, part), name),
                    doc=f"{part}.{name} (server.hub.Hub's front)")


class Hub:
    """The hub's state behind one database. Thread-safe: the API calls it from many threads."""

    def __init__(self, settings: Settings):
        self.settings = settings.with_secrets()
        self.engine = db.make_engine(self.settings.database_url)
        self.writer = db.writer(self.engine)
        self._schema_ready()
        # One part per resource; the methods below (_part) keep one front for every caller.
        self.content = Content(self)
        self.site_register = SiteRegister(self)
        self.enrollment = Enrollment(self)
        self.device_register = DeviceRegister(self)
        self.event_log = EventLog(self)
        self.idea_register = IdeaRegister(self)
        self.results = ResultsCache(shared=not self.is_sqlite)
        # Every write that the tallies follow, or that must not interleave with one, is a unit
        # of work (server.unit_of_work): here, server.relay, server.channels, display controls.
        self.units = UnitsOfWork(self.engine, self.results, self.consultation)
        # PostgreSQL: sign-ups and confirmations wait out of the WAL until the hour's flush.
        self.stage = Stage(self.engine, self.writer)
        self.participation = Participation(self)
        self.ingest_registry = IngestRegistry([
            ballots.extension(), ideas.extension(), channels.count_extension(),
            self.participation.ingest_extension(), relay.extension(self),
            rehearsal.extension(self)])
        # Tablets in rehearsal, kept apart from everything above (server.rehearsal).
        self.rehearsal = rehearsal.Rehearsal(self)
        if self.units.shared:
            self.results.epoch = format(self.units.counter("results_epoch"), "x")
        with self.units.turn():
            self.units.load_all(self._load_results)
        # Several processes on one PostgreSQL: the others' commits reach these tallies.
        self.listener = ResultsListener(self.units, self.engine).start() \
            if self.units.shared else None
        self.stage.start()
        self.participation.start()

    def _schema_ready(self) -> None:
        if self.settings.database_url.startswith("sqlite"):
            private_dir(self.settings.data_dir)
        migrations.migrate(self.engine)
        if self.is_sqlite:
            self._private_database_files()

    def _private_database_files(self) -> None:
        """The SQLite file and its -wal/-shm readable by the hub's user only (sign-up contacts
        are in it). SQLite gives the -wal and -shm it makes later the file's own mode."""
        name = self.engine.url.database
        if not name or name == ":memory:" or name.startswith("file:"):
            return
        for path in (Path(name), Path(name + "-wal"), Path(name + "-shm")):
            try:
                if path.exists() and path.stat().st_mode & 0o077:
                    path.chmod(0o600)
            except PermissionError:
                log.warning("%s is readable by other users of this machine", path.name)

    def close(self) -> None:
        """Checkpoint the WAL into the file and truncate it (SQLite: nothing of the commits'
        order stays beside the database), then close every connection. PostgreSQL: the
        sign-ups' stage written to `signups` first (server/stage.py)."""
        if self.listener is not None:
            self.listener.stop()
        self.participation.stop()      # the pending confirmations, before the stage's flush
        self.stage.stop()
        try:
            db.forget_order(self.engine, attempts=20)
        except Exception:      # a database gone or locked: closing still closes
            log.warning("the WAL could not be checkpointed on close")
        self.engine.dispose()

    def unit_of_work(self):
        """A write transaction whose tally changes apply once it committed
        (server.unit_of_work)."""
        return self.units.begin()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    # -- the front: what the routes, the admin CLI and the tests call, by resource ---------------

    consultation = _part("content", "consultation")
    consultations = _part("content", "consultations")
    import_bundle = _part("content", "import_bundle")
    bundle_json = _part("content", "bundle_json")
    bundle_file = _part("content", "bundle_file")
    bundle_index = _part("content", "bundle_index")
    card_index = _part("content", "card_index")

    create_site = _part("site_register", "create_site")
    sites = _part("site_register", "sites")
    site_exists = _part("site_register", "site_exists")

    make_enrollment_code = _part("enrollment", "make_enrollment_code")
    enroll = _part("enrollment", "enroll")
    device_info = _part("enrollment", "device_info")

    authenticate = _part("device_register", "authenticate")
    device_by_alias = _part("device_register", "device_by_alias")
    is_admin = _part("device_register", "is_admin")
    devices = _part("device_register", "devices")
    revoke = _part("device_register", "revoke")
    reinstate = _part("device_register", "reinstate")

    ingest = _part("event_log", "ingest")
    reviews = _part("event_log", "reviews")
    event_count = _part("event_log", "event_count")
    last_ingest = _part("event_log", "last_ingest")

    proposals = _part("idea_register", "proposals")
    answer_proposal = _part("idea_register", "answer_proposal")
    answers_since = _part("idea_register", "answers_since")

    def readiness(self) -> dict:
        """Whether this process may take requests (GET /readyz): the database answers and its
        schema is the one this code migrates to; shared, the results revision it holds and
        whether its listener follows the other processes."""
        try:
            schema = migrations.current_version(self.engine)
        except Exception as exc:      # noqa: BLE001 - any failure: not ready, said why
            return {"ready": False, "database": False, "error": type(exc).__name__}
        state = {"ready": schema == migrations.LATEST, "database": True, "schema": schema,
                 "schema_expected": migrations.LATEST}
        if self.units.shared:
            state.update(results_revision=self.units.revision,
                         listening=bool(self.listener and self.listener.listening))
        return state

    # -- results ---------------------------------------------------------------------------------

    def _load_results(self, conn, revision: int | None) -> None:
        # The version the snapshot holds (shared: another process may import one meanwhile;
        # the results log then says so).
        rows = conn.execute(select(db.consultations.c.id, db.consultations.c.version)).all()
        for consultation_id, version in rows:
            try:
                consultation = self.consultation(consultation_id, version)
            except BundleError as exc:   # stored by an older hub with other rules
                log.error("consultation %s cannot be read: %s", consultation_id,
                          exc.describe())
                continue
            if consultation is not None:
                self.results.load(conn, consultation, revision)

    def read_results(self, consultation_id: str) -> tuple[str, bytes] | None:
        """(ETag, JSON body) of a consultation's results; None when unknown."""
        return self.results.read(consultation_id)
