"""A room hub trusted for its own site's tablets and no further, against a real central hub
over HTTP (issue 22): it cannot register a tablet enrolled at the central hub directly nor one
another site's room hub registered, its forwarded `seq` cannot jump out of a tablet's reach, a
revoked room hub's registrations lapse to its site's new one, staff move a registration, and
the central hub's device list shows the devices a room hub registered."""
from __future__ import annotations

import re

import pytest
import requests

from app.paths import DEMO_BUNDLE_DIR
from app.store import Store
from sync.client import HubClient
from sync.enroll import client_for, credential_hash, enroll

from .conftest import SITE, HubProcess, start_hub
from .test_relay_hub import push_all, query, relay_code

OTHER_SITE = "ventimiglia-biblioteca"


def relay(central, name: str, site: str) -> HubClient:
    secret = "s" * 40 + name
    client = HubClient(central.url)
    try:
        assert client.enroll(relay_code(central, site), name, credential_hash(secret),
                             kind="relay")["site_id"] == site
    finally:
        client.close()
    return HubClient(central.url, name, secret)


def register(client: HubClient, *device_ids: str) -> dict:
    data = client._checked(client._request("POST", "/api/v1/relay/devices", json={
        "devices": [{"device_id": d, "name": d} for d in device_ids]}))
    return {r["device_id"]: r for r in data["results"]}


def forward(client: HubClient, envelopes: list) -> dict:
    return client.push(envelopes, "/api/v1/relay/events")


def idea_status(central, proposal_id: str) -> str:
    return query(central, "SELECT status FROM proposals WHERE id = ?", proposal_id)[0][0]


@pytest.fixture(scope="module")
def central(tmp_path_factory):
    """One central hub for the tests of this file but the sign-ups' (limits of its own): each
    test enrolls room hubs and tablets of its own names (a hub process less per test)."""
    process = start_hub(tmp_path_factory.mktemp("central"))
    yield process
    process.kill()


def test_a_room_hub_cannot_take_over_another_sites_tablet_nor_outrun_its_seq(central, tmp_path,
                                                                            demo):
    clients: list = []
    store = Store.open(tmp_path / "ventimiglia-tablet")
    try:
        # A Ventimiglia tablet enrolled at the central hub directly, with a public idea.
        enroll(store, central.url, central.code(OTHER_SITE))
        idea = store.submit_proposal(demo, title="Una panchina", text="All'ombra del fico")
        store.moderate_proposal(idea.id, "approved")
        assert push_all(store)["stored"] == 2
        victim = store.device_id

        menton = relay(central, "relay-menton", SITE)
        clients.append(menton)
        # Its ID is no secret: the Menton room hub registers it, then forwards a moderation
        # with the highest seq there is. Refused, and the idea stays as its tablet left it.
        refused = register(menton, victim)[victim]
        assert refused["status"] == "refused" and refused["code"] == "device_enrolled_here"
        forged = {"id": "forged-moderation", "device_id": victim, "seq": 2 ** 62 - 1,
                  "type": "proposal_moderated", "recorded_at": "2026-12-01T10:00:00+00:00",
                  "payload": {"proposal_id": idea.id, "status": "rejected", "reason": "spam"}}
        assert forward(menton, [forged])["forged-moderation"]["code"] == "device_not_registered"
        assert idea_status(central, idea.id) == "approved"
        # The tablet's own later correction wins.
        store.moderate_proposal(idea.id, "rejected", reason="doppione")
        store.moderate_proposal(idea.id, "approved")
        assert push_all(store)["stored"] == 2
        assert idea_status(central, idea.id) == "approved"

        # Its own tablet's events: a seq far beyond the tablet's last one is refused on its own
        # (seq_jump), the rest of the batch stored; the tablet's next event still counts.
        assert register(menton, "tab-menton")["tab-menton"]["status"] == "registered"
        own = Store.open(tmp_path / "menton-tablet")
        try:
            idea_m = own.submit_proposal(demo, title="Un banc", text="Près du port")
            envelopes = [e.envelope("tab-menton") for e in own.events()]
            jump = {"id": "jump", "device_id": "tab-menton", "seq": 2 ** 62 - 1,
                    "type": "proposal_moderated", "recorded_at": "2026-12-01T10:00:00+00:00",
                    "payload": {"proposal_id": idea_m.id, "status": "rejected"}}
            results = forward(menton, envelopes + [jump])
            assert results["jump"]["status"] == "rejected" and results["jump"]["code"] == \
                "seq_jump"
            assert {results[e["id"]]["status"] for e in envelopes} == {"stored"}
            own.moderate_proposal(idea_m.id, "approved")
            later = [e.envelope("tab-menton") for e in own.events()][-1:]
            assert forward(menton, later)[later[0]["id"]]["status"] == "stored"
            assert idea_status(central, idea_m.id) == "approved"
        finally:
            own.close()

        # The central hub's device list shows the tablet the room hub registered, with its
        # events, beside those enrolled directly.
        devices = {d["id"]: d for d in central.admin("GET", "/devices").json()["devices"]}
        assert devices["tab-menton"]["relayed_by"] == "relay-menton"
        assert devices["tab-menton"]["events"] == 2 and devices["tab-menton"]["site_id"] == SITE
        assert devices[victim]["relayed_by"] is None and devices[victim]["events"] == 4

        # Staff move the Ventimiglia tablet to a Ventimiglia room hub (the command line); it
        # then forwards for it, the tablet's direct enrollment given up until it enrolls again.
        ventimiglia = relay(central, "relay-ventimiglia", OTHER_SITE)
        clients.append(ventimiglia)
        moved = central.cli("relay-move", victim, "--relay", "relay-ventimiglia")
        assert moved.returncode == 0, moved.stderr
        store.moderate_proposal(idea.id, "rejected", reason="fuori tema")
        last = [e.envelope(victim) for e in store.events()][-1:]
        assert forward(ventimiglia, last)[last[0]["id"]]["status"] == "stored"
        assert idea_status(central, idea.id) == "rejected"
        # And back to the Menton one through the admin API: Menton's site is not the
        # tablet's, so its forwarded events are attributed to Menton (staff's decision).
        answer = central.admin("POST", f"/devices/{victim}/relay",
                               json={"relay_id": "relay-menton"})
        assert answer.status_code == 200 and answer.json()["moved_from"] == "relay-ventimiglia"
        assert forward(ventimiglia, last)[last[0]["id"]]["code"] == "device_not_registered"
        assert central.admin("POST", f"/devices/{victim}/relay",
                             json={"relay_id": "nobody"}).status_code == 404
    finally:
        store.close()
        for client in clients:
            client.close()


def test_a_revoked_room_hubs_registrations_lapse_to_its_sites_new_one(central, tmp_path, demo):
    clients: list = []
    try:
        old = relay(central, "room-old", SITE)
        clients.append(old)
        assert register(old, "tab-1")["tab-1"]["status"] == "registered"
        store = Store.open(tmp_path / "tablet")
        try:
            store.submit_proposal(demo, title="Un banc", text="Près du port")
            envelopes = [e.envelope("tab-1") for e in store.events()]
        finally:
            store.close()
        # Another site's room hub cannot take it; neither can a second one of the same site
        # while the first is live.
        other = relay(central, "room-other-site", OTHER_SITE)
        second = relay(central, "room-new", SITE)
        clients += [other, second]
        assert register(other, "tab-1")["tab-1"]["code"] == "device_registered_elsewhere"
        assert register(second, "tab-1")["tab-1"]["code"] == "device_registered_elsewhere"
        # The laptop is replaced: staff revoke the old room hub; the new one of the same site
        # registers its tablets and forwards for them; the other site's still cannot.
        assert central.admin("POST", "/devices/room-old/revoke").status_code == 200
        assert register(other, "tab-1")["tab-1"]["code"] == "device_other_site"
        assert register(second, "tab-1")["tab-1"]["status"] == "registered"
        assert {r["status"] for r in forward(second, envelopes).values()} == {"stored"}
        devices = {d["id"]: d for d in central.admin("GET", "/devices").json()["devices"]}
        assert devices["tab-1"]["relayed_by"] == "room-new"
        # Staff move it on the dashboard (session, form token) to the other site's room hub.
        session = requests.Session()
        login = session.get(central.url + "/dashboard?lang=fr", timeout=30)
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
        session.post(central.url + "/dashboard/login?lang=fr", timeout=30,
                     data={"csrf": csrf, "token": central.admin_token})
        page = session.get(central.url + "/dashboard?lang=fr", timeout=30).text
        csrf = re.search(r'action="/dashboard/relay-move[^>]*>\s*<input type="hidden" '
                         r'name="csrf" value="([^"]+)"', page).group(1)
        assert 'value="room-old"' not in page.split("/dashboard/relay-move")[1]   # revoked
        forged = session.post(central.url + "/dashboard/relay-move", timeout=30, data={
            "csrf": "forged", "device_id": "tab-1", "relay_id": "room-other-site"})
        assert forged.status_code == 403
        moved = session.post(central.url + "/dashboard/relay-move?lang=fr", timeout=30, data={
            "csrf": csrf, "device_id": "tab-1", "relay_id": "room-other-site"})
        assert moved.status_code == 200 and "tab-1" in moved.text
        assert {r["status"] for r in forward(other, envelopes).values()} == {"duplicate"}
        assert {r["code"] for r in forward(second, envelopes).values()} == {
            "device_not_registered"}
    finally:
        for client in clients:
            client.close()


def test_a_tablet_enrolled_directly_takes_precedence_over_its_room_hub(central, tmp_path, demo):
    menton = relay(central, "relay-menton-2", SITE)
    store = Store.open(tmp_path / "tablet")
    try:
        store.submit_proposal(demo, title="Un banc", text="Près du port")
        device_id = store.device_id
        assert register(menton, device_id)[device_id]["status"] == "registered"
        # The tablet moves to the central hub: from then on the room hub's forwarding for it
        # is refused (the tablet sends its own), and registering it again too.
        enroll(store, central.url, central.code(SITE))
        client = client_for(store)
        client.close()
        envelopes = [e.envelope(device_id) for e in store.events()]
        assert {r["code"] for r in forward(menton, envelopes).values()} == {
            "device_enrolled_here"}
        assert register(menton, device_id)[device_id]["code"] == "device_enrolled_here"
        assert push_all(store)["stored"] == len(envelopes)
    finally:
        store.close()
        menton.close()


def test_relayed_sign_ups_are_under_the_forms_limits(tmp_path):
    central = HubProcess(tmp_path / "central")
    central.env["PIAZZETTA_HUB_RATE_SIGNUP_DEVICE"] = "10/minute"
    assert central.import_bundle(DEMO_BUNDLE_DIR) == 0
    central.start()
    menton = relay(central, "relay-menton", SITE)
    try:
        def signup(n: int, contact: str) -> dict:
            return {"id": f"rs-{n}", "device_id": "relay-menton", "seq": n,
                    "type": "room_signup", "recorded_at": "2026-12-01T10:00:00+00:00",
                    "payload": {"signup_id": f"s{n:023d}", "consultation_id": "alpimed-2030",
                                "site_id": SITE, "channel": "phone", "consent": True,
                                "name": "Ornella", "contact": contact, "lang": "it",
                                "card_issued": False,
                                "created_at": "2026-12-01T10:00:00+00:00"}}
        # The same address 6 times, in spellings that name one mailbox: 3 emails per contact,
        # as the form (plus tags and case do not make another person).
        spellings = ["ornella@example.it", "Ornella+1@example.it", "ornella+x@EXAMPLE.it",
                     "ornella@example.it", "ornella+2@example.it", " ornella@example.it"]
        same = forward(menton, [signup(n, spellings[n - 1]) for n in range(1, 7)])
        assert [r["status"] for r in same.values()] == ["stored"] * 3 + ["rejected"] * 3
        assert {r.get("code") for r in list(same.values())[3:]} == {"rate_limited"}
        # 30 addresses: 10 a minute per room hub, as per tablet on the form (4 left after the 6).
        many = forward(menton, [signup(n, f"p{n}@example.it") for n in range(10, 40)])
        assert sum(r["status"] == "stored" for r in many.values()) == 4
        assert query(central, "SELECT count(*) FROM signups")[0][0] == 7
        # A resend of what was stored is a duplicate, not counted again.
        again = forward(menton, [signup(1, "ornella@example.it")])
        assert again["rs-1"]["status"] == "duplicate"
    finally:
        menton.close()
        central.kill()


def test_a_room_hubs_first_batch_for_a_tablet_cannot_start_its_seq_out_of_reach(central, tmp_path,
                                                                                demo):
    """Found by the attack review: with no event stored yet for a device, the bound was taken
    from the batch's own lowest seq, so a first batch could claim seq 2^62 and a forged
    moderation then outranked the tablet's own."""
    room = relay(central, "relay-a", SITE)
    assert register(room, "tab-x")["tab-x"]["status"] == "registered"
    own = Store.open(tmp_path / "tablet")
    idea = own.submit_proposal(demo, title="Un banc", text="Près du port")
    first = [e.envelope("tab-x") for e in own.events()][0]
    forged = {"id": "forged-mod", "device_id": "tab-x", "seq": 2**62 - 5,
              "type": "proposal_moderated", "recorded_at": "2026-12-01T10:00:00+00:00",
              "payload": {"proposal_id": idea.id, "status": "rejected", "reason": "spam"}}
    results = forward(room, [dict(first, id="lifted", seq=2**62 - 10), forged])
    assert {r.get("code") for r in results.values()} == {"seq_jump"}
    assert forward(room, [first])[first["id"]]["status"] == "stored"
    own.moderate_proposal(idea.id, "approved")
    later = [e.envelope("tab-x") for e in own.events()][-1]
    assert forward(room, [later])[later["id"]]["status"] == "stored"
    assert idea_status(central, idea.id) == "approved"
    own.close()
    room.close()


def test_a_room_hub_revoked_while_its_body_is_on_its_way_gets_nothing_applied(central, tmp_path,
                                                                             demo):
    import json
    import socket
    import time
    room = relay(central, "relay-c", SITE)
    assert register(room, "tab-y")["tab-y"]["status"] == "registered"
    own = Store.open(tmp_path / "tablet")
    own.submit_proposal(demo, title="Une fontaine", text="Sur la place")
    body = json.dumps({"events": [e.envelope("tab-y") for e in own.events()]}).encode()
    own.close()
    host, port = central.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /api/v1/relay/events HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nAuthorization: Bearer relay-c:"
                     + ("s" * 40 + "relay-c").encode() + b"\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body[:10])
        time.sleep(0.5)
        assert central.admin("POST", "/devices/relay-c/revoke").status_code == 200
        sock.sendall(body[10:])
        answer = sock.recv(4000)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert query(central, "SELECT count(*) FROM events WHERE device_id = ?", "tab-y")[0][0] == 0
    room.close()
