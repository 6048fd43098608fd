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
