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
