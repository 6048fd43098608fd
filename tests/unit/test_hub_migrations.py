"""The hub database's numbered migrations (server/migrations.py), on SQLite: a new database
runs every step once; a database made before numbered steps (what the hub made until now:
`create_all`, then its added columns and one-offs at every start) upgrades without losing a
row and ends with the schema of a new one; an older one gets its added columns and aliases;
a step that fails leaves nothing of itself. PostgreSQL: tests/integration/test_postgres.py."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, inspect, select

from app.paths import DEMO_BUNDLE_DIR
from server import db, migrations
from server.hub import Hub
from server.migrations import LATEST, MIGRATIONS, Migration, current_version, migrate
from server.settings import Settings


def schema(engine) -> dict:
    """Every table's columns (name, type, nullable) and indexes, as the database has them."""
    found = inspect(engine)
    return {table: ([(c["name"], str(c["type"]), c["nullable"])
                     for c in found.get_columns(table)],
                    sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                           for i in found.get_indexes(table)))
            for table in sorted(found.get_table_names())}


# `consultations` as hubs before step 9 made it: the current version's bundle.json in it too.
consultations_of_before = Table(
    "consultations", MetaData(),
    Column("id", String(db.ID), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("bundle", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("site_ids", Text, nullable=False),
    Column("imported_at", String(40), nullable=False),
)


def made_before_numbered_steps(engine) -> None:
    """What the hub of before made of a new database: every table (create_all, consultations
    with their bundle) and the answers' counter, without `schema_version`."""
    db.metadata.create_all(engine, tables=[t for t in db.metadata.sorted_tables
                                           if t.name != "consultations"])
    consultations_of_before.create(engine)
    with engine.begin() as conn:
        conn.execute(db.counters.insert(), [{"name": "answers", "value": 0}])


def test_a_new_database_runs_every_step_once(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    try:
        assert current_version(engine) == 0
        assert migrate(engine) == [m.number for m in MIGRATIONS]
        assert current_version(engine) == LATEST
        assert migrate(engine) == []                      # nothing twice
        assert set(db.metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert conn.execute(select(db.counters.c.value).where(
                db.counters.c.name == "answers")).scalar() == 0
            assert conn.execute(select(migrations.schema_version)).all() == [
                (1, LATEST, MIGRATIONS[-1].name)]
    finally:
        engine.dispose()


def test_a_database_made_before_numbered_steps_upgrades_with_every_row(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    engine = db.make_engine(f"sqlite:///{old / 'hub.sqlite3'}")
    made_before_numbered_steps(engine)
    engine.dispose()
    # The hub of before at work on it: data in most tables.
    settings = Settings.from_env({}, data_dir=old)
    hub = Hub(settings)
    try:
        hub.import_bundle(DEMO_BUNDLE_DIR)
        code = hub.make_enrollment_code("menton-mediatheque")
        enrolled = hub.enroll(code["code"], "tablet-1")
        results = hub.read_results("alpimed-2030")[1]
    finally:
        hub.close()
    # Made again as the hub of before left it (no schema_version), then opened again.
    engine = db.make_engine(f"sqlite:///{old / 'hub.sqlite3'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE schema_version")
    with engine.connect() as conn:
        before = {t: conn.execute(select(db.metadata.tables[t])).all()
                  for t in ("devices", "consultations", "counters", "sites", "enrollment_codes")}
    engine.dispose()
    hub = Hub(settings)
    try:
        assert current_version(hub.engine) == LATEST
        with hub.engine.connect() as conn:
            after = {t: conn.execute(select(db.metadata.tables[t])).all() for t in before}
        assert after == before                     # the aliases too: none made again
        assert hub.authenticate(f"Bearer tablet-1:{enrolled['device_secret']}")["id"] \
            == "tablet-1"
        assert json.loads(hub.read_results("alpimed-2030")[1]) == json.loads(results)
        upgraded = schema(hub.engine)
    finally:
        hub.close()
    fresh = db.make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        migrate(fresh)
        assert upgraded == schema(fresh)
    finally:
        fresh.dispose()


def bundles_stored_twice(engine) -> dict[str, str]:
    """Two consultations as a hub of before stored them: "a" at version 2 with both versions
    in consultation_versions, "b" whose current version has no row there (a database older
    still). Its bundle.json text by consultation."""
    texts = {"a": '{"consultation":{"id":"a","version":2}}',
             "b": '{"consultation":{"id":"b","version":1}}'}
    with engine.begin() as conn:
        conn.execute(consultations_of_before.insert(), [
            {"id": "a", "version": 2, "bundle": texts["a"], "sha256": "2" * 64,
             "site_ids": "[]", "imported_at": "2026-01-02T00:00:00+00:00"},
            {"id": "b", "version": 1, "bundle": texts["b"], "sha256": "b" * 64,
             "site_ids": "[]", "imported_at": "2026-01-03T00:00:00+00:00"}])
        conn.execute(db.consultation_versions.insert(), [
            {"consultation_id": "a", "version": 1, "bundle": "{}", "sha256": "1" * 64,
             "imported_at": "2026-01-01T00:00:00+00:00"},
            {"consultation_id": "a", "version": 2, "bundle": texts["a"], "sha256": "2" * 64,
             "imported_at": "2026-01-02T00:00:00+00:00"}])
    return texts


def check_bundles_stored_once(engine, texts: dict[str, str]) -> None:
    """After step 9: no `bundle` column in consultations, each current version's text once."""
    assert "bundle" not in {c["name"] for c in inspect(engine).get_columns("consultations")}
    versions = db.consultation_versions
    with engine.connect() as conn:
        rows = conn.execute(select(versions.c.consultation_id, versions.c.version,
                                   versions.c.bundle, versions.c.sha256)
                            .order_by(versions.c.consultation_id, versions.c.version)).all()
        current = conn.execute(select(db.consultations.c.id, db.consultations.c.version)
                               .order_by(db.consultations.c.id)).all()
    assert [tuple(r) for r in rows] == [("a", 1, "{}", "1" * 64), ("a", 2, texts["a"], "2" * 64),
                                        ("b", 1, texts["b"], "b" * 64)]
    assert [tuple(r) for r in current] == [("a", 2), ("b", 1)]


def test_the_bundle_of_before_is_kept_once_in_its_version(tmp_path):
    """Step 9 on SQLite (PostgreSQL: tests/integration/test_postgres.py)."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    try:
        made_before_numbered_steps(engine)
        texts = bundles_stored_twice(engine)
        assert 9 in migrate(engine)
        check_bundles_stored_once(engine, texts)
    finally:
        engine.dispose()
    settings = Settings.from_env({}, data_dir=tmp_path / "hub")
    hub = Hub(settings)
    try:
        hub.import_bundle(DEMO_BUNDLE_DIR)
        sha, raw = hub.bundle_json("alpimed-2030")
        assert json.loads(raw)["consultation"]["version"] == hub.consultation(
            "alpimed-2030").version
    finally:
        hub.close()


def test_an_older_database_gets_the_columns_added_since_and_aliases(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE devices (id VARCHAR(64) PRIMARY KEY, site_id VARCHAR(64), "
                "name VARCHAR(200) NOT NULL, platform VARCHAR(100) NOT NULL, "
                "secret_hash VARCHAR(64) NOT NULL, enrolled_at VARCHAR(40) NOT NULL, "
                "revoked_at VARCHAR(40), last_seen_at VARCHAR(40))")
            conn.exec_driver_sql(
                "INSERT INTO devices VALUES ('t1', 's', '', '', 'h', '2026-01-01', NULL, NULL)")
        assert 6 in migrate(engine)
        with engine.connect() as conn:
            row = conn.execute(select(db.devices).where(db.devices.c.id == "t1")).one()
        assert row.secret_hash == "h" and len(row.alias) == 16 and row.kind is None
        assert ("devices_alias", ("alias",), True) in schema(engine)["devices"][1]
    finally:
        engine.dispose()


def test_a_step_that_fails_leaves_nothing_of_itself_and_runs_again_next_time(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    scratch = Table("scratch", db.MetaData(), Column("id", String(8), primary_key=True))

    def half_done(conn):
        scratch.create(conn)
        raise RuntimeError("the disk is full")

    try:
        migrate(engine)
        with pytest.raises(RuntimeError):
            migrate(engine, MIGRATIONS + (Migration(LATEST + 1, "scratch", half_done),))
        assert current_version(engine) == LATEST
        assert not inspect(engine).has_table("scratch")
        done = migrate(engine, MIGRATIONS + (
            Migration(LATEST + 1, "scratch", lambda conn: scratch.create(conn)),))
        assert done == [LATEST + 1] and inspect(engine).has_table("scratch")
        assert current_version(engine) == LATEST + 1
    finally:
        engine.dispose()


def test_steps_are_numbered_one_by_one():
    assert [m.number for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_a_card_era_sign_up_time_that_is_no_iso_time_keeps_no_more_than_an_hour(tmp_path):
    """Step 1 copies the sign-ups of the card era with their times to the hour. A time the
    hour rule cannot read (app.clock.to_hour: None) must not be copied as it was, to the second
    (invariant 9: no fine time beside a person); it takes the hour of the migration."""
    import sqlite3
    path = tmp_path / "hub.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE signups (id VARCHAR(64) PRIMARY KEY, consultation_id VARCHAR(64),
              site_id VARCHAR(64), meeting_id VARCHAR(64), device_id VARCHAR(64),
              channel VARCHAR(20) NOT NULL, name TEXT, contact TEXT, contact_kind VARCHAR(10),
              age_bracket VARCHAR(20), neighbourhood VARCHAR(64), lang VARCHAR(5) NOT NULL,
              card_code VARCHAR(20) NOT NULL, card_hash VARCHAR(64) NOT NULL UNIQUE,
              created_at VARCHAR(40) NOT NULL, confirmed_at VARCHAR(40));""")
        conn.execute("INSERT INTO signups VALUES ('s-1', 'c', NULL, NULL, NULL, 'phone', 'A',"
                     " 'a@example.org', 'email', NULL, NULL, 'fr', 'ACDE', 'h1',"
                     " '2026-11-20T10:13:37.123+00:00Z', '2026-11-20T10:14:41.5+00:00Z')")
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        with engine.connect() as conn:
            created, confirmed = conn.execute(select(
                db.signups.c.created_at, db.signups.c.confirmed_at)).one()
    finally:
        engine.dispose()
    assert created.endswith(":00:00+00:00") and confirmed is None
    raw = b"".join(f.read_bytes() for f in tmp_path.glob("hub.sqlite3*"))
    assert b"10:13:37" not in raw and b"10:14:41" not in raw
