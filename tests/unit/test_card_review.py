"""The attack review of the card key pairs (issue 22 follow-up): each test plays one attack
against a real hub (in-process, its own SQLite file), as a tablet or a room hub that bypasses
its own checks would push it."""
from __future__ import annotations

import itertools

import pytest

from app.kiosk import KioskSession, KioskSettings
from sync.content import save_card_index

from test_card_keys import CONSULTATION, SITE, answer_events, enroll_relay, ticket_counts

_seq = itertools.count(1000)


def common(ballot: str) -> dict:
    return {"ballot_id": ballot, "consultation_id": CONSULTATION, "consultation_version": 1,
            "site_id": SITE, "meeting_id": None}


def start(device: dict, ballot: str, mode: str = "identified") -> dict:
    n = next(_seq)
    return {"id": f"e{n}", "device_id": device["id"], "seq": n, "type": "ballot_started",
            "recorded_at": "x", "payload": {**common(ballot), "mode": mode}}


def answer(device: dict, ballot: str, value="yes", question="q-ticket", **card) -> dict:
    n = next(_seq)
    return {"id": f"e{n}", "device_id": device["id"], "seq": n, "type": "answer",
            "recorded_at": "x", "payload": {**common(ballot), "question_id": question,
                                            "value": value, "channel": "tablet", **card}}


def outcome(results: list[dict]) -> list[tuple[str, str | None]]:
    return [(r["status"], r.get("code")) for r in results]


# -- 1. an identified ballot's answers all carry a card ------------------------------------------

def test_an_identified_ballot_refuses_an_answer_without_a_card(hub, tablet):
    _store, device = tablet(hub)
    results = hub.ingest(device, [start(device, "nc"), answer(device, "nc", "no")])
    assert outcome(results) == [("stored", None), ("rejected", "card_invalid")]
    assert "participation card is expected" in results[1]["message"]
    assert ticket_counts(hub).get("no", 0) == 0
    # In a later batch too (the ballot's mode read back from the database).
    later = hub.ingest(device, [answer(device, "nc", "no", card=None, proof=None)])
    assert outcome(later) == [("rejected", "card_invalid")]
    # An open ballot's answers need none.
    assert outcome(hub.ingest(device, [start(device, "op", "open"), answer(device, "op")])) \
        == [("stored", None), ("stored", None)]


def test_a_ballot_cannot_change_mode_to_drop_or_add_the_cards(hub, tablet):
    card = hub.participation.issue_cards(CONSULTATION, 1)[0]
    _store, device = tablet(hub)
    # Identified (made by a carded answer arriving first), then "started" as open to answer
    # without a card: the start is refused, and so is the cardless answer.
    carded = answer(device, "b1", card=card.lookup, proof=card.proof("q-ticket", "b1", "yes"))
    results = hub.ingest(device, [carded, start(device, "b1", "open"),
                                  answer(device, "b1", "no")])
    assert outcome(results) == [("stored", None), ("rejected", "ballot_mode_changed"),
                                ("rejected", "card_invalid")]
    # An open ballot with a cardless answer is not turned into an identified one.
    results = hub.ingest(device, [start(device, "b2", "open"), answer(device, "b2", "no")])
    assert outcome(hub.ingest(device, [start(device, "b2")])) == [
        ("rejected", "ballot_mode_changed")]
    with hub.engine.connect() as conn:
        modes = dict(conn.exec_driver_sql("SELECT id, mode FROM ballots").fetchall())
    assert modes == {"b1": "identified", "b2": "open"}


def test_the_kiosk_always_signs_its_identified_answers(hub, demo, tablet, pending):
    card = hub.participation.issue_cards(CONSULTATION, 1)[0]
    store, device = tablet(hub)
    save_card_index(store, hub.bundle_index(device)["cards"])
    settings = KioskSettings(store)
    settings.ballot_mode = "identified"
    session = KioskSession(store, demo, settings=settings)
    session.present_card(card.typed)
    session.start()
    while session.question is not None and session.question.id != "q-ticket":
        session.next()
    session.record("yes")
    session.record("no")
    envelopes = pending(store)
    answers = [e for e in envelopes if e["type"] == "answer"]
    assert answers and all(e["payload"].get("card") == card.lookup and e["payload"].get("proof")
                           for e in answers)
    results = hub.ingest(device, envelopes)
    assert {r["status"] for r in results} == {"stored"}
    counts = ticket_counts(hub)
    assert counts["no"] == 1 and sum(counts.values()) == 1
