"""The hub's one way to write (server/unit_of_work.py): tallies change only once a unit of work
committed, a unit of work runs again when another process got there first, a tally kept for an
older version is rebuilt once (not counted twice), and no other module spells the writer's
lock or the tallies' update."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.paths import DEMO_BUNDLE_DIR
from server import db
from server.errors import HubError
from server.hub import Hub
from server.results import BallotDelta

ROOT = Path(__file__).resolve().parents[2]


def ballots(hub, consultation_id):
    return json.loads(hub.read_results(consultation_id)[1])["ballots"]


def test_tallies_change_when_the_unit_of_work_commits_and_not_when_it_rolls_back(hub, demo):
    before = ballots(hub, demo.id)
    with pytest.raises(HubError):
        with hub.unit_of_work() as uow:
            uow.tally(BallotDelta(demo.id, 2))
            raise HubError("refused")
    assert ballots(hub, demo.id) == before
    with hub.unit_of_work() as uow:
        uow.tally(BallotDelta(demo.id, 2))
        assert ballots(hub, demo.id) == before      # not before the commit
    assert ballots(hub, demo.id) == before + 2


def test_a_unit_of_work_runs_again_when_another_writer_stored_the_row_first(hub):
    with hub.writer.begin() as conn:      # "another process" stored the row meanwhile
        conn.execute(db.counters.insert(), [{"name": "other", "value": 7}])
    tries = []

    def work(uow):
        tries.append(1)
        if len(tries) == 1:     # decided on what it read before the other's commit
            uow.conn.execute(db.counters.insert(), [{"name": "other", "value": 1}])
        return uow.conn.execute(select(db.counters.c.value).where(
            db.counters.c.name == "other")).scalar()

    assert hub.units.run(work) == 7 and len(tries) == 2
    tries.clear()
    with pytest.raises(IntegrityError):
        hub.units.run(lambda uow: work(tries.clear() or uow), attempts=1)


def test_a_version_imported_by_another_process_is_followed_once_not_counted_twice(
        hub, demo, tablet, push):
    other = Hub(hub.settings)           # a second hub process on the same database
    try:
        data = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text())
        data["consultation"]["version"] = 2
        other.import_bundle(data)
        store, device = tablet(hub)
        ballot = store.start_ballot(demo)
        store.record_answer(demo, ballot, "q-themes", ["health"])
        assert [r["status"] for r in push(hub, store, device)] == ["stored", "stored"]
        body = json.loads(hub.read_results(demo.id)[1])
        assert body["version"] == 2 and body["ballots"] == 1
        fresh = Hub(hub.settings)       # what a restart reads from the database
        try:
            again = json.loads(fresh.read_results(demo.id)[1])
        finally:
            fresh.close()
        assert again["questions"] == body["questions"] and again["ballots"] == 1
    finally:
        other.close()


def test_only_the_unit_of_work_holds_the_writer_lock_and_applies_tallies():
    found = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "server/unit_of_work.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(r"\bwrite_lock\b|results\.apply\(|threading\.RLock\(", line):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert found == []


# -- each event counted once: a batch sent again, batches at once, a batch cut midway ----------

def _counted(hub, consultation_id) -> dict:
    body = json.loads(hub.read_results(consultation_id)[1])
    return {k: body[k] for k in ("ballots", "channels", "ideas", "questions")}


def _rebuilt(hub, consultation_id) -> dict:
    """The tallies a restart builds from the database."""
    fresh = Hub(hub.settings)
    try:
        return _counted(fresh, consultation_id)
    finally:
        fresh.close()


def _ballots(store, demo, n):
    for _ in range(n):
        ballot = store.start_ballot(demo)
        store.record_answer(demo, ballot, "q-themes", ["health"])


def test_a_batch_sent_again_through_the_api_is_counted_once(hub, demo, tablet, pending):
    from fastapi.testclient import TestClient
    from server.api import create_app
    store, device = tablet(hub)
    _ballots(store, demo, 3)
    envelopes = pending(store)
    client = TestClient(create_app(hub=hub))
    auth = {"Authorization": f"Bearer {store.device_id}:{device['secret']}"}
    statuses = []
    for events in (envelopes, envelopes, envelopes + envelopes):
        answer = client.post("/api/v1/events", json={"events": events}, headers=auth)
        assert answer.status_code == 200
        statuses.append({r["status"] for r in answer.json()["results"]})
    assert statuses == [{"stored"}, {"duplicate"}, {"duplicate"}]
    assert _counted(hub, demo.id)["ballots"] == 3
    assert _counted(hub, demo.id) == _rebuilt(hub, demo.id)


def test_the_same_batches_from_threads_and_two_processes_are_counted_once(
        hub, demo, tablet, pending):
    import threading
    other = Hub(hub.settings)           # a second hub process on the same database
    try:
        store, device = tablet(hub)
        _ballots(store, demo, 20)
        envelopes = pending(store)
        errors = []

        def push(h):
            try:
                for start in range(0, len(envelopes), 5):   # overlapping slices
                    h.ingest(device, envelopes[start:start + 7])
            except Exception as exc:        # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=push, args=(h,)) for h in (hub, other, hub, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert hub.event_count() == 40
        rebuilt = _rebuilt(hub, demo.id)
        assert rebuilt["ballots"] == 20
        # Each process's tallies hold its own commits once: together, exactly what the
        # database holds. (A ballot's answer and its close can land in different processes'
        # batches — the slices overlap — so one process alone need not pair them.)
        mine, theirs = _counted(hub, demo.id), _counted(other, demo.id)
        assert mine["ballots"] + theirs["ballots"] == rebuilt["ballots"] == 20
        health = [t["questions"]["q-themes"]["counts"].get("health", 0)
                  for t in (mine, theirs, rebuilt)]
        assert health[0] + health[1] == health[2] == 20
    finally:
        other.close()


def test_a_batch_cut_midway_changes_neither_the_tallies_nor_the_database(
        hub, demo, tablet, pending, monkeypatch):
    from server.ingest import Batch
    store, device = tablet(hub)
    _ballots(store, demo, 3)
    envelopes = pending(store)
    before = _counted(hub, demo.id)
    run = Batch.run

    def cut(self, envs):
        run(self, envs[:3])             # three events written in the transaction, then…
        raise ConnectionError("cut")

    monkeypatch.setattr(Batch, "run", cut)
    with pytest.raises(ConnectionError):
        hub.ingest(device, envelopes)
    monkeypatch.setattr(Batch, "run", run)
    assert _counted(hub, demo.id) == before and hub.event_count() == 0
    assert {r["status"] for r in hub.ingest(device, envelopes)} == {"stored"}
    assert _counted(hub, demo.id)["ballots"] == 3
    assert _counted(hub, demo.id) == _rebuilt(hub, demo.id)


def test_an_import_whose_commit_fails_leaves_no_parsed_consultation_in_memory(hub, demo):
    """The parsed consultation is remembered once the import committed: a transaction rolled
    back (here its COMMIT refused) leaves memory as the database is."""
    from sqlalchemy import event
    data = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text())
    data["consultation"]["version"] = 2
    data["consultation"]["title"]["fr"] = "Jamais enregistrée"

    def refuse(_conn):
        raise RuntimeError("the commit failed")

    event.listen(hub.engine, "commit", refuse)
    try:
        with pytest.raises(RuntimeError):
            hub.import_bundle(data)
    finally:
        event.remove(hub.engine, "commit", refuse)
    assert hub.consultation(demo.id).version == 1
    assert hub.consultation(demo.id, 2) is None      # nothing cached that was never stored
    data["consultation"]["title"]["fr"] = "Enregistrée"
    hub.import_bundle(data)
    assert hub.consultation(demo.id, 2).title["fr"] == "Enregistrée"


def test_what_a_unit_of_work_does_on_commit_happens_only_once_it_committed(hub):
    done = []
    with pytest.raises(HubError):
        with hub.unit_of_work() as uow:
            uow.on_commit(lambda: done.append("rolled back"))
            raise HubError("refused")
    with hub.unit_of_work() as uow:
        uow.on_commit(lambda: done.append("committed"))
        assert done == []
    assert done == ["committed"]
