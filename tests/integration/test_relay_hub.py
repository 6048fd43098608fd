"""Hub to hub with real processes: a central hub, a room hub (its forwarder thread), tablets
(the sync worker's push) and a fault proxy between the room and the central hub (resets,
stalls, answers cut after commit, a captive portal, a 500); both hubs SIGKILLed once while the
room forwards. At the end the central hub holds every event once, its results are the room's
(the tablets' answers, the counts typed on tablets and by staff at the room), every sign-up
reached it, and the room's copies of personal data are gone. Then a tablet moves to the
central hub and resends everything: nothing twice. A relay cannot forward for a device it did
not register, nor for another relay's site."""
from __future__ import annotations

import re
import socket
import sqlite3
import time
from pathlib import Path

import pytest
import requests

from app.store import Store
from sync import protocol as p
from sync.client import HubClient
from sync.display import HubProjectorSource
from sync.results_source import ResultsPoller
from sync.enroll import client_for, credential_hash, enroll
from sync.worker import push_pending

from .conftest import SITE, HubProcess, expected_results, record_votes, start_hub
from .faultproxy import FaultProxy

CONTACTS = ("ornella.relay@example.it", "+33 6 12 34 56 78", "idea.relay@example.fr",
            "phone.relay@example.fr")


def push_all(store: Store) -> dict:
    client = client_for(store)
    try:
        return push_pending(store, client)
    finally:
        client.close()


def query(hub: HubProcess, sql: str, *args):
    conn = sqlite3.connect(f"file:{hub.data_dir / 'hub.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def events_of(hub: HubProcess, device_id: str) -> int:
    return query(hub, "SELECT count(*) FROM events WHERE device_id = ?", device_id)[0][0]


def waiting(room: HubProcess) -> int:
    events = query(room, "SELECT count(*) FROM events WHERE id NOT IN "
                         "(SELECT event_id FROM upstream_acks)")[0][0]
    records = query(room, "SELECT count(*) FROM upstream_records WHERE event_id NOT IN "
                          "(SELECT event_id FROM upstream_acks)")[0][0]
    return events + records


def wait_for(condition, seconds: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (sqlite3.OperationalError, requests.RequestException):   # not there yet
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def room_hub(folder: Path) -> HubProcess:
    room = HubProcess(folder, max_batch=500)
    room.env.update({"PIAZZETTA_HUB_UPSTREAM_INTERVAL": "1", "PIAZZETTA_HUB_UPSTREAM_BACKOFF": "2",
                     "PIAZZETTA_HUB_UPSTREAM_TIMEOUT": "3",
                     # the pause between batches while tablets push, kept but short
                     "PIAZZETTA_HUB_UPSTREAM_LIVE_PAUSE_MS": "20",
                     "PIAZZETTA_HUB_RATE_SIGNUP": "1000/minute",
                     "PIAZZETTA_HUB_RATE_ENROLL": "1000/minute"})
    return room


def relay_code(central: HubProcess, site: str = SITE) -> str:
    answer = central.admin("POST", "/enrollment-codes",
                           json={"site_id": site, "minutes": 10, "kind": "relay"})
    assert answer.status_code == 200, answer.text
    return answer.json()["code"]


@pytest.mark.slow        # a chaos/kill test
def test_a_room_hub_forwards_everything_exactly_once_through_faults_and_crashes(tmp_path, demo):
    central = start_hub(tmp_path / "central", max_batch=60)
    proxy = FaultProxy(central.port)
    room = room_hub(tmp_path / "room").start()
    stores: list[Store] = []
    try:
        # The room hub enrolls upstream (CLI, like staff) and pulls the consultation.
        enrolled = room.cli("upstream", "enroll", "--url", proxy.url, "--code",
                            relay_code(central), "--name", "Salle Menton")
        assert enrolled.returncode == 0, enrolled.stderr
        wait_for(lambda: query(room, "SELECT count(*) FROM consultations")[0][0] == 1, 60,
                 "the room to pull the consultation")

        # Three tablets enroll with the room and collect: ballots, ideas with a contact, a
        # moderation, a paper count, a sign-up typed on the tablet.
        for n in range(3):
            store = Store.open(tmp_path / f"tablet{n}")
            enroll(store, room.url, room.code(SITE))
            record_votes(store, demo, 120, seed=n)
            idea = store.submit_proposal(demo, title=f"Un banc {n}", text="À l'ombre du figuier",
                                         contact=CONTACTS[2] if n == 0 else None,
                                         contact_consent=n == 0)
            store.moderate_proposal(idea.id, "approved")
            stores.append(store)
        stores[0].record_signup({"name": "Ornella", "contact": CONTACTS[0], "consent": True},
                                consultation_id=demo.id, site_id=SITE,
                                meeting_id="m-menton-1203", lang="it")
        stores[1].record_count(demo, "q-ticket", "paper", {"yes": 7, "no": 3, "abstain": 0})

        # The room's projector polls the room hub all along (the projector's own poller).
        seen: list = []       # the snapshots it delivered (a 304 delivers none)
        projector = ResultsPoller(HubProjectorSource(room.url, demo.id),
                                  lambda poll: poll.snapshot and seen.append(poll.snapshot),
                                  interval=0.25).start()

        # The room's own records: a sign-up on its page, staff's online count.
        form = {"name": "Paolo", "contact": CONTACTS[3], "consent": "on",
                "k": "k" * 20 + "room1", "lang": "fr"}
        signed = requests.post(room.url + "/signup", data=form, timeout=30)
        assert signed.status_code == 200, signed.text[:500]
        counted = room.admin("POST", f"/consultations/{demo.id}/online-counts",
                             json={"q-ticket": {"yes": 4, "no": 1, "abstain": 0}})
        assert counted.status_code == 200, counted.text

        # Faults on the way up, then the tablets push to the room.
        proxy.add("reset_request", "cut_response", "portal", "stall", "http500",
                  "pass", "cut_response")
        for store in stores:
            push_all(store)
        total = sum(s.outbox_counts()["acknowledged"] for s in stores)

        # Both hubs SIGKILLed once while the room forwards.
        wait_for(lambda: query(room, "SELECT count(*) FROM upstream_acks")[0][0] >= 60, 120,
                 "forwarding to start")
        room.kill()
        assert waiting(room) > 0, "the room finished before it could be killed mid-forward"
        room.start()
        wait_for(lambda: query(central, "SELECT count(*) FROM events")[0][0] > 300, 120,
                 "more events at the central hub")
        central.kill()
        central.start()
        proxy.add("portal", "cut_response")

        wait_for(lambda: waiting(room) == 0, 240, "the room's backlog to drain")
        # The room's projector shows what the room holds: every ballot of the tablets.
        wait_for(lambda: seen and seen[-1].ballots
                 == sum(s.conn.execute("SELECT count(*) FROM ballots").fetchone()[0]
                        for s in stores), 60, "the projector to show every ballot")
        projector.stop()
        assert {"reset_request", "cut_response", "portal", "stall", "http500"} \
            <= set(proxy.faults_done)

        # Every event once; results equal; every sign-up there; nothing refused.
        room_events = query(room, "SELECT count(*) FROM events")[0][0]
        assert room_events == total
        relay_id = query(room, "SELECT value FROM upstream_state WHERE key = 'relay_id'")[0][0]
        relay_id = relay_id.strip('"')
        missing = {tuple(r) for r in query(room, "SELECT id, type FROM events")} - {
            tuple(r) for r in query(central, "SELECT id, type FROM events")}
        assert not missing, (missing, query(central, "SELECT kind, reason FROM event_reviews"))
        assert query(central, "SELECT count(*) FROM events WHERE device_id != ?",
                     relay_id)[0][0] == total
        assert query(central, "SELECT count(*) FROM events WHERE device_id = ?",
                     relay_id)[0][0] == 3   # the sign-ups (phone, tablet) and staff's count
        for store in stores:
            assert events_of(central, store.device_id) == store.outbox_counts()["acknowledged"]
        assert central.admin("GET", "/conflicts").json()["events"] == []
        assert central.results()["questions"] == room.results()["questions"]
        expected = expected_results(stores, demo)
        for question in ("q-cooperation", "q-colour"):
            assert central.results()["questions"][question] == expected[question]
        ticket = central.results()["questions"]["q-ticket"]["channels"]
        assert ticket["paper"]["counts"]["yes"] == 7 and ticket["online"]["counts"]["yes"] == 4
        assert sorted(query(central, "SELECT contact, channel FROM signups")) == sorted(
            [(CONTACTS[0], "tablet"), (CONTACTS[3], "phone")])
        assert query(central, "SELECT contact FROM proposals WHERE contact IS NOT NULL") \
            == [(CONTACTS[2],)]
        # Attributed to the room's site, per original device.
        assert {row[0] for row in query(central, "SELECT DISTINCT site_id FROM ballots")} \
            == {SITE}

        # The room's copies of personal data are gone, from the rows and from the file.
        assert query(room, "SELECT count(*) FROM signups WHERE name IS NOT NULL "
                           "OR contact IS NOT NULL")[0][0] == 0
        assert query(room, "SELECT count(*) FROM proposals WHERE contact IS NOT NULL")[0][0] == 0
        room.stop()
        data = b"".join(f.read_bytes() for f in (tmp_path / "room").glob("hub.sqlite3*"))
        for contact in (CONTACTS[0], CONTACTS[2], CONTACTS[3]):
            assert contact.encode() not in data, contact
        room.start()

        # Dashboard figures and the relay export say what arrived, per relay and site.
        relays = central.cli("relays", "--format", "json")
        assert relays.returncode == 0, relays.stderr
        assert f'"site_id": "{SITE}"' in relays.stdout and '"stored": ' in relays.stdout
        staff = {"Authorization": f"Bearer {central.admin_token}"}
        for lang, title in (("fr", "Serveurs de salle"), ("it", "Server di sala")):
            page = requests.get(f"{central.url}/dashboard?lang={lang}", headers=staff,
                                timeout=30)
            assert page.status_code == 200 and title in page.text and "Salle Menton" in page.text
        csv_text = requests.get(central.url + "/dashboard/relays.csv", headers=staff,
                                timeout=30).text
        assert csv_text.startswith("relay_id,name,site_id") and SITE in csv_text
        assert CONTACTS[0] not in csv_text and CONTACTS[3] not in csv_text
        # Staff make a room hub's code from the dashboard (login form, session, form token).
        session = requests.Session()
        login = session.get(central.url + "/dashboard?lang=it", timeout=30)
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
        session.post(central.url + "/dashboard/login?lang=it", timeout=30,
                     data={"csrf": csrf, "token": central.admin_token})
        page = session.get(central.url + "/dashboard?lang=it", timeout=30).text
        csrf = re.search(r'action="/dashboard/relay-code[^>]*>\s*<input type="hidden" '
                         r'name="csrf" value="([^"]+)"', page).group(1)
        made = session.post(central.url + "/dashboard/relay-code?lang=it", timeout=30,
                            data={"csrf": csrf, "site": SITE})
        assert made.status_code == 200 and "upstream enroll --url" in made.text
        code = re.search(r"--code ([A-Z0-9]{4}-[A-Z0-9]{4})", made.text).group(1)
        client = HubClient(central.url)
        assert client.enroll(code, "room-dashboard", credential_hash("d" * 43),
                             kind="relay")["site_id"] == SITE
        client.close()
        forged = session.post(central.url + "/dashboard/relay-code", timeout=30,
                              data={"csrf": "forged", "site": SITE})
        assert forged.status_code == 403

        # A tablet moved from the room to the central hub: it resends everything (its sign-up
        # and idea contact already redacted), and nothing is stored twice.
        moved = stores[0]
        before = central.results()
        enroll(moved, central.url, central.code(SITE))
        assert moved.outbox_counts()["pending"] > 0
        sent = push_all(moved)
        assert sent["stored"] == 0 and sent["conflict"] == 0 and sent["rejected"] == 0
        assert sent["duplicate"] > 0
        assert central.results()["questions"] == before["questions"]
        assert query(central, "SELECT count(*) FROM events WHERE device_id != ?",
                     relay_id)[0][0] == total
    finally:
        for store in stores:
            store.close()
        proxy.close()
        room.kill()
        central.kill()


def test_a_relay_forwards_only_for_its_own_devices_and_site(tmp_path, demo):
    central = start_hub(tmp_path / "central")
    try:
        relays = {}
        for name, site in (("relay-menton", SITE), ("relay-ventimiglia", "ventimiglia-biblioteca")):
            secret = "s" * 40 + name
            client = HubClient(central.url)
            answer = client.enroll(relay_code(central, site), name, credential_hash(secret),
                                   kind="relay")
            client.close()
            assert answer["site_id"] == site
            relays[name] = HubClient(central.url, name, secret)
        # A tablet's code does not enroll a room hub, nor a room hub's code a tablet.
        with_tablet_code = HubClient(central.url)
        try:
            with_tablet_code.enroll(central.code(SITE), "relay-x", credential_hash("x" * 43),
                                    kind="relay")
            raise AssertionError("a tablet's code enrolled a room hub")
        except p.HubRefused as exc:
            assert exc.code == "enrollment_code_invalid"
        try:
            with_tablet_code.enroll(relay_code(central), "tablet-x", credential_hash("y" * 43))
            raise AssertionError("a room hub's code enrolled a tablet")
        except p.HubRefused as exc:
            assert exc.code == "enrollment_code_invalid"
        with_tablet_code.close()

        menton, ventimiglia = relays["relay-menton"], relays["relay-ventimiglia"]

        def register(client, *device_ids):
            data = client._checked(client._request("POST", "/api/v1/relay/devices", json={
                "devices": [{"device_id": d, "name": d} for d in device_ids]}))
            return {r["device_id"]: r for r in data["results"]}

        assert register(menton, "tab-a")["tab-a"]["status"] == "registered"
        refused = register(ventimiglia, "tab-a", "relay-menton")
        assert refused["tab-a"]["code"] == "device_registered_elsewhere"
        assert refused["relay-menton"]["code"] == "device_is_relay"

        store = Store.open(tmp_path / "tablet")
        record_votes(store, demo, 3, seed=1)
        envelopes = [e.envelope("tab-a") for e in store.events()]
        stranger = [dict(e.envelope("tab-z"), id=e.id + "z") for e in store.events()[:2]]
        # Another site's relay: refused, per event, with the reason; nothing stored.
        other = ventimiglia.push(envelopes, "/api/v1/relay/events")
        assert {r["code"] for r in other.values()} == {"device_not_registered"}
        unknown = menton.push(stranger, "/api/v1/relay/events")
        assert {r["status"] for r in unknown.values()} == {"rejected"}
        assert events_of(central, "tab-a") == 0
        # Its own relay: stored, attributed to its site; again: duplicates.
        mine = menton.push(envelopes, "/api/v1/relay/events")
        assert {r["status"] for r in mine.values()} == {"stored"}
        again = menton.push(envelopes, "/api/v1/relay/events")
        assert {r["status"] for r in again.values()} == {"duplicate"}
        assert events_of(central, "tab-a") == len(envelopes)
        # A tablet cannot use the relay's routes.
        tablet = Store.open(tmp_path / "real-tablet")
        enroll(tablet, central.url, central.code(SITE))
        client = client_for(tablet)
        try:
            client.push(envelopes[:1], "/api/v1/relay/events")
            raise AssertionError("a tablet forwarded as a room hub")
        except p.HubRefused as exc:
            assert exc.code == "relay_only" and exc.status == 403
        finally:
            client.close()
        store.close()
        tablet.close()
    finally:
        for client in locals().get("relays", {}).values():
            client.close()
        central.kill()


def test_the_room_kit_serves_the_demo_and_prints_what_the_room_needs(tmp_path):
    import subprocess
    import sys

    from .conftest import ROOT, free_port
    port = free_port()
    out = tmp_path / "room.out"
    env = {**room_hub(tmp_path / "kit").env, "PYTHONPATH": str(ROOT)}
    with open(out, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "server", "--data-dir",
                                 str(tmp_path / "kit"), "room", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        url = f"https://127.0.0.1:{port}"      # its own certificate (test_room_tls.py)
        wait_for(lambda: "tablets seen" in out.read_text(errors="replace"), 60,
                 "the room kit to serve")
        # Its status line is printed just before it listens (server/admin.py, on_start).
        wait_for(lambda: listening(port), 60, "the room kit to listen")
        text = out.read_text(errors="replace")
        address = re.search(r"type the hub (\S+#pin=[0-9a-f]{64}) ", text).group(1)
        assert "Demo consultation imported" in text and f"--hub '{address}'" in text
        code = re.search(r"the code ([A-Z0-9]{4}-[A-Z0-9]{4}) \(site ([a-z\-]+)", text)
        assert code and code.group(2) == SITE and address.startswith(url)
        store = Store.open(tmp_path / "tablet")
        enroll(store, address, code.group(1))        # the printed code enrolls a tablet
        assert store.get_setting(p.SITE_ID) == SITE
        store.close()
        assert "tablets seen 0/0 | waiting 0 | no central hub" in text
    finally:
        proc.terminate()
        proc.wait(20)
