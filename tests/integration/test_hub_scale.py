"""Several hub processes on one PostgreSQL (issue 32, docs/deploy.md "Several processes"):
tallies shared through the results log, every exactly-once rule the database's, projectors
pushed from any process. Hubs in this process (each a `Hub` of its own: they share nothing
but the database) and real processes behind HAProxy."""
from __future__ import annotations

import asyncio
import json
import os
import threading
import time

import pytest

from app.paths import DEMO_BUNDLE_DIR
from server.hub import Hub
from server.settings import Settings
from tests.unit.conftest import enroll_tablet, pending_envelopes

from .test_postgres import pg_url  # noqa: F401  (the fixture: a database of the test's own)

pytestmark = pytest.mark.postgres
if not os.environ.get("PIAZZETTA_TEST_POSTGRES_URL"):
    pytest.skip("PIAZZETTA_TEST_POSTGRES_URL is not set", allow_module_level=True)


def _counted(hub, consultation_id) -> dict:
    body = json.loads(hub.read_results(consultation_id)[1])
    return {k: body[k] for k in ("revision", "ballots", "channels", "ideas", "questions")}


def _votes(store, consultation, n, seed=0):
    import random
    rng = random.Random(seed)
    for _ in range(n):
        ballot = store.start_ballot(consultation)
        store.record_answer(consultation, ballot, "q-ticket", rng.choice(["yes", "no"]))
        store.record_answer(consultation, ballot, "q-cooperation", rng.randint(1, 5))
        if rng.random() < 0.3:
            store.record_answer(consultation, ballot, "q-ticket", "abstain")
        store.close_ballot(ballot)


@pytest.fixture
def hubs(tmp_path, pg_url):  # noqa: F811
    """Three hubs ("processes") on one PostgreSQL database, the demo imported by the first."""
    made = []
    for i in range(3):
        made.append(Hub(Settings.from_env({}, data_dir=tmp_path / f"hub{i}",
                                          database_url=pg_url)))
        if i == 0:
            made[0].import_bundle(DEMO_BUNDLE_DIR)
    yield made
    for hub in made:
        hub.close()


def _until(check, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_every_process_holds_every_commit_once(hubs, demo):
    """The same batches pushed from threads to three processes, in overlapping slices: each
    process's results are a restart's (built from the rows), revision and ETag included."""
    store, device = enroll_tablet(hubs[0])
    _votes(store, demo, 30)
    envelopes = pending_envelopes(store)
    errors = []

    def push(hub):
        try:
            for start in range(0, len(envelopes), 5):
                hub.ingest(device, envelopes[start:start + 7])
        except Exception as exc:        # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(h,)) for h in hubs + hubs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert hubs[0].event_count() == len(envelopes)
    fresh = Hub(hubs[0].settings)
    try:
        rebuilt = _counted(fresh, demo.id)
        etag = fresh.read_results(demo.id)[0]
    finally:
        fresh.close()
    assert rebuilt["ballots"] == 30
    for hub in hubs:
        hub.units.catch_up()            # what its listener applies within moments anyway
        assert _counted(hub, demo.id) == rebuilt
        assert hub.read_results(demo.id)[0] == etag


def test_a_commit_in_one_process_wakes_the_streams_of_another(hubs, demo):
    """No read, no poll: the other process's listener (LISTEN/NOTIFY) applies the commit and
    tells its results streams, display controls included."""
    from server.display_controls import set_display
    writer, reader = hubs[0], hubs[1]
    assert _until(lambda: reader.listener.listening)
    store, device = enroll_tablet(writer)
    _votes(store, demo, 3)
    woken = []

    async def wait_for_change():
        waiter = reader.results.changes.subscribe(demo.id)
        try:
            await asyncio.wait_for(waiter[1].wait(), 30)
            woken.append(_counted(reader, demo.id)["ballots"])
        finally:
            reader.results.changes.unsubscribe(demo.id, waiter)

    async def scenario():
        task = asyncio.create_task(wait_for_change())
        await asyncio.sleep(0.1)
        await asyncio.to_thread(writer.ingest, device, pending_envelopes(store))
        await task
    asyncio.run(scenario())
    assert woken == [3]
    before = reader.results.changes.display(demo.id, lambda: None)
    set_display(writer, demo.id, {"view": "ideas"}, by="test")
    assert _until(lambda: reader.results.changes.display(
        demo.id, lambda: ("\"x.1\"", b"{}")) != before)
