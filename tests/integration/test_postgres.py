"""The same hub on PostgreSQL (PIAZZETTA_TEST_POSTGRES_URL, e.g. from tools/start-postgres.sh):
one code path, the same guarantees."""
from __future__ import annotations

import os
import threading
import uuid

import pytest

from app.store import Store
from sync import protocol as p
from sync.client import HubClient
from sync.enroll import client_for, enroll
from sync.worker import push_pending

from .conftest import ballots_of, expected_results, record_votes, start_hub
from .faultproxy import FaultProxy

pytestmark = pytest.mark.postgres
BASE_URL = os.environ.get("PIAZZETTA_TEST_POSTGRES_URL")
if not BASE_URL:
    pytest.skip("PIAZZETTA_TEST_POSTGRES_URL is not set", allow_module_level=True)


@pytest.fixture
def pg_url():
    """A database of this test's own, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url
    base = make_url(BASE_URL)
    name = "piazzetta_" + uuid.uuid4().hex[:10]
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_hub(tmp_path, pg_url):
    process = start_hub(tmp_path / "hub", database_url=pg_url)
    yield process
    process.kill()


@pytest.mark.slow        # a chaos/kill test
def test_push_through_faults_and_restart_on_postgres(pg_hub, demo):
    store = Store.memory()
    enroll(store, pg_hub.url, pg_hub.code())
    record_votes(store, demo, 40, ideas=3)
    total = store.outbox_counts()["pending"]
    proxy = FaultProxy(pg_hub.port)
    proxy.add("cut_response", "reset_request", "http500", "portal")
    try:
        for _ in range(20):
            client = HubClient(proxy.url, store.device_id, store.get_setting(p.DEVICE_SECRET),
                               timeout=(2, 5))
            try:
                push_pending(store, client, 50)
                break
            except p.SyncError:
                pass
            finally:
                client.close()
    finally:
        proxy.close()
    assert store.outbox_counts() == {"pending": 0, "acknowledged": total}
    assert pg_hub.device_events(store.device_id) == total
    pg_hub.kill()
    pg_hub.start()   # tallies rebuilt from PostgreSQL
    results = pg_hub.results()
    assert results["questions"] == store.results(demo)
    assert results["ballots"] == 40 and results["ideas"]["received"] == 3
    idea = store.proposals(demo.id)[0]
    assert pg_hub.cli("answer-idea", idea.id, "--status", "under_study").returncode == 0
    from sync.content import pull_answers
    assert pull_answers(store, client_for(store)) == 1
    assert store.proposal(idea.id).answer_status == "under_study"
    store.close()


def test_concurrent_devices_on_postgres(pg_hub, demo):
    stores = []
    for i in range(8):
        store = Store.memory()
        enroll(store, pg_hub.url, pg_hub.code())
        record_votes(store, demo, 40, seed=i)
        stores.append(store)
    batches = [([e.envelope(s.device_id) for e in s.pending_events(limit=10_000)],
                s.device_id, s.get_setting(p.DEVICE_SECRET)) for s in stores]
    stored = [0] * len(stores)

    def push(i):
        envelopes, device_id, secret = batches[i]
        client = HubClient(pg_hub.url, device_id, secret, timeout=(5, 60))
        for start in range(0, len(envelopes), 50):
            chunk = envelopes[start:start + 50]
            stored[i] += sum(r["status"] == "stored" for r in client.push(chunk).values())
        # and everything once more: all duplicates
        for start in range(0, len(envelopes), 50):
            chunk = envelopes[start:start + 50]
            assert {r["status"] for r in client.push(chunk).values()} == {"duplicate"}

    threads = [threading.Thread(target=push, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert stored == [len(b[0]) for b in batches]
    results = pg_hub.results()
    assert results["ballots"] == ballots_of(stores, demo)
    assert results["questions"] == expected_results(stores, demo)


def test_cards_on_postgres_and_the_migration_of_an_old_database(tmp_path, pg_url, demo):
    """The participation cards' tables on PostgreSQL: a database of before (clear card codes,
    nullifiers) loses them when the hub starts on it; printed cards then vote once, and a card
    the hub did not issue is refused."""
    import sqlalchemy as sa

    from app.cards import CARD_PUBLIC_KEY, Card, read_card
    from sync.content import pull_bundles
    from .test_card_privacy import OLD_SCHEMA, printed_cards
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        for statement in filter(str.strip, OLD_SCHEMA.split(";")):
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql(
            "INSERT INTO signups VALUES ('k1', 'alpimed-2030', NULL, NULL, NULL, 'phone', 'Ada',"
            " 'ada@example.org', 'email', NULL, NULL, 'fr', 'ACDEFGHJ2345', 'h1',"
            " '2026-11-20T10:11:12.123+00:00', NULL)")
        conn.exec_driver_sql("INSERT INTO card_uses VALUES ('alpimed-2030', 'q-ticket', 'n1', 'b1')")
    engine.dispose()
    hub = start_hub(tmp_path / "hub", database_url=pg_url)
    try:
        engine = sa.create_engine(pg_url)
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("signups")}
            assert not {"card_code", "card_hash"} & columns
            assert conn.exec_driver_sql("SELECT name, created_at FROM signups").all() == \
                [("Ada", "2026-11-20T10:00:00+00:00")]
            assert conn.exec_driver_sql("SELECT count(*) FROM card_uses").scalar() == 0
        engine.dispose()
        store = Store.memory()
        enroll(store, hub.url, hub.code())
        client = client_for(store)
        try:
            pull_bundles(store, client, tmp_path / "bundles")
        finally:
            client.close()
        texts = printed_cards(hub, tmp_path, 2, "fr")
        cards = [read_card(t, demo.id, store.get_setting(CARD_PUBLIC_KEY)) for t in texts]
        invented = Card(demo.id, "HJKL", "M" * 13)
        other = Store.memory()                 # a second tablet: the first card again there
        enroll(other, hub.url, hub.code())
        rejected = 0
        for tablet, used in ((store, cards + [invented]), (other, cards[:1])):
            for card in used:
                ballot = tablet.start_ballot(demo, mode="identified")
                tablet.record_answer(demo, ballot, "q-ticket", "yes",
                                     card=card)
                tablet.close_ballot(ballot)
            client = client_for(tablet)
            try:
                rejected += push_pending(tablet, client)["rejected"]
            finally:
                client.close()
        # Two real cards count; the invented one and the second use of the first are refused.
        assert rejected == 2
        assert hub.results()["questions"]["q-ticket"]["counts"]["yes"] == 2
    finally:
        hub.kill()


def test_numbered_migrations_on_postgres(pg_url):
    """server/migrations.py on PostgreSQL: a database made before numbered steps (every
    table, the answers' counter, no schema_version) runs each step once, keeps its rows and
    ends with the schema of a new database; several hub processes starting at once migrate
    one at a time."""
    import sqlalchemy as sa

    from server import db
    from server.migrations import LATEST, current_version, migrate
    from tests.unit.test_hub_migrations import (bundles_stored_twice,
                                                check_bundles_stored_once,
                                                made_before_numbered_steps, schema)

    old = db.make_engine(pg_url)
    try:
        made_before_numbered_steps(old)
        with old.begin() as conn:
            conn.execute(db.devices.insert(), [{
                "id": "t1", "name": "", "platform": "", "secret_hash": "h",
                "enrolled_at": "2026-01-01", "alias": "aaaaaaaaaaaaaaaa"}])
        texts = bundles_stored_twice(old)
        assert current_version(old) == 0
        errors = []

        def start():
            try:
                migrate(old)
            except Exception as exc:       # noqa: BLE001 (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=start) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and current_version(old) == LATEST
        with old.connect() as conn:
            assert conn.execute(sa.select(db.devices.c.alias)).scalars().all() == [
                "aaaaaaaaaaaaaaaa"]
            assert conn.execute(sa.select(db.counters.c.value).where(
                db.counters.c.name.in_(["answers", "results"]))).scalars().all() == [0, 0]
            persistence = conn.exec_driver_sql(
                "SELECT relpersistence FROM pg_class WHERE relname = 'rate_counters'").scalar()
        assert persistence == "u"
        check_bundles_stored_once(old, texts)
        upgraded = schema(old)
        with old.begin() as conn:          # the same database, new: every step from nothing
            for table in sa.inspect(conn).get_table_names():
                conn.exec_driver_sql(f'DROP TABLE "{table}" CASCADE')
        assert migrate(old) == list(range(1, LATEST + 1))
        assert schema(old) == upgraded
    finally:
        old.dispose()


def test_closings_chain_on_postgres_even_made_at_once(tmp_path, pg_url, demo):
    """Closing records (server/closing.py) on PostgreSQL: hub migration 10 makes their table;
    closings made by several threads at once still form one chain (numbered one after the
    other, each committing to the one before), and each file verifies."""
    from app.paths import DEMO_BUNDLE_DIR
    from server import closing
    from server.hub import Hub
    from server.settings import Settings
    from tests.unit.conftest import enroll_tablet, push_pending
    hub = Hub(Settings.from_env({}, data_dir=tmp_path / "hub", database_url=pg_url))
    try:
        hub.import_bundle(DEMO_BUNDLE_DIR)
        store, device = enroll_tablet(hub)
        ballot = store.start_ballot(demo, site_id=device["site_id"], meeting_id="m-menton-1203")
        store.record_answer(demo, ballot, "q-ticket", "yes")
        push_pending(hub, store, device)
        errors = []

        def close():
            try:
                closing.make_for(hub, meeting_id="m-menton-1203")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        threads = [threading.Thread(target=close) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        records = closing.verify_chain(closing.documents(hub), closing.hub_public_key(hub))
        assert [r["number"] for r in records] == [1, 2, 3, 4, 5, 6]
        assert {r["ballots"]["per_channel"]["tablet"] for r in records} == {1}
    finally:
        hub.close()
