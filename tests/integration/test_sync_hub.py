"""Tablets and a real hub on 127.0.0.1: enrollment, push, pull, faults, revocation, load."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

import app.store.ballots as store_ballots
import app.store.outbox as store_outbox
from app.store import Store
from sync import protocol as p
from sync.client import HubClient
from sync.content import pull_answers
from sync.enroll import client_for, enroll, parse_enrollment_qr
from sync.service import SyncService
from sync.worker import push_pending

from .conftest import SITE, ballots_of, expected_results, record_votes
from .faultproxy import FaultProxy


def wait_for(predicate, timeout=30.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def enrolled_store(hub, tmp_path=None, name="t") -> Store:
    store = Store.open(tmp_path / name) if tmp_path else Store.memory()
    enroll(store, hub.url, hub.code())
    return store


def test_enroll_push_results_and_answers_round_trip(hub, demo, tmp_path):
    store = Store.open(tmp_path / "tablet")
    record_votes(store, demo, 12, ideas=2)
    service = SyncService(tmp_path / "tablet", push_delay=0.05, poll_interval=0.5)
    assert not service.status().enrolled
    qr = hub.admin("POST", "/enrollment-codes", json={"site_id": SITE}).json()["qr"]
    hub_url, code, pin = parse_enrollment_qr(qr)
    assert hub_url == hub.url and pin is None     # plain HTTP (a test hub): nothing to pin
    status = service.enroll(hub_url, code.lower().replace("-", " "))
    assert status.enrolled and status.hub_url == hub.url and status.pending > 0
    service.start()
    try:
        assert wait_for(lambda: service.status().pending == 0 and service.status().last_success)
        assert service.status().problem is None
        results = hub.results()
        assert results["questions"] == store.results(demo)
        assert results["ballots"] == 12 and results["ideas"]["received"] == 2
        # the bundle and its images came down, checked against their hashes
        bundle_dir = tmp_path / "tablet" / "bundles" / "alpimed-2030"
        assert wait_for(lambda: (bundle_dir / "images" / "cover.png").is_file())
        assert json.loads((bundle_dir / "bundle.json").read_text())["consultation"]["id"] \
            == "alpimed-2030"
        # staff answer an idea; the tablet pulls the answer
        idea = store.proposals(demo.id)[0]
        done = hub.cli("answer-idea", idea.short_code, "--status", "accepted",
                       "--text", "Merci, c'est prévu 🌳")
        assert done.returncode == 0, done.stderr
        service.stop()
        pulled = pull_answers(store, client_for(store))
        assert pulled == 1
        assert store.proposal(idea.id).answer_status == "accepted"
        assert store.proposal(idea.id).answer_text == "Merci, c'est prévu 🌳"
        assert pull_answers(store, client_for(store)) == 0   # the cursor moved on
    finally:
        service.stop()
        store.close()


def test_unchanged_results_poll_gets_304(hub):
    first = requests.get(hub.url + "/api/v1/consultations/alpimed-2030/results", timeout=10)
    again = requests.get(hub.url + "/api/v1/consultations/alpimed-2030/results", timeout=10,
                         headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("fault", ["reset_request", "cut_response", "stall", "http500",
                                   "portal", "refuse"])
def test_every_event_exactly_once_through_faults(hub, demo, fault):
    store = enrolled_store(hub)
    store.set_setting(p.MAX_BATCH, 40)
    record_votes(store, demo, 30, seed=hash(fault) % 1000)   # ~150 events, 4 batches
    total = store.outbox_counts()["pending"]
    proxy = FaultProxy(hub.port)
    store.set_setting(p.HUB_URL, proxy.url)
    proxy.add(fault, "pass", fault, fault)
    failures = 0
    try:
        for _attempt in range(20):
            client = HubClient(proxy.url, store.device_id, store.get_setting(p.DEVICE_SECRET),
                               timeout=(2.0, 2.0))
            try:
                push_pending(store, client, 40)
                break
            except p.SyncError as exc:
                failures += 1
                assert not isinstance(exc, p.DeviceRevoked)
            finally:
                client.close()
        assert proxy.faults_done.count(fault) == 3 and failures == 3
        assert store.outbox_counts() == {"pending": 0, "acknowledged": total}
        assert hub.device_events(store.device_id) == total
        # a resend of everything is acknowledged again, stored once
        client = HubClient(hub.url, store.device_id, store.get_setting(p.DEVICE_SECRET))
        again = client.push([e.envelope(store.device_id) for e in store.events()[:40]])
        assert {r["status"] for r in again.values()} == {"duplicate"}
        assert hub.device_events(store.device_id) == total
    finally:
        proxy.close()
        store.close()


def test_captive_portal_page_is_not_an_acknowledgement(hub, demo):
    store = enrolled_store(hub)
    record_votes(store, demo, 2)
    proxy = FaultProxy(hub.port)
    proxy.add("portal")
    try:
        client = HubClient(proxy.url, store.device_id, store.get_setting(p.DEVICE_SECRET))
        with pytest.raises(p.NotAcknowledged):
            push_pending(store, client)
        assert store.outbox_counts()["acknowledged"] == 0
        assert hub.device_events(store.device_id) == 0
    finally:
        proxy.close()
        store.close()


def test_worker_backs_off_then_delivers_everything(hub, demo, tmp_path):
    store = enrolled_store(hub, tmp_path)
    record_votes(store, demo, 20)
    total = store.outbox_counts()["pending"]
    proxy = FaultProxy(hub.port)
    store.set_setting(p.HUB_URL, proxy.url)
    proxy.add("refuse", "http500", "stall", "cut_response")
    seen = []
    service = SyncService(tmp_path / "t", push_delay=0.05, poll_interval=0.3,
                          backoff=(0.2, 1.0), timeout=(1.0, 1.0), on_status=seen.append)
    service.start()
    try:
        assert wait_for(lambda: service.status().pending == 0
                        and service.status().problem is None, timeout=60)
        assert any(s.problem == "Hub unreachable" for s in seen)
        assert hub.device_events(store.device_id) == total
    finally:
        service.stop()
        proxy.close()
        store.close()


@pytest.mark.slow        # a chaos/kill test
def test_hub_restart_during_a_push_loses_and_doubles_nothing(fresh_hub, demo, tmp_path):
    store = enrolled_store(fresh_hub, tmp_path)
    record_votes(store, demo, 400, seed=7)   # ~2,000 events
    store.set_setting(p.MAX_BATCH, 50)
    total = store.outbox_counts()["pending"]
    errors = []

    def push_until_done():
        own = Store.open(tmp_path / "t")   # a store belongs to its thread
        try:
            for _ in range(200):
                client = client_for(own, timeout=(1.0, 5.0))
                try:
                    push_pending(own, client, 20)
                    return
                except p.SyncError as exc:
                    errors.append(exc)
                    time.sleep(0.2)
                finally:
                    client.close()
        finally:
            own.close()

    pusher = threading.Thread(target=push_until_done)
    pusher.start()
    assert wait_for(lambda: fresh_hub.device_events(store.device_id) > 0, timeout=30, step=0.01)
    fresh_hub.kill()
    fresh_hub.start()
    pusher.join(120)
    assert not pusher.is_alive()
    assert errors, "the restart should have interrupted the push"
    assert store.outbox_counts() == {"pending": 0, "acknowledged": total}
    assert fresh_hub.device_events(store.device_id) == total
    assert fresh_hub.results()["questions"] == store.results(demo)
    store.close()


def test_revoked_device_keeps_its_data_and_sends_it_after_staff_enroll_it_again(hub, demo,
                                                                               tmp_path):
    store = enrolled_store(hub, tmp_path)
    record_votes(store, demo, 3)
    push_pending(store, client_for(store))
    sent = store.outbox_counts()["acknowledged"]
    assert hub.admin("POST", f"/devices/{store.device_id}/revoke").status_code == 200
    record_votes(store, demo, 4, seed=3)
    service = SyncService(tmp_path / "t", push_delay=0.05, poll_interval=0.3)
    service.start()
    try:
        assert wait_for(lambda: service.status().revoked)
        status = service.status()
        assert status.state == "revoked" and status.problem.startswith("Staff revoked")
        assert status.pending > 0 and hub.device_events(store.device_id) == sent
        answer = requests.get(hub.url + "/api/v1/device", timeout=10, headers={
            "Authorization": f"Bearer {store.device_id}:{store.get_setting(p.DEVICE_SECRET)}"})
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "device_revoked"
        with pytest.raises(p.SyncError) as refused:    # a site code does not lift it
            service.enroll(hub.url, hub.code())
        assert refused.value.message == p.ENROLLMENT_REFUSALS["device_revoked"]
        service.enroll(hub.url, hub.code(None, device=store.device_id))
        assert wait_for(lambda: service.status().pending == 0 and not service.status().revoked)
        assert hub.device_events(store.device_id) == store.outbox_counts()["acknowledged"]
        assert store.outbox_counts()["pending"] == 0
    finally:
        service.stop()
        store.close()


@pytest.mark.parametrize("offset_days", [365, -365])
def test_device_clock_a_year_off_loses_nothing(hub, demo, monkeypatch, offset_days):
    skewed = datetime.now(timezone.utc) + timedelta(days=offset_days)
    for module in (store_ballots, store_outbox):   # the votes' times, the acknowledgements'
        monkeypatch.setattr(module, "now_iso", lambda: skewed.isoformat(timespec="milliseconds"))
    store = enrolled_store(hub)
    before = hub.results()["ballots"]
    record_votes(store, demo, 10, seed=offset_days)
    total = store.outbox_counts()["pending"]
    push_pending(store, client_for(store))
    push_pending(store, client_for(store))
    assert store.outbox_counts() == {"pending": 0, "acknowledged": total}
    assert hub.device_events(store.device_id) == total
    assert hub.results()["ballots"] == before + 10
    store.close()


def test_invalid_events_are_refused_one_by_one(hub, demo):
    store = enrolled_store(hub)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    envelopes = [e.envelope(store.device_id) for e in store.pending_events()]
    bad = dict(envelopes[1], id="bad-option", seq=99,
               payload=dict(envelopes[1]["payload"], value="perhaps"))
    unknown = dict(envelopes[1], id="bad-question", seq=100,
                   payload=dict(envelopes[1]["payload"], question_id="q-nope"))
    other = dict(envelopes[1], id="bad-device", device_id="someone-else")
    client = client_for(store)
    results = client.push(envelopes + [bad, unknown, other])
    assert [results[e["id"]]["status"] for e in envelopes] == ["stored", "stored"]
    assert results["bad-option"]["status"] == "rejected"
    assert results["bad-option"]["message"] == "Answer yes, no or abstain."
    assert results["bad-question"]["message"] == "Unknown question."
    assert results["bad-device"]["status"] == "rejected"
    conflict = dict(envelopes[1], payload=dict(envelopes[1]["payload"], value="no"))
    assert client.push([conflict])[conflict["id"]]["status"] == "conflict"
    reviews = hub.admin("GET", "/conflicts").json()["events"]
    assert {"conflict", "rejected"} <= {r["kind"] for r in reviews}
    assert hub.device_events(store.device_id) == 2
    store.close()


@pytest.mark.slow
def test_twenty_devices_pushing_at_once_are_counted_exactly(fresh_hub, demo):
    stores = []
    for i in range(20):
        store = enrolled_store(fresh_hub)
        store.set_setting(p.MAX_BATCH, 100)
        record_votes(store, demo, 100, seed=i, with_changes=False)   # 5 events a ballot
        assert store.outbox_counts()["pending"] == 500
        stores.append(store)
    envelopes = [[e.envelope(s.device_id) for e in s.pending_events(limit=1000)] for s in stores]
    secrets_ = [s.get_setting(p.DEVICE_SECRET) for s in stores]
    acked = [0] * 20
    barrier = threading.Barrier(20)

    def push(i):
        client = HubClient(fresh_hub.url, stores[i].device_id, secrets_[i], timeout=(5, 120))
        barrier.wait()
        for start in range(0, 500, 100):
            batch = envelopes[i][start:start + 100]
            results = client.push(batch)
            acked[i] += sum(1 for r in results.values() if r["status"] == "stored")

    threads = [threading.Thread(target=push, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert acked == [500] * 20
    devices = fresh_hub.admin("GET", "/devices").json()["devices"]
    assert sorted(d["events"] for d in devices) == [500] * 20
    results = fresh_hub.results()
    assert results["ballots"] == ballots_of(stores, demo) == 2000
    assert results["questions"] == expected_results(stores, demo)
    for s in stores:
        s.close()


def test_errors_are_json_in_the_readers_language(hub):
    for lang, expected in (("fr", "Cette tablette n'est pas enrôlée auprès du serveur."),
                           ("it-IT,it;q=0.9", "Questo tablet non è registrato presso il server."),
                           ("en", "This tablet is not enrolled with the hub.")):
        answer = requests.get(hub.url + "/api/v1/device", timeout=10,
                              headers={"Accept-Language": lang, "Authorization": "Bearer x:y"})
        assert answer.status_code == 401
        assert answer.headers["Piazzetta-Protocol"] == "1"
        assert answer.json()["error"] == {"code": "device_unknown", "message": expected,
                                          "field": None}
    too_big = requests.post(hub.url + "/api/v1/devices/enroll", timeout=10,
                            json={"code": "x" * 100_000, "device_id": "d"})
    # Over the route's body limit: refused before any parsing.
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "body_too_large"
    odd = requests.post(hub.url + "/api/v1/devices/enroll", timeout=10,
                        json={"code": "x" * 1_000, "device_id": "d"})
    assert odd.status_code == 422 and odd.json()["error"]["code"] == "invalid_request"
    spec = requests.get(hub.url + "/openapi.json", timeout=10).json()
    assert "/api/v1/events" in spec["paths"] and "/api/v1/devices/enroll" in spec["paths"]


def test_a_huge_body_is_refused_without_harm(hub):
    huge = b'{"events": [' + b'{"id": "x"},' * 3_000_000 + b'{"id": "y"}]}'
    # A caller the hub does not know is refused on its headers, the body never read.
    answer = requests.post(hub.url + "/api/v1/events", data=huge, timeout=60,
                           headers={"Content-Type": "application/json",
                                    "Authorization": "Bearer x:y"})
    assert answer.status_code == 401
    assert requests.get(hub.url + "/api/v1", timeout=10).status_code == 200


def test_a_contact_leaves_the_tablet_once_the_hub_has_it(hub, demo):
    store = enrolled_store(hub)
    idea = store.submit_proposal(demo, title="Un banc", text="Près de la gare",
                                 contact="ada@example.org", contact_consent=True)
    push_pending(store, client_for(store))
    assert store.proposal(idea.id).contact is None
    assert "ada@example.org" not in json.dumps([e.payload for e in store.events()])
    ideas = hub.admin("GET", "/proposals").json()["proposals"]
    assert [i["contact"] for i in ideas if i["id"] == idea.id] == ["ada@example.org"]
    store.close()


def test_the_client_follows_a_smaller_batch_size_from_the_hub(hub, demo):
    store = enrolled_store(hub)
    record_votes(store, demo, 140, with_changes=False)       # 700 events
    counts = push_pending(store, client_for(store), max_batch=1000)
    assert counts["stored"] == 700 and store.outbox_counts()["pending"] == 0
    assert store.get_setting(p.MAX_BATCH) == 500
    store.close()
