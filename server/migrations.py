"""The hub database's schema, brought up to date in numbered steps (SQLite and PostgreSQL), as
the tablet's store does (app/migrations.py).

`migrate(engine)` runs, in order, each step of MIGRATIONS whose number is above the one the
database records in `schema_version`, each in its own write transaction together with the new
number: a step is done whole or not at all, and once. A database made before this table
existed (version 0) runs them all: each step looks for what it changes, so it does nothing
where the hub that made the database had done it already. For the same reason a step added
later finds its table or column before making it: on a new database, step 3 makes every
table of server/db.py as it is now. A table or column added to server/db.py needs its step
(`table.create(conn, checkfirst=True)`, an ALTER TABLE when the column is missing): step 3
does not run again on a database that ran it.

A step that frees the pages of personal data (`vacuum=True`) has the SQLite file rewritten
once it committed, so that what it removed is gone from the file and its WAL.

Several hub processes may start on one PostgreSQL database: each step's transaction holds a
transaction-scoped advisory lock and reads the version again inside it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, select, text, update
from sqlalchemy.engine import Connection, Engine

from . import db

# Its own metadata: not among the tables step 3 makes, so that a database of before reads as
# version 0 until this module made the table.
version_metadata = MetaData()
schema_version = Table(
    "schema_version", version_metadata,
    Column("id", Integer, primary_key=True),          # always 1: one row
    Column("version", Integer, nullable=False),
    Column("name", String(80), nullable=False),       # the last step's, for people reading it
)
ADVISORY_LOCK = 0x5049415A  # "PIAZ": hub processes on one PostgreSQL migrate one at a time


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    apply: Callable[[Connection], bool | None]   # True/None: done; False: nothing to do here
    vacuum: bool = False                          # SQLite: rewrite the file when it did something


def _columns(conn: Connection, table: str) -> set[str]:
    inspector = inspect(conn)
    return ({c["name"] for c in inspector.get_columns(table)}
            if inspector.has_table(table) else set())


# -- the steps ------------------------------------------------------------------------------------

def remove_card_links(conn: Connection) -> bool:
    """A hub database of before the anonymous cards kept each sign-up's card code in clear
    (`signups.card_code`, `card_hash`) and a nullifier per answer (`card_uses.nullifier`, and
    `nullifier` in stored answer events): joined, they named who voted what. Remove all of
    it: the sign-ups are copied into the new table without the card columns (card_issued = no:
    the old cards are no longer valid; times to the hour), the old card uses are dropped, the
    nullifiers taken out of stored events. False when there was nothing of it."""
    from app.canonical import canonical_json
    from app.clock import now_iso
    signup_columns, use_columns = _columns(conn, "signups"), _columns(conn, "card_uses")
    if "card_code" not in signup_columns and "nullifier" not in use_columns:
        return False
    if "card_code" in signup_columns:
        conn.exec_driver_sql("DROP INDEX IF EXISTS signups_attribution")
        conn.exec_driver_sql("ALTER TABLE signups RENAME TO signups_before_cards")
        db.signups.create(conn)
        keep = ("id", "consultation_id", "site_id", "meeting_id", "device_id", "channel",
                "name", "contact", "contact_kind", "age_bracket", "neighbourhood", "lang")
        rows = conn.execute(text(
            f"SELECT {', '.join(keep)}, created_at, confirmed_at FROM signups_before_cards"
        )).all()
        if rows:
            conn.execute(db.signups.insert(), [
                {**dict(zip(keep, row[:len(keep)])),
                 # A time the hour rule cannot read is not kept as it was (to the second).
                 "created_at": db.hour(row.created_at) or db.hour(now_iso()),
                 "confirmed_at": db.hour(row.confirmed_at), "card_issued": False}
                for row in rows])
        conn.exec_driver_sql("DROP TABLE signups_before_cards")
    if "nullifier" in use_columns:
        conn.exec_driver_sql("DROP TABLE card_uses")
    present = set(inspect(conn).get_table_names())
    for table, column in ((db.events, "payload"), (db.event_reviews, "envelope")):
        if table.name not in present:
            continue
        keys = [c for c in table.primary_key.columns]
        found = conn.execute(select(*keys, table.c[column]).where(
            table.c[column].like('%"nullifier"%'))).all()
        for row in found:
            try:
                data = json.loads(row[-1])
            except ValueError:
                continue
            inner = data.get("payload") if column == "envelope" and isinstance(
                data, dict) else data
            if isinstance(inner, dict):
                inner.pop("nullifier", None)
            conn.execute(table.update().where(
                *[k == v for k, v in zip(keys, row[:-1])]).values(
                {column: canonical_json(data)}))
    return True


def remove_card_keys(conn: Connection) -> bool:
    """`issued_cards` of before kept, per card, the tablets' check and the card's answer key
    `k`, and `k` alone made valid proofs: every hub and room hub holding the rows could vote
    with any card. The table is made again with the new columns; each old card keeps its
    lookup ID (not issued again), without a public key: it no longer votes (`card_outdated`)."""
    if "answer_key" not in _columns(conn, "issued_cards"):
        return False
    rows = conn.execute(text("SELECT consultation_id, lookup FROM issued_cards")).all()
    conn.exec_driver_sql("DROP TABLE issued_cards")
    db.issued_cards.create(conn)
    for chunk in db.in_chunks([{"consultation_id": c, "lookup": lookup}
                               for c, lookup in rows], 500):
        conn.execute(db.issued_cards.insert(), chunk)
    return True


def make_tables(conn: Connection) -> None:
    """Every table of server/db.py the database lacks (all of them on a new database)."""
    db.metadata.create_all(conn)


def signups_without_order(conn: Connection) -> bool:
    """SQLite: a `signups` table of before kept its rows in insertion order (a rowid table):
    the order people signed up in, beside the order cards were first used in. Rebuild it
    WITHOUT ROWID (rows in the order of their random IDs)."""
    if conn.dialect.name != "sqlite":
        return False
    made = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' "
                                "AND name = 'signups'").scalar() or ""
    if "WITHOUT ROWID" in made.upper():
        return False
    names = [c.name for c in db.signups.columns]
    conn.exec_driver_sql("DROP INDEX IF EXISTS signups_attribution")
    conn.exec_driver_sql("ALTER TABLE signups RENAME TO signups_in_order")
    db.signups.create(conn)
    conn.exec_driver_sql(f"INSERT INTO signups ({', '.join(names)}) SELECT "
                         f"{', '.join(names)} FROM signups_in_order ORDER BY id")
    conn.exec_driver_sql("DROP TABLE signups_in_order")
    return True


def unlogged(conn: Connection) -> bool:
    """PostgreSQL: the sign-ups' stage (server/stage.py) made, and the rate-limit counters
    made UNLOGGED (an older database's too): neither is ever in the WAL. A crash empties both:
    the counters start again (the limits forgive once), the stage's loss is docs/deploy.md's."""
    if conn.dialect.name != "postgresql":
        return False
    db.stage_metadata.create_all(conn)
    logged = conn.exec_driver_sql(
        "SELECT relpersistence FROM pg_class WHERE relname = 'rate_counters' "
        "AND relnamespace = current_schema()::regnamespace").scalar()
    if logged == "p":
        conn.exec_driver_sql("ALTER TABLE rate_counters SET UNLOGGED")
    return True


# Columns added to tables after their first release (create_all makes missing tables, never
# missing columns).
ADDED_COLUMNS = (("devices", "alias"), ("devices", "enrolled_by"),
                 ("enrollment_codes", "for_device"), ("enrollment_codes", "credential_hash"),
                 ("proposals", "place"), ("proposals", "lang"), ("devices", "kind"),
                 ("enrollment_codes", "kind"))


def added_columns(conn: Connection) -> bool:
    """The columns of ADDED_COLUMNS an older database lacks, and the indexes on them."""
    present = {name: _columns(conn, name) for name in {table for table, _ in ADDED_COLUMNS}}
    missing = [(t, c) for t, c in ADDED_COLUMNS if c not in present[t]]
    for table_name, column_name in missing:
        column = db.metadata.tables[table_name].c[column_name]
        kind = column.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f'ALTER TABLE {table_name} ADD COLUMN {column_name} {kind}')
    for index in db.metadata.tables["devices"].indexes:
        index.create(conn, checkfirst=True)
    return bool(missing)


def answers_counter(conn: Connection) -> bool:
    """The counter that numbers staff's answers to ideas (the cursor devices pull them by)."""
    present = conn.execute(select(db.counters.c.name)).scalars().all()
    if "answers" in present:
        return False
    conn.execute(db.counters.insert(), [{"name": "answers", "value": 0}])
    return True


def device_aliases(conn: Connection) -> bool:
    """Devices enrolled before aliases existed get one (their tablets learn it from
    GET /api/v1/device)."""
    from .devices import new_alias
    lacking = conn.execute(select(db.devices.c.id).where(
        db.devices.c.alias.is_(None))).scalars().all()
    for device_id in lacking:
        conn.execute(update(db.devices).where(db.devices.c.id == device_id,
                                              db.devices.c.alias.is_(None))
                     .values(alias=new_alias()))
    return bool(lacking)


def bundle_stored_once(conn: Connection) -> bool:
    """`consultations.bundle` of before held the current version's bundle.json a second time
    (consultation_versions holds every version's). A current version that has no row of its own
    there gets one from it; then the column goes."""
    if "bundle" not in _columns(conn, "consultations"):
        return False
    rows = conn.execute(text(
        "SELECT c.id, c.version, c.bundle, c.sha256, c.imported_at FROM consultations c "
        "WHERE NOT EXISTS (SELECT 1 FROM consultation_versions v "
        "WHERE v.consultation_id = c.id AND v.version = c.version)")).all()
    if rows:
        conn.execute(db.consultation_versions.insert(), [
            {"consultation_id": r.id, "version": r.version, "bundle": r.bundle,
             "sha256": r.sha256, "imported_at": r.imported_at} for r in rows])
    conn.exec_driver_sql("ALTER TABLE consultations DROP COLUMN bundle")
    return True


def closing_records(conn: Connection) -> bool:
    """The tables of closing records (server/closing.py): this hub's, and its room hubs'."""
    present = set(inspect(conn).get_table_names())
    made = False
    for table in (db.closings, db.relay_closings):
        if table.name not in present:
            table.create(conn)
            made = True
    return made


def decidim_outbox(conn: Connection) -> bool:
    """The Decidim connector's outbox (server/connectors/decidim.py)."""
    if inspect(conn).has_table(db.decidim_outbox.name):
        return False
    db.decidim_outbox.create(conn)
    return True


def results_log(conn: Connection) -> bool:
    """PostgreSQL: the results log (server.unit_of_work) and its revision counter, so that
    several hub processes share the tallies."""
    if conn.dialect.name != "postgresql":
        return False
    import secrets
    db.shared_metadata.create_all(conn)
    present = set(conn.execute(select(db.counters.c.name)).scalars())
    if "results" not in present:
        conn.execute(db.counters.insert(), [{"name": "results", "value": 0}])
    if "results_epoch" not in present:      # the results' ETags name the database
        conn.execute(db.counters.insert(), [{"name": "results_epoch",
                                             "value": secrets.randbits(40)}])
    return True


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "remove the card links of before", remove_card_links, vacuum=True),
    Migration(2, "remove the card keys of before", remove_card_keys),
    Migration(3, "make the tables", make_tables),
    Migration(4, "sign-ups without insertion order", signups_without_order, vacuum=True),
    Migration(5, "unlogged stage and rate counters", unlogged),
    Migration(6, "columns added since the first release", added_columns),
    Migration(7, "the answers counter", answers_counter),
    Migration(8, "device aliases", device_aliases),
    Migration(9, "the bundle stored once", bundle_stored_once),
    Migration(10, "closing records", closing_records),
    Migration(11, "the Decidim connector's outbox", decidim_outbox),
    Migration(12, "rehearsal tables", make_tables),
    Migration(13, "the results log", results_log),
)
LATEST = MIGRATIONS[-1].number


def current_version(engine_or_conn) -> int:
    """The number of the last step the database ran (0: made before numbered steps)."""
    if not inspect(engine_or_conn).has_table(schema_version.name):
        return 0
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            return current_version(conn)
    return engine_or_conn.execute(select(schema_version.c.version)).scalar() or 0


def migrate(engine: Engine, steps: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Run the steps the database has not run yet, each once in its own transaction; the
    numbers of those that ran."""
    writer = db.writer(engine)
    with writer.begin() as conn:
        _lock(conn)
        version_metadata.create_all(conn)
    ran = []
    for step in steps:
        with writer.begin() as conn:
            _lock(conn)
            if current_version(conn) >= step.number:
                continue
            changed = step.apply(conn) is not False
            _record(conn, step)
        ran.append(step.number)
        if step.vacuum and changed:
            _rewrite_file(engine)
    return ran


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})


def _record(conn: Connection, step: Migration) -> None:
    done = conn.execute(update(schema_version).where(schema_version.c.id == 1).values(
        version=step.number, name=step.name))
    if done.rowcount == 0:
        conn.execute(schema_version.insert(), [{"id": 1, "version": step.number,
                                                "name": step.name}])


def _rewrite_file(engine: Engine) -> None:
    """SQLite: the file rewritten (VACUUM) and the WAL emptied, so that the freed pages of
    what a step removed are gone. PostgreSQL: docs/deploy.md says what its files keep."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.execute("VACUUM")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
