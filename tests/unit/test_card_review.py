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
    save_card_index(store, hub.card_index(device))
    settings = KioskSettings(store)
    settings.ballot_mode = "identified"
    session = KioskSession(store, demo, settings=settings)
    session.present_card(card.typed)
    session.start()
    while session.question is not None and session.question.id != "q-ticket":
        session.next()
    session.record("yes")
    session.withdraw()
    session.record("no")
    envelopes = pending(store)
    answers = [e for e in envelopes if e["type"] in ("answer", "answer_withdrawn")]
    assert [e["type"] for e in answers] == ["answer", "answer_withdrawn", "answer"]
    assert answers and all(e["payload"].get("card") == card.lookup and e["payload"].get("proof")
                           for e in answers)
    results = hub.ingest(device, envelopes)
    assert {r["status"] for r in results} == {"stored"}
    counts = ticket_counts(hub)
    assert counts["no"] == 1 and sum(counts.values()) == 1


# -- 4. only the card withdraws its answer ------------------------------------------------------

def withdrawal(device: dict, ballot: str, question="q-ticket", **card) -> dict:
    n = next(_seq)
    return {"id": f"e{n}", "device_id": device["id"], "seq": n, "type": "answer_withdrawn",
            "recorded_at": "x", "payload": {"ballot_id": ballot, "consultation_id": CONSULTATION,
                                            "question_id": question, **card}}


def test_an_identified_answer_is_withdrawn_only_with_its_cards_proof(hub, tablet):
    card = hub.participation.issue_cards(CONSULTATION, 1)[0]
    _store, device = tablet(hub)
    signed = {"card": card.lookup, "proof": card.proof("q-ticket", "b1", "yes")}
    assert outcome(hub.ingest(device, [start(device, "b1"), answer(device, "b1", **signed)])) \
        == [("stored", None), ("stored", None)]
    # The owning tablet (or its room hub) erases the card's answer: refused, it still counts.
    attempts = [withdrawal(device, "b1"),
                withdrawal(device, "b1", card=card.lookup, proof=None),
                withdrawal(device, "b1", **signed),        # the answer's proof, not a withdrawal's
                withdrawal(device, "b1", card=card.lookup,
                           proof=card.proof("q-ticket", "b2", None))]   # another ballot's
    assert outcome(hub.ingest(device, attempts)) == [
        ("rejected", "card_invalid"), ("rejected", "card_invalid"),
        ("rejected", "card_proof_invalid"), ("rejected", "card_proof_invalid")]
    assert ticket_counts(hub)["yes"] == 1
    # The resident withdraws it (the card signs the value null): it no longer counts, and the
    # card stays this ballot's for the question — answerable again here, nowhere else.
    null = {"card": card.lookup, "proof": card.proof("q-ticket", "b1", None)}
    assert outcome(hub.ingest(device, [withdrawal(device, "b1", **null)])) == [("stored", None)]
    assert sum(ticket_counts(hub).values()) == 0
    elsewhere = {"card": card.lookup, "proof": card.proof("q-ticket", "b9", "no")}
    assert outcome(hub.ingest(device, [start(device, "b9"), answer(device, "b9", "no",
                                                                   **elsewhere)])) == [
        ("stored", None), ("rejected", "card_used")]
    again = {"card": card.lookup, "proof": card.proof("q-ticket", "b1", "no")}
    assert outcome(hub.ingest(device, [answer(device, "b1", "no", **again)])) == [
        ("stored", None)]
    counts = ticket_counts(hub)
    assert counts["no"] == 1 and sum(counts.values()) == 1
    # An open ballot's withdrawals need no card.
    assert outcome(hub.ingest(device, [start(device, "o1", "open"), answer(device, "o1"),
                                       withdrawal(device, "o1")])) == [("stored", None)] * 3


# -- 3. small-order and non-canonical public keys; one key, one card -----------------------------

P = 2 ** 255 - 19
SMALL_ORDER = [
    (1).to_bytes(32, "little").hex(),                    # the identity (order 1)
    (P - 1).to_bytes(32, "little").hex(),                # order 2
    bytes(32).hex(),                                     # order 4 (x, 0)
    (1 << 255).to_bytes(32, "little").hex(),             # order 4, the other sign
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",   # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",   # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",   # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",   # order 8
]
NOT_CANONICAL = [
    (P + 1).to_bytes(32, "little").hex(),                # y = p + 1: the identity again
    ((1 << 255) | 1).to_bytes(32, "little").hex(),       # the identity with x = "-0"
    "ff" * 32,                                           # y ≥ p
]
# R = the identity, S = 0: with a small-order key, a "signature" of every message.
UNIVERSAL = ((1).to_bytes(32, "little") + bytes(32)).hex()


def test_small_order_and_non_canonical_keys_are_not_public_keys():
    from app.cards import Card, valid_public_key, verify_proof
    from server.participation import ed25519_verify
    from ecdsa.curves import Ed25519
    from ecdsa.ellipticcurve import INFINITY, PointEdwards
    card = Card(CONSULTATION, "ACDE", "FGHJKLMNPQRTU")
    assert valid_public_key(card.public_key())
    # The list is the curve's 8 points of small order (8·P is the identity), no more.
    points = [PointEdwards.from_bytes(Ed25519.curve, bytes.fromhex(k)) for k in SMALL_ORDER]
    assert len({bytes(pt.to_bytes()) for pt in points}) == 8
    assert all((pt * 8) == INFINITY for pt in points)
    assert (PointEdwards.from_bytes(Ed25519.curve, bytes.fromhex(card.public_key())) * 8) \
        != INFINITY
    for key in SMALL_ORDER + NOT_CANONICAL + ["00" * 31 + "0g", "AB" * 32]:
        assert not valid_public_key(key), key
    # The hub's compiled check and the tablets' pure-Python one, through verify_proof, agree:
    # no universal proof for any of them, whatever the message.
    for key in SMALL_ORDER + NOT_CANONICAL:
        for ballot, value in (("b1", "yes"), ("b2", "no")):
            assert (verify_proof(key, UNIVERSAL, CONSULTATION, "q-ticket", ballot, value,
                                 lookup="ACDE"),
                    verify_proof(key, UNIVERSAL, CONSULTATION, "q-ticket", ballot, value,
                                 lookup="ACDE", verify=ed25519_verify)) == (False, False)
    # A signature whose S is not reduced (S + L) is refused by both as well.
    proof = bytes.fromhex(card.proof("q-ticket", "b1", "yes"))
    order = 2 ** 252 + 27742317777372353535851937790883648493
    big = (proof[:32] + (int.from_bytes(proof[32:], "little") + order).to_bytes(32, "little"))
    for verify in (None, ed25519_verify):
        assert verify_proof(card.public_key(), proof.hex(), CONSULTATION, "q-ticket", "b1",
                            "yes", lookup="ACDE", verify=verify)
        assert not verify_proof(card.public_key(), big.hex(), CONSULTATION, "q-ticket", "b1",
                                "yes", lookup="ACDE", verify=verify)


def test_a_room_cannot_import_a_small_order_key_and_answer_with_it(hub, tablet):
    from app.errors import ValidationError
    from server import relay
    room = enroll_relay(hub, "room-x")
    _store, device = tablet(hub)
    for key in SMALL_ORDER + NOT_CANONICAL:
        with pytest.raises(ValidationError):
            relay.cards_from_relay(hub, room, [{"consultation_id": CONSULTATION,
                                                "lookup": "XXXX", "public_key": key}])
    assert hub.card_index(device)["keys"].get(CONSULTATION, {}).get("XXXX") is None
    for i, value in enumerate(["yes", "no"]):
        results = hub.ingest(device, answer_events(device["id"], f"u{i}", 10 * i + 1, "XXXX",
                                                   UNIVERSAL, value=value))
        assert outcome(results)[1] == ("rejected", "card_not_issued")
    assert sum(ticket_counts(hub).values()) == 0


def test_a_public_key_belongs_to_one_card_and_a_proof_names_its_card(hub, tablet):
    from app.cards import issued_row, new_card, verify_proof
    from app.errors import ValidationError
    from server import relay
    card = hub.participation.issue_cards(CONSULTATION, 1)[0]
    # A room sends a card of its own with the central card's key under another lookup ID.
    twin = {"consultation_id": CONSULTATION, "lookup": "XXXX" if card.lookup != "XXXX"
            else "YYYY", "public_key": card.public_key()}
    own = issued_row(new_card(CONSULTATION))
    room = enroll_relay(hub, "room-x")
    result = relay.cards_from_relay(hub, room, [twin, own])
    assert (result["imported"], result["conflicts"]) == (1, 1)
    # Two in one list, or through the CLI's import: the whole file is refused.
    other = issued_row(new_card(CONSULTATION))
    with pytest.raises(ValidationError) as refused:
        hub.participation.import_cards([other, dict(other, lookup=twin["lookup"])])
    assert "public key" in refused.value.message
    with pytest.raises(ValidationError):
        hub.participation.import_cards([twin])
    assert hub.participation.export_cards(CONSULTATION) == sorted(
        [issued_row(card), own], key=lambda r: r["lookup"])
    # And a proof names its card: the same key under another lookup ID does not verify it.
    proof = card.proof("q-ticket", "b1", "yes")
    assert verify_proof(card.public_key(), proof, CONSULTATION, "q-ticket", "b1", "yes",
                        lookup=card.lookup)
    assert not verify_proof(card.public_key(), proof, CONSULTATION, "q-ticket", "b1", "yes",
                            lookup=twin["lookup"])


# -- 2. the room card quota holds under concurrent sends -----------------------------------------

def send_at_once(hub, threads: int = 8, per: int = 10) -> list:
    """`threads` sends of `per` new cards each by one room, let go at the same instant."""
    import threading

    from app.cards import issued_row, new_card
    from server import relay
    hub.participation.set_card_quota(CONSULTATION, SITE, 10)
    room = enroll_relay(hub, "room-q")
    batches = [[issued_row(new_card(CONSULTATION)) for _ in range(per)] for _ in range(threads)]
    barrier = threading.Barrier(threads)
    results: list = []

    def send(rows):
        barrier.wait()
        try:
            results.append(relay.cards_from_relay(hub, room, rows))
        except Exception as exc:      # a serialization failure would show here
            results.append(exc)

    workers = [threading.Thread(target=send, args=(b,)) for b in batches]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert all(isinstance(r, dict) for r in results), results
    assert sum(r["imported"] for r in results) == 10
    assert sum(len(r["refused"]) for r in results) == threads * per - 10
    assert hub.participation.room_cards(CONSULTATION) == [
        {"consultation_id": CONSULTATION, "site_id": SITE, "made": 10, "quota": 10}]
    return results


@pytest.mark.slow        # a load test: concurrent sends
def test_concurrent_card_sends_of_a_room_do_not_pass_its_quota_on_sqlite(hub):
    send_at_once(hub)


@pytest.mark.slow        # a load test: concurrent sends
@pytest.mark.postgres
@pytest.mark.skipif(not __import__("os").environ.get("PIAZZETTA_TEST_POSTGRES_URL"),
                    reason="PIAZZETTA_TEST_POSTGRES_URL is not set")
def test_concurrent_card_sends_of_a_room_do_not_pass_its_quota_on_postgresql(tmp_path):
    import os
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    from app.paths import DEMO_BUNDLE_DIR
    from server.hub import Hub
    from server.settings import Settings
    base = make_url(os.environ["PIAZZETTA_TEST_POSTGRES_URL"])
    name = "piazzetta_" + uuid.uuid4().hex[:10]
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        hub = Hub(Settings.from_env({}, data_dir=tmp_path / "hub", database_url=url))
        try:
            hub.import_bundle(DEMO_BUNDLE_DIR)
            send_at_once(hub)
        finally:
            hub.close()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- 5. a lone surrogate in an event: that event refused, not the batch (nor a 500) --------------

def test_a_lone_surrogate_in_an_event_is_refused_alone_not_a_server_error(hub, tablet):
    from fastapi.testclient import TestClient

    from server.api import create_app
    _store, device = tablet(hub)
    client = TestClient(create_app(hub=hub), base_url="https://testserver")
    events = [start(device, "s1", "open"),
              answer(device, "s1", "x\\ud800", question="q-missing"),
              answer(device, "s1", "mieux de bus", question="q-missing")]
    events[1]["payload"]["\\udfff"] = 1
    # Written by hand: "\ud800" is valid JSON, not valid Unicode (a client cannot encode it).
    import json
    body = json.dumps({"events": events}).replace("\\\\ud800", "\\ud800") \
        .replace("\\\\udfff", "\\udfff")
    assert "\\ud800" in body and "\\\\ud800" not in body
    response = client.post("/api/v1/events", content=body.encode(), headers={
        "Authorization": f"Bearer {device['id']}:{device['secret']}",
        "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert outcome(results) == [("stored", None), ("rejected", "text_invalid"),
                                ("stored", None)]
    assert "not valid Unicode" in results[1]["message"]
    with hub.engine.connect() as conn:
        kept = conn.exec_driver_sql("SELECT envelope FROM event_reviews").scalars().all()
    assert len(kept) == 1 and "x?" in kept[0]
    # Sent again, the same: the tablet is not stuck on it.
    again = client.post("/api/v1/events", content=body.encode(), headers={
        "Authorization": f"Bearer {device['id']}:{device['secret']}",
        "Content-Type": "application/json"})
    assert again.status_code == 200
    assert outcome(again.json()["results"])[1] == ("rejected", "text_invalid")


def test_a_tablet_never_records_a_lone_surrogate(demo, store):
    from app.text import clean_text, has_lone_surrogate
    assert clean_text("x\ud800y\udfff", field="f", max_length=10) == "xy"
    ballot = store.start_ballot(demo, mode="open", site_id=SITE, meeting_id=None)
    assert store.record_answer(demo, ballot, "q-missing", "mieux\ud800 de bus") == "mieux de bus"
    assert not any(has_lone_surrogate(e.payload) for e in store.events())
    assert has_lone_surrogate({"a": ["b", {"\ud800": 1}]}) and not has_lone_surrogate({"a": "é"})
