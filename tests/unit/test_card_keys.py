"""Cards that no verifier can spend (issue 22): whatever a hub, a room hub or a tablet holds to
check a card lets it check, never answer; a proof carries one answer, in one ballot; an old
database's cards no longer vote. The attacks are played against a real hub (in-process, its
own SQLite file) with the values it really stores, not with the scheme's own helpers, so the
same tests fail on a hub that keeps something able to make a proof."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3

import pytest
from sqlalchemy import inspect, text

from app.canonical import canonical_json
from app.kiosk import KioskSession, KioskSettings
from app.paths import DEMO_BUNDLE_DIR
from server import relay
from server.db import sha256
from server.hub import Hub
from server.settings import Settings
from sync.content import save_card_index

SITE = "menton-mediatheque"
CONSULTATION = "alpimed-2030"


def enroll_relay(hub, name: str, site: str = SITE) -> dict:
    secret = secrets.token_urlsafe(32)
    code = hub.make_enrollment_code(site, kind="relay")["code"]
    hub.enroll(code, name, sha256(secret), kind="relay")
    return hub.authenticate(f"Bearer {name}:{secret}")


def answer_events(device_id: str, ballot: str, seq: int, card: str, proof: str,
                  value="yes", question="q-ticket") -> list[dict]:
    """A ballot's start and one identified answer, as a tablet that bypasses its own checks
    would push them."""
    common = {"ballot_id": ballot, "consultation_id": CONSULTATION, "consultation_version": 1,
              "site_id": SITE, "meeting_id": None}
    return [{"id": f"{ballot}-s", "device_id": device_id, "seq": seq, "type": "ballot_started",
             "recorded_at": "x", "payload": {**common, "mode": "identified"}},
            {"id": f"{ballot}-a", "device_id": device_id, "seq": seq + 1, "type": "answer",
             "recorded_at": "x", "payload": {**common, "question_id": question, "value": value,
                                             "channel": "tablet", "card": card,
                                             "proof": proof}}]


def ticket_counts(hub) -> dict:
    return json.loads(hub.read_results(CONSULTATION)[1])["questions"]["q-ticket"]["counts"]


def everything_stored(hub) -> set[str]:
    """Every value of every row of every table of the hub's database."""
    values: set[str] = set()
    with hub.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes):
                        values.add(value.hex())
                    elif value is not None:
                        values.add(str(value))
    return values


def key_materials(value: str) -> list[bytes]:
    """What an attacker would try as a key from one stored value."""
    out = [value.encode(), hashlib.sha256(value.encode()).digest()]
    try:
        out.append(bytes.fromhex(value))
    except ValueError:
        pass
    return out


def forged_proofs(values: set[str], lookup: str, ballot: str, value="yes",
                  question="q-ticket") -> set[str]:
    """Every proof an attacker holding `values` could make for this answer: each value as a
    proof, as an HMAC key (over the answer, or over consultation and question as the cards of
    before were checked) and as an Ed25519 seed (over the answer as cards sign it)."""
    from ecdsa import Ed25519, SigningKey
    message = (b"piazzetta-card-proof-v4|"
               + f"{CONSULTATION}|{lookup}|{question}|{ballot}|".encode()
               + canonical_json(value).encode())
    proofs = set()
    for stored in values:
        if len(stored) in (64, 128) and set(stored) <= set("0123456789abcdef"):
            proofs.add(stored)
        for key in key_materials(stored):
            proofs.add(hmac.new(key, f"{CONSULTATION}|{question}".encode(),
                                hashlib.sha256).hexdigest())
            proofs.add(hmac.new(key, message, hashlib.sha512).hexdigest())
            if len(key) == 32:
                proofs.add(SigningKey.from_string(key, curve=Ed25519).sign(message).hex())
    return proofs


def test_a_hub_and_a_room_hub_holding_every_verifier_value_cannot_make_a_proof(tmp_path,
                                                                              tablet):
    enroll_tablet = tablet
    hub = Hub(Settings.from_env({}, data_dir=tmp_path / "hub", secret_key="central secret"))
    try:
        hub.import_bundle(DEMO_BUNDLE_DIR)
        cards = hub.participation.issue_cards(CONSULTATION, 3)
        room = enroll_relay(hub, "room-menton")
        _store, tablet = enroll_tablet(hub)
        # What each verifier holds: the hub's database (and its own secret), what a room hub
        # pulls (GET /api/v1/relay/cards), what a tablet gets with the bundle index.
        held = everything_stored(hub) | {hub.settings.secret_key}
        held |= {str(v) for row in relay.cards_for_relay(hub, room, CONSULTATION)["cards"]
                 for v in row.values()}
        index = hub.card_index(tablet)
        held |= {index["public_key"]} | {k for per in index.get("keys", index.get(
            "checks", {})).values() for k in per.values()}
        assert not any(c.secret in " ".join(held) for c in cards)
        target = cards[0]
        proofs = sorted(forged_proofs(held, target.lookup, "b-forged"))
        assert len(proofs) > 100
        # One ballot, every forged proof an answer of its own to the same question: each one
        # is checked (a later answer replaces an earlier one only once it passes).
        start, answer = answer_events(tablet["id"], "b-forged", 1, target.lookup, "")
        events = [start] + [dict(answer, id=f"forged-{i}", seq=i + 2,
                                 payload=dict(answer["payload"], proof=proof))
                            for i, proof in enumerate(proofs)]
        results = hub.ingest(tablet, events)
        assert results[0]["status"] == "stored"
        stored = [r for r in results[1:] if r["status"] == "stored"]
        assert stored == [], f"{len(stored)} proofs made from stored values were accepted"
        assert {r["code"] for r in results[1:]} <= {"card_proof_invalid", "card_outdated",
                                                    "card_invalid"}
        assert ticket_counts(hub).get("yes", 0) == 0
        with hub.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM card_uses").scalar() == 0
    finally:
        hub.close()


def test_a_copied_proof_carries_no_other_answer_and_moves_to_no_other_ballot(hub, demo, tablet,
                                                                             pending):
    enroll_tablet, pending_envelopes = tablet, pending
    """A sniffer copies a resident's identified answer off the room's Wi-Fi (the event and
    the tablet's credential) and pushes it first: into another ballot, then into the same
    ballot with another answer. Both are refused; the resident's own answer counts."""
    card = hub.participation.issue_cards(CONSULTATION, 1)[0]
    store, resident_tablet = enroll_tablet(hub)
    # The resident at the kiosk: the tablet pulled the card index, the card's QR is scanned.
    save_card_index(store, hub.card_index(resident_tablet))
    settings = KioskSettings(store)
    settings.ballot_mode = "identified"
    session = KioskSession(store, demo, settings=settings)
    session.present_card(hub.participation.card_text(card))
    session.start()
    session.next()
    assert session.question.id == "q-ticket"
    session.record("yes")
    sniffed = pending_envelopes(store)
    answer = next(e for e in sniffed if e["type"] == "answer")
    _other, attacker = enroll_tablet(hub)
    moved = answer_events(attacker["id"], "b-attacker", 1, answer["payload"]["card"],
                          answer["payload"]["proof"], value="yes")
    moved_result = hub.ingest(attacker, moved)
    assert moved_result[1]["status"] == "rejected"
    assert moved_result[1]["code"] == "card_proof_invalid"
    # The same ballot, with the resident's own credential, a later seq and another answer.
    changed = [dict(e) for e in sniffed] + [dict(answer, id="changed", seq=answer["seq"] + 5,
                                                 payload=dict(answer["payload"], value="no"))]
    changed_result = hub.ingest(resident_tablet, changed[-1:])
    assert changed_result[0]["status"] == "rejected"
    assert changed_result[0]["code"] == "card_proof_invalid"
    assert ticket_counts(hub).get("no", 0) == 0
    # The resident's tablet pushes: its answer is the one that counts, once.
    results = hub.ingest(resident_tablet, sniffed)
    assert [r["status"] for r in results] == ["stored"] * len(sniffed)
    counts = ticket_counts(hub)
    assert counts["yes"] == 1 and sum(counts.values()) == 1


OLD_ISSUED_CARDS = """
CREATE TABLE issued_cards (consultation_id VARCHAR(64) NOT NULL, lookup VARCHAR(8) NOT NULL,
  check_hash VARCHAR(64) NOT NULL, answer_key VARCHAR(64) NOT NULL,
  PRIMARY KEY (consultation_id, lookup))
"""


def old_card_rows(n: int = 3) -> list[tuple[str, str, str, bytes]]:
    """(lookup, check, answer key hex, answer key) of cards issued the way of before."""
    rows = []
    for i, lookup in enumerate(("ACDE", "FGHJ", "KLMN")[:n]):
        secret = f"PQRTUVWXY234{i}"
        check = hashlib.pbkdf2_hmac("sha256", secret.encode(),
                                    f"piazzetta-card|{CONSULTATION}|{lookup}".encode(),
                                    20_000).hex()[:32]
        key = hmac.new(secret.encode(), b"piazzetta-card-key", hashlib.sha256).digest()
        rows.append((lookup, check, key.hex(), key))
    return rows


def check_migrated(hub, rows, enroll_tablet) -> None:
    """After the migration: the old cards' lookups are kept without a key, hand out nothing,
    and an answer made the old way (a valid proof of before) is refused as outdated."""
    with hub.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("issued_cards")}
        kept = conn.exec_driver_sql("SELECT lookup, public_key FROM issued_cards "
                                    "ORDER BY lookup").all()
    assert not {"check_hash", "answer_key"} & columns
    assert [tuple(r) for r in kept] == [(lookup, None) for lookup, *_ in sorted(rows)]
    assert hub.participation.export_cards(CONSULTATION) == []
    assert hub.participation.card_index([CONSULTATION])["keys"] == {CONSULTATION: {}}
    _store, tablet = enroll_tablet(hub)
    lookup, _check, _hex, key = rows[0]
    old_proof = hmac.new(key, f"{CONSULTATION}|q-ticket".encode(), hashlib.sha256).hexdigest()
    result = hub.ingest(tablet, answer_events(tablet["id"], "b-old", 1, lookup, old_proof))
    assert result[1]["status"] == "rejected" and result[1]["code"] == "card_outdated"
    assert ticket_counts(hub).get("yes", 0) == 0
    # New cards never take an old card's lookup ID, and vote.
    new = hub.participation.issue_cards(CONSULTATION, 50)
    assert not {c.lookup for c in new} & {r[0] for r in rows}


def test_an_old_database_keeps_its_cards_lookups_but_they_no_longer_vote(tmp_path, tablet):
    data = tmp_path / "hub"
    data.mkdir()
    rows = old_card_rows()
    with sqlite3.connect(data / "hub.sqlite3") as conn:
        conn.execute(OLD_ISSUED_CARDS)
        conn.executemany("INSERT INTO issued_cards VALUES (?, ?, ?, ?)",
                         [(CONSULTATION, lookup, check, key_hex)
                          for lookup, check, key_hex, _k in rows])
    hub = Hub(Settings.from_env({}, data_dir=data))
    try:
        hub.import_bundle(DEMO_BUNDLE_DIR)
        check_migrated(hub, rows, tablet)
    finally:
        hub.close()


# -- cards a room makes: counted, and bounded per consultation and site -----------------------

def test_cards_a_room_makes_beyond_its_quota_are_refused_and_counted(tmp_path):
    from app.cards import issued_row, new_card
    hub = Hub(Settings.from_env({}, data_dir=tmp_path / "hub", room_card_quota=4))
    try:
        hub.import_bundle(DEMO_BUNDLE_DIR)
        room = enroll_relay(hub, "room-menton")
        central = hub.participation.issue_cards(CONSULTATION, 2)
        made = [issued_row(new_card(CONSULTATION)) for _ in range(6)]
        # The room sends back the central hub's own cards too: known, never counted.
        first = relay.cards_from_relay(hub, room, made[:3] + [issued_row(c) for c in central])
        assert (first["imported"], first["known"], first["refused"]) == (3, 2, [])
        second = relay.cards_from_relay(hub, room, made)
        assert second["imported"] == 1 and second["known"] == 3
        assert len(second["refused"]) == 2
        assert second["reason"]["code"] == "card_quota_exceeded"
        assert hub.participation.room_cards(CONSULTATION) == [
            {"consultation_id": CONSULTATION, "site_id": SITE, "made": 4, "quota": 4}]
        # Staff raise the quota: the refused cards are taken when the room sends them again.
        hub.participation.set_card_quota(CONSULTATION, SITE, 10)
        third = relay.cards_from_relay(hub, room, made)
        assert (third["imported"], third["refused"]) == (2, [])
        assert hub.participation.room_cards(CONSULTATION)[0]["made"] == 6
        # A quota of 0 stops a room from making any more; cards it made still vote.
        hub.participation.set_card_quota(CONSULTATION, SITE, 0)
        extra = issued_row(new_card(CONSULTATION))
        assert relay.cards_from_relay(hub, room, [extra])["refused"] == [
            {"consultation_id": CONSULTATION, "lookup": extra["lookup"]}]
        with pytest.raises(Exception) as bad:
            hub.participation.set_card_quota(CONSULTATION, SITE, -1)
        assert "between 0 and" in bad.value.message
        with pytest.raises(Exception):
            hub.participation.set_card_quota("no-such-consultation", SITE, 5)
        assert hub.participation.room_cards(CONSULTATION)[0] == {
            "consultation_id": CONSULTATION, "site_id": SITE, "made": 6, "quota": 0}
    finally:
        hub.close()


def test_staff_set_the_quota_through_the_api_and_the_cli_and_see_the_count(tmp_path, capsys):
    from fastapi.testclient import TestClient

    from app.cards import issued_row, new_card
    from server.admin import main as admin_main
    from server.api import create_app
    hub = Hub(Settings.from_env({}, data_dir=tmp_path / "hub", room_card_quota=2))
    try:
        hub.import_bundle(DEMO_BUNDLE_DIR)
        room = enroll_relay(hub, "room-menton")
        relay.cards_from_relay(hub, room, [issued_row(new_card(CONSULTATION)) for _ in range(3)])
        client = TestClient(create_app(hub=hub), base_url="https://testserver")
        staff = {"Authorization": f"Bearer {hub.settings.admin_token}"}
        assert client.get("/api/v1/admin/card-quotas").status_code == 401
        listed = client.get("/api/v1/admin/card-quotas", headers=staff).json()
        assert (listed["default"], listed["quotas"]) == (2, [
            {"consultation_id": CONSULTATION, "site_id": SITE, "made": 2, "quota": 2}])
        bad = client.put("/api/v1/admin/card-quotas", headers=staff,
                         json={"consultation_id": CONSULTATION, "site_id": SITE, "quota": -5})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "quota"
        ok = client.put("/api/v1/admin/card-quotas", headers=staff,
                        json={"consultation_id": CONSULTATION, "site_id": SITE, "quota": 40})
        assert ok.status_code == 200 and ok.json()["quota"] == 40
        # The figures carry the count, on the site's row.
        rows = [r for r in hub.participation.figures() if r["room_cards"]]
        assert [(r["site_id"], r["meeting_id"], r["room_cards"]) for r in rows] == \
            [(SITE, None, 2)]
        # The dashboard's Room hubs section shows made and quota.
        page = client.get("/dashboard?lang=en", headers=staff)
        assert page.status_code == 200 and "Cards made by room hubs" in page.text
        assert client.get("/dashboard/figures.csv", headers=staff).text.splitlines()[0] \
            .endswith(",room_cards")
        client.close()
    finally:
        hub.close()
    # The command line, on the same data folder.
    env = {"PIAZZETTA_HUB_DATA_DIR": str(tmp_path / "hub")}
    import os
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        assert admin_main(["cards", "quota", "--consultation", CONSULTATION, "--site", SITE,
                           "--count", "7"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["quotas"][0]["quota"] == 7 and shown["quotas"][0]["made"] == 2
        assert admin_main(["cards", "quota", "--count", "7"]) == 2
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_the_hubs_compiled_check_agrees_with_the_tablets_pure_python_one():
    from app.cards import Card, verify_proof
    from server.participation import ed25519_verify
    card = Card(CONSULTATION, "ACDE", "FGHJKLMNPQRTU")
    proof = card.proof("q-ticket", "b1", {"p-market": 1})
    flipped = proof[:10] + ("0" if proof[10] != "0" else "1") + proof[11:]
    cases = [(card.public_key(), proof, "b1"), (card.public_key(), proof, "b2"),
             (card.public_key(), flipped, "b1"), ("00" * 32, proof, "b1"),
             (Card(CONSULTATION, "ACDE", "FGHJKLMNPQRTV").public_key(), proof, "b1"),
             (card.public_key(), "zz" * 64, "b1"), (card.public_key(), proof[:-2], "b1")]
    outcomes = [(verify_proof(key, p, CONSULTATION, "q-ticket", ballot, {"p-market": 1},
                              lookup="ACDE"),
                 verify_proof(key, p, CONSULTATION, "q-ticket", ballot, {"p-market": 1},
                              lookup="ACDE", verify=ed25519_verify))
                for key, p, ballot in cases]
    assert outcomes == [(True, True)] + [(False, False)] * (len(cases) - 1)


@pytest.mark.postgres
@pytest.mark.skipif(not __import__("os").environ.get("PIAZZETTA_TEST_POSTGRES_URL"),
                    reason="PIAZZETTA_TEST_POSTGRES_URL is not set")
def test_an_old_database_on_postgresql_keeps_its_cards_lookups_but_they_no_longer_vote(
        tmp_path, tablet):
    import os
    import uuid

    import psycopg
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    base = make_url(os.environ["PIAZZETTA_TEST_POSTGRES_URL"])
    name = "piazzetta_" + uuid.uuid4().hex[:10]
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        rows = old_card_rows()
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(OLD_ISSUED_CARDS)
            for lookup, check, key_hex, _k in rows:
                conn.execute(sa.text("INSERT INTO issued_cards VALUES (:c, :l, :h, :k)"),
                             {"c": CONSULTATION, "l": lookup, "h": check, "k": key_hex})
        engine.dispose()
        hub = Hub(Settings.from_env({}, data_dir=tmp_path / "hub", database_url=url))
        try:
            hub.import_bundle(DEMO_BUNDLE_DIR)
            check_migrated(hub, rows, tablet)
        finally:
            hub.close()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
