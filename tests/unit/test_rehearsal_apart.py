"""Rehearsal (issue 30): a tablet's answers before the session opens are kept apart, never in a
tally, figure or export, at the tablet or the hub; opening the session wipes them on both, and
an event of the rehearsal arriving afterwards is refused."""
import json

import pytest
from sqlalchemy import func, select

from app.errors import StoreError
from app.kiosk import KioskSession
from server import db
from server.admin import export


def _rehearse(store, demo):
    """A facilitator's rehearsal on `store`: two residents' taps; the session."""
    session = KioskSession(store, demo)
    session.start_rehearsal()
    for value in ("yes", "no"):
        session.start()
        session.index = [q.id for q in demo.questions].index("q-ticket")
        session.record(value)
        session.finish()
    return session


def _count(hub, table):
    with hub.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_a_rehearsal_is_kept_apart_on_the_tablet_and_wiped_when_the_session_opens(store, demo):
    session = _rehearse(store, demo)
    assert session.in_rehearsal
    assert store.conn.execute("SELECT count(*) FROM ballots").fetchone()[0] == 0
    assert store.conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    assert store.results(demo)["q-ticket"]["counts"] == {"yes": 0, "no": 0, "abstain": 0}
    assert store.figures(demo.id)["ballots"] == 0
    assert store.rehearsal_tallies(demo)["q-ticket"].result()["counts"] == {"yes": 1, "no": 1, "abstain": 0}
    types = [e.type for e in store.events()]
    assert types == ["rehearsal_started", "rehearsal_answer", "rehearsal_answer"]
    assert session.open_session() == 2
    assert not session.in_rehearsal and store.rehearsal_ballots(demo.id) == 0
    assert [e.type for e in store.events()][-1] == "rehearsal_ended"
    session.start()
    session.index = [q.id for q in demo.questions].index("q-ticket")
    session.record("yes")
    session.finish()
    assert store.results(demo)["q-ticket"]["counts"] == {"yes": 1, "no": 0, "abstain": 0}


def test_a_ballot_never_crosses_between_rehearsal_and_session(store, demo):
    session = KioskSession(store, demo)
    session.start_rehearsal()
    session.start()
    ballot = session.ballot_id
    # The session opens under this resident's feet (another path than the facilitator's,
    # which ends the resident first): the rehearsal ballot keeps nothing more, anywhere.
    store.open_session()
    with pytest.raises(StoreError):
        session.record({"p-bus": "green"})
    assert store.conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    session.abandon()
    # A real ballot, then the tablet switched to rehearsal: it records nothing real after.
    session.start()
    store.start_rehearsal()
    with pytest.raises(StoreError):
        session.record({"p-bus": "green"})
    assert store.conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    assert ballot != session.ballot_id


def test_switching_ends_the_current_resident(store, demo):
    session = KioskSession(store, demo)
    session.start()
    session.record({"p-bus": "green"})
    session.start_rehearsal()
    assert not session.started
    status = store.conn.execute("SELECT status FROM ballots").fetchone()[0]
    assert status == "abandoned"


def test_no_idea_is_kept_in_rehearsal(store, demo):
    session = KioskSession(store, demo)
    session.start_rehearsal()
    with pytest.raises(StoreError):
        session.submit_idea(title="Un banc", text="Près de la gare")
    assert store.conn.execute("SELECT count(*) FROM proposals").fetchone()[0] == 0


def test_the_hub_keeps_a_rehearsal_apart_and_refuses_it_once_the_session_opened(
        hub, demo, tablet, pending, push, statuses, api):
    store, device = tablet(hub)
    session = _rehearse(store, demo)
    rehearsal_events = pending(store)
    assert statuses(push(hub, store, device)) == ["stored"] * 3
    assert hub.rehearsal.running() and hub.rehearsal.running(device["site_id"])
    assert not hub.rehearsal.running("another-site")
    # Nothing real: no event row, no ballot, no answer, no tally, no export line.
    assert _count(hub, db.events) == 0 and _count(hub, db.ballots) == 0
    assert _count(hub, db.ballot_answers) == 0
    real = json.loads(hub.read_results(demo.id)[1])
    assert real["ballots"] == 0 and real["questions"]["q-ticket"]["counts"] == {"yes": 0,
                                                                                "no": 0,
                                                                                "abstain": 0}
    client = api.fresh()
    shown = client.get(f"/api/v1/consultations/{demo.id}/rehearsal/results").json()
    assert shown["rehearsal"] is True and shown["ballots"] == 2
    assert shown["questions"]["q-ticket"]["counts"] == {"yes": 1, "no": 1, "abstain": 0}
    assert "yes,counts,1" not in export(hub, "results", demo.id, "csv")
    # The session opens: the hub wipes the rehearsal.
    session.open_session()
    assert statuses(push(hub, store, device)) == ["stored"]
    assert not hub.rehearsal.running() and _count(hub, db.rehearsal_answers) == 0
    shown = client.get(f"/api/v1/consultations/{demo.id}/rehearsal/results").json()
    assert shown["ballots"] == 0
    # Real votes, then a rehearsal answer replayed: refused, counted nowhere.
    session.start()
    session.index = [q.id for q in demo.questions].index("q-ticket")
    session.record("no")
    session.finish()
    assert set(statuses(push(hub, store, device))) == {"stored"}
    replayed = hub.ingest(device, rehearsal_events[1:])
    assert [(r["status"], r["code"]) for r in replayed] == [("rejected", "rehearsal_over")] * 2
    real = json.loads(hub.read_results(demo.id)[1])
    assert real["ballots"] == 1 and real["questions"]["q-ticket"]["counts"] == {"yes": 0,
                                                                                "no": 1,
                                                                                "abstain": 0}
    assert _count(hub, db.rehearsal_answers) == 0
    csv_rows = export(hub, "results", demo.id, "csv").splitlines()
    assert "alpimed-2030,1,q-ticket,yes_no,no,counts,1" in csv_rows
    assert "alpimed-2030,1,q-ticket,yes_no,yes,counts,0" in csv_rows
    # What was kept for review of the refused replays holds no rehearsal answer.
    with hub.engine.connect() as conn:
        envelopes = conn.execute(select(db.event_reviews.c.envelope)).scalars().all()
    assert len(envelopes) == 2 and all('"value"' not in e for e in envelopes)


def test_another_device_cannot_speak_for_a_rehearsal(hub, demo, tablet, pending, push, statuses):
    store, device = tablet(hub)
    _rehearse(store, demo)
    events = pending(store)
    push(hub, store, device)
    other, other_device = tablet(hub)
    forged = [dict(e, device_id=other.device_id, id=e["id"] + "x") for e in events[1:2]]
    result = hub.ingest(other_device, forged)
    assert [(r["status"], r["code"]) for r in result] == [("rejected", "rehearsal_unknown")]
    assert _count(hub, db.rehearsal_answers) == 2
