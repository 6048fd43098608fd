"""Hub to hub at the central hub (server/relay.py), on a real SQLite hub: a room hub's code
enrolls room hubs only; a relay forwards only for the devices it registered, at its site;
ownership is judged per original device, whichever way an event arrives; a tablet's redacted
resend of what its room forwarded whole is a duplicate; the room's own sign-ups keep their
card and leave their personal data out of the events table."""
from __future__ import annotations

import json
import secrets

import pytest
from sqlalchemy import select

from app.store import Store
from server import db, relay
from server.db import sha256
from server.errors import HubError
from server.room import status_text

SITE = "menton-mediatheque"
OTHER_SITE = "ventimiglia-biblioteca"


def enroll_relay(hub, name: str, site: str = SITE) -> dict:
    secret = secrets.token_urlsafe(32)
    code = hub.make_enrollment_code(site, kind="relay")["code"]
    answer = hub.enroll(code, name, sha256(secret), kind="relay")
    assert answer["kind"] == "relay" and answer["max_batch"] == relay.relay_max_batch(
        hub.settings)
    return hub.authenticate(f"Bearer {name}:{secret}")


def test_relay_codes_need_a_site_and_enroll_room_hubs_only(hub):
    with pytest.raises(HubError) as needs_site:
        hub.make_enrollment_code(None, kind="relay")
    assert needs_site.value.field == "site_id"
    tablet_code = hub.make_enrollment_code(SITE)["code"]
    with pytest.raises(HubError) as refused:
        hub.enroll(tablet_code, "room-x", sha256("x"), kind="relay")
    assert refused.value.code == "enrollment_code_invalid"
    relay_code = hub.make_enrollment_code(SITE, kind="relay")["code"]
    with pytest.raises(HubError) as refused:
        hub.enroll(relay_code, "tablet-x", sha256("y"))
    assert refused.value.code == "enrollment_code_invalid"
    room = enroll_relay(hub, "room-a")
    assert room["kind"] == "relay" and room["site_id"] == SITE


def test_a_relay_forwards_for_its_devices_at_its_site_and_ownership_holds(hub, demo, tablet):
    room = enroll_relay(hub, "room-a")
    other = enroll_relay(hub, "room-b", OTHER_SITE)
    a, b = Store.memory(), Store.memory()
    assert [r["status"] for r in relay.register_devices(hub, room, [
        {"device_id": a.device_id}, {"device_id": b.device_id}])] == ["registered"] * 2
    assert relay.register_devices(hub, other, [{"device_id": a.device_id}])[0]["code"] \
        == "device_registered_elsewhere"
    ballot = a.start_ballot(demo)
    a.record_answer(demo, ballot, "q-ticket", "yes")
    envelopes = [e.envelope(a.device_id) for e in a.pending_events()]
    # Another relay, or a device nobody registered: refused with the reason, nothing stored.
    refused = relay.ingest_relayed(hub, other, envelopes)
    assert {r["code"] for r in refused} == {"device_not_registered"}
    stranger = Store.memory()
    stranger.record_answer(demo, stranger.start_ballot(demo), "q-ticket", "no")
    refused = relay.ingest_relayed(hub, room, [e.envelope(stranger.device_id)
                                               for e in stranger.pending_events()])
    assert {r["code"] for r in refused} == {"device_not_registered"}
    assert [r["status"] for r in relay.ingest_relayed(hub, room, envelopes)] == ["stored"] * 2
    with hub.engine.connect() as conn:
        row = conn.execute(select(db.ballots).where(db.ballots.c.id == ballot)).first()
    assert row.device_id == a.device_id and row.site_id == SITE
    # b, also of this room, cannot change a's ballot: ownership is per original device.
    forged = dict(envelopes[1], id="forged-1", device_id=b.device_id, seq=99,
                  payload=dict(envelopes[1]["payload"], value="no"))
    result = relay.ingest_relayed(hub, room, [forged])[0]
    assert result["status"] == "rejected" and result["message"] == \
        "This ballot belongs to another device."
    # The tablet itself, enrolled here later, resends: duplicates.
    _store, device = tablet(hub)
    moved = dict(device, id=a.device_id)
    hub.enroll(hub.make_enrollment_code(SITE)["code"], a.device_id, sha256("s" * 43))
    assert [r["status"] for r in hub.ingest(moved, envelopes)] == ["duplicate"] * 2
    summary = {r["relay_id"]: r for r in relay.relay_summary(hub)}
    assert summary["room-a"]["stored"] == 2 and summary["room-a"]["devices"] == 2
    assert summary["room-b"]["stored"] == 0 and summary["room-b"]["refused"] == 2


def test_a_tablets_redacted_resend_of_a_forwarded_idea_is_a_duplicate(hub, demo):
    room = enroll_relay(hub, "room-a")
    store = Store.memory()
    relay.register_devices(hub, room, [{"device_id": store.device_id}])
    store.submit_proposal(demo, title="Un banc", text="À l'ombre", contact="a@example.org",
                          contact_consent=True)
    whole = [e.envelope(store.device_id) for e in store.pending_events()]
    assert relay.ingest_relayed(hub, room, whole)[0]["status"] == "stored"
    redacted = [dict(whole[0], payload=dict(whole[0]["payload"], contact=None))]
    device = {"id": store.device_id, "site_id": SITE, "kind": None}
    assert hub.ingest(device, redacted)[0]["status"] == "duplicate"
    # Other content under the same ID is still a conflict.
    changed = [dict(whole[0], payload=dict(whole[0]["payload"], title="Autre chose"))]
    assert hub.ingest(device, changed)[0]["status"] == "conflict"
    assert hub.proposals()[0]["contact"] == "a@example.org"


def test_a_rooms_signup_keeps_no_card_and_not_its_personal_data_in_events(hub, demo):
    room = enroll_relay(hub, "room-a")
    payload = {"signup_id": "k" * 24, "consultation_id": demo.id, "site_id": SITE,
               "meeting_id": None, "device_id": None, "channel": "phone", "consent": True,
               "lang": "it", "card_issued": False, "name": "Paolo",
               "contact": "paolo@example.it", "created_at": "2026-11-30T10:17:43+00:00",
               "confirmed_at": None}
    envelope = {"id": "rs-1", "device_id": "room-a", "seq": 1, "type": "room_signup",
                "recorded_at": payload["created_at"], "payload": payload}
    assert relay.ingest_relayed(hub, room, [envelope])[0]["status"] == "stored"
    assert relay.ingest_relayed(hub, room, [envelope])[0]["status"] == "duplicate"
    with hub.engine.connect() as conn:
        signup = conn.execute(select(db.signups)).one()
        stored = json.loads(conn.execute(select(db.events.c.payload)).scalar())
    assert (signup.contact, signup.card_issued, signup.site_id, signup.channel) == (
        "paolo@example.it", False, SITE, "phone")
    assert signup.created_at == "2026-11-30T10:00:00+00:00"          # the hour only
    assert "contact" not in stored and "name" not in stored and "signup_id" not in stored
    # A room hub of before the anonymous cards: a card's code beside a person is refused.
    old = dict(envelope, id="rs-3", seq=2,
               payload=dict(payload, signup_id="m" * 24, card_code="ABCD-2345"))
    refused = relay.ingest_relayed(hub, room, [old])[0]
    assert refused["status"] == "rejected" and "card_code" in json.dumps(refused)
    # A tablet cannot send a room's sign-up.
    device = {"id": "tablet-1", "site_id": SITE, "kind": None}
    refused = hub.ingest(device, [dict(envelope, id="rs-2", device_id="tablet-1")])[0]
    assert refused["status"] == "rejected" and refused["code"] == "relay_only"


def test_issued_cards_go_both_ways_between_room_and_central_for_the_site_only(
        hub, demo):
    from app.cards import issued_row
    from server.participation import participation
    room = enroll_relay(hub, "room-a")
    central_cards = participation(hub).issue_cards(demo.id, 3)
    assert relay.cards_for_relay(hub, room) == {"counts": {demo.id: 3}}
    first = relay.cards_for_relay(hub, room, demo.id, limit=2)
    rest = relay.cards_for_relay(hub, room, demo.id, after=first["next"], limit=2)
    assert len(first["cards"]) == 2 and rest["next"] is None      # pages, in lookup order
    sent = first["cards"] + rest["cards"]
    assert [r["lookup"] for r in sent] == sorted(c.lookup for c in central_cards)
    assert relay.cards_for_relay(hub, room, "another-consultation")["cards"] == []
    assert all(set(r) == {"consultation_id", "lookup", "public_key"} for r in sent)
    assert not any(c.secret in json.dumps(sent) for c in central_cards)      # never a secret
    # The room's own printed cards: taken for its site's consultations; another
    # consultation's rows and a lookup already given to another card are left out.
    from app.cards import new_card
    mine = [new_card(demo.id) for _ in range(2)]
    rows = [issued_row(c) for c in mine]
    clash = dict(rows[0], lookup=central_cards[0].lookup)
    other = dict(rows[1], consultation_id="another-consultation")
    result = relay.cards_from_relay(hub, room, rows + [clash, other])
    assert result == {"imported": 2, "known": 0, "conflicts": 1, "refused": []}
    exported = {r["lookup"]: r for r in participation(hub).export_cards(demo.id)}
    assert exported[mine[0].lookup] == issued_row(mine[0])
    assert exported[central_cards[0].lookup] == issued_row(central_cards[0])
    # A tablet may not call these.
    device = {"id": "tablet-1", "site_id": SITE, "kind": None}
    with pytest.raises(HubError):
        relay.cards_for_relay(hub, device)


def test_the_rooms_status_line_says_what_waits_and_the_progress():
    line = status_text({"url": "https://hub.example.org", "waiting": 1200, "tablets_seen": 3,
                        "tablets_enrolled": 4, "last_contact": "2026-11-30T10:00:00+00:00",
                        "problem": None, "progress": {"sent": 300, "total": 1200}})
    assert "tablets seen 3/4" in line and "waiting upstream 1200" in line
    assert "forwarding 300/1200 (25%)" in line
    offline = status_text({"url": None, "waiting": 5, "tablets_seen": 0,
                           "tablets_enrolled": 0})
    assert "no central hub" in offline


def test_a_room_enrolled_with_another_central_hub_sends_its_cards_there_again(hub, tmp_path):
    """The room's cards go up once per central hub: enrolled with another one (another URL),
    the count of cards already sent is forgotten with the first hub's acknowledgements, or the
    new hub would refuse every answer made with them (card_not_issued)."""
    import socket
    import threading
    import time

    import uvicorn

    from app.paths import DEMO_BUNDLE_DIR
    from server import upstream
    from server.api import create_app
    from server.hub import Hub
    from server.participation import participation
    from server.settings import Settings
    from sync.client import HubClient

    def serve(central):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(hub=central), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        return server, thread, f"http://127.0.0.1:{port}"

    second = Hub(Settings.from_env({}, data_dir=tmp_path / "second"))
    second.import_bundle(DEMO_BUNDLE_DIR)
    room = Hub(Settings.from_env({}, data_dir=tmp_path / "room"))
    room.import_bundle(DEMO_BUNDLE_DIR)
    servers = [serve(hub), serve(second)]
    try:
        cards = participation(room).issue_cards("alpimed-2030", 2)
        mine = {c.lookup for c in cards}
        for central, (_server, _thread, url) in zip((hub, second), servers):
            upstream.enroll(room, url, central.make_enrollment_code(SITE, kind="relay")["code"])
            values = upstream.state(room)
            client = HubClient(url, values[upstream.RELAY_ID], values[upstream.SECRET])
            try:
                assert upstream.push_cards(room, client) == 2
                assert upstream.push_cards(room, client) == 0        # once per central hub
                upstream.pull_cards(room, client)             # its own cards do not come down
                assert upstream.push_cards(room, client) == 0
            finally:
                client.close()
            assert {r["lookup"] for r in participation(central).export_cards("alpimed-2030")} \
                == mine
    finally:
        for server, thread, _url in servers:
            server.should_exit = True
            thread.join(30)
        room.close()
        second.close()


def test_a_batch_is_counted_as_its_bytes_arrive_whatever_its_strings_hold():
    from server.body import EventCounter, TooManyEvents

    def counted(body: bytes, limit: int, step: int, exact: bool = True) -> bool:
        counter = EventCounter(limit)
        if exact:
            counter.budget = 0          # the exact count from the first byte
        try:
            for start in range(0, len(body), step):
                counter.feed(body[start:start + step])
        except TooManyEvents:
            return False
        return True
    tricky = {"id": "e", "payload": {"text": 'a "quoted" ], [ {, } \\ \\" end',
                                     "list": [1, 2, [3, 4]], "nested": {"a": 1, "b": 2}}}
    for step in (1, 2, 3, 7, 4096):       # chunk boundaries anywhere, escapes included
        body = json.dumps({"events": [tricky] * 5, "other": [1, 2, 3]}).encode()
        assert counted(body, 6, step) and counted(body, 5, step)     # each array on its own
        assert not counted(body, 4, step)
    assert counted(b'{"events": []}', 1, 1) and counted(b'{"events": [{}]}', 1, 1)
    assert not counted(b'{"events": [{}, {}]}', 1, 1)
    # Values nested anywhere count too: an empty events list beside millions of tiny values
    # would cost as much to parse (found by the relay's attack review).
    nested = b'{"events": [], "x": [[' + b",".join([b"{}"] * 2000) + b"]]}"
    assert not counted(nested, 10, 4096, exact=False)
    assert counted(json.dumps({"events": [tricky] * 10}).encode(), 10, 4096, exact=False)
    # While commas, braces and brackets stay within 48 a event, nothing is scanned (parsing
    # costs little; the batch's length is checked after it); past that, the exact count.
    assert counted(b'{"events": [' + b",".join([b"{}"] * 20) + b"]}", 1, 4096, exact=False)
    assert not counted(b'{"events": [' + b",".join([b"{}"] * 20) + b"]}", 1, 4096)
    assert not counted(b'{"events": [' + b",".join([b"{}"] * 60) + b"]}", 1, 7, exact=False)


def test_an_answer_made_with_a_card_the_central_hub_lacks_waits_for_it(hub, demo):
    """The room's outbox (server.upstream.Outbox) holds back an answer whose card this hub
    issued and the central hub does not hold yet; the other events go; once the card is
    acknowledged, the answer goes too."""
    from server import upstream
    from server.participation import participation
    card = participation(hub).issue_cards(demo.id, 1)[0]
    rows = []
    for seq, payload in ((1, {"consultation_id": demo.id, "ballot_id": "b1",
                              "question_id": "q-ticket", "value": "yes", "card": card.lookup}),
                         (2, {"consultation_id": demo.id, "ballot_id": "b2",
                              "question_id": "q-ticket", "value": "no"})):
        rows.append({"id": f"e{seq}", "device_id": "tab-1", "seq": seq, "type": "answer",
                     "recorded_at": "2026-12-01T10:00:00+00:00",
                     "received_at": "2026-12-01T10:00:00+00:00", "content_hash": "x" * 64,
                     "payload": json.dumps(payload)})
    with hub.writer.begin() as conn:
        conn.execute(db.events.insert(), rows)
        conn.execute(db.upstream_devices.insert(), [{"device_id": "tab-1",
                                                     "status": "registered", "at": "t"}])
    assert [e["id"] for e in upstream.Outbox(hub, "room-x").take(100)] == ["e2"]
    upstream._mark_cards_upstream(hub, [{"consultation_id": demo.id, "lookup": card.lookup,
                                         "other": "fields"}])
    assert [e["id"] for e in upstream.Outbox(hub, "room-x").take(100)] == ["e1", "e2"]


def test_the_forwarders_pause_while_tablets_push_is_200_ms_unless_set():
    from server.settings import Settings
    assert Settings.from_env({}).upstream_live_pause_ms == 200
    assert Settings.from_env({"PIAZZETTA_HUB_UPSTREAM_LIVE_PAUSE_MS": "20"}
                             ).upstream_live_pause_ms == 20
    assert Settings.from_env({"PIAZZETTA_HUB_UPSTREAM_LIVE_PAUSE_MS": "-5"}
                             ).upstream_live_pause_ms == 0


def test_a_forwarded_batch_that_brings_a_sign_up_leaves_no_commit_order_in_the_wal(hub, demo):
    """docs/protocol.md, "Order, too": every commit that writes a sign-up — a batch of events
    bringing one included — is followed by a checkpoint that truncates the WAL, so no WAL holds
    it beside the ballots that follow. A room hub's forwarded batch too."""
    room = enroll_relay(hub, "room-a")
    wal = hub.settings.data_dir / "hub.sqlite3-wal"
    payload = {"signup_id": "k" * 24, "consultation_id": demo.id, "site_id": SITE,
               "meeting_id": None, "device_id": None, "channel": "phone", "consent": True,
               "lang": "it", "card_issued": False, "name": "Paolo",
               "contact": "paolo@example.it", "created_at": "2026-11-30T10:17:43+00:00",
               "confirmed_at": None}
    envelope = {"id": "rs-1", "device_id": "room-a", "seq": 1, "type": "room_signup",
                "recorded_at": payload["created_at"], "payload": payload}
    assert relay.ingest_relayed(hub, room, [envelope])[0]["status"] == "stored"
    assert wal.exists() and wal.stat().st_size == 0
    assert b"paolo@example.it" not in wal.read_bytes()
