"""Device identity through a real hub process (issue 12): an enrollment request held back by
the network and delivered after a second enrollment changes nothing; a lost answer does not
cost the code; a stranger with a fresh code cannot take a device's ID; only staff lift a
revocation; a device of one site cannot act on another site's consultation; links carry an
alias, never a device ID; an idea code two tablets made is answered by ID."""
from __future__ import annotations

import hashlib
import secrets

import pytest
import requests

from app.store import Store
from app.tablet import kiosk_idea_url, kiosk_signup_url
from sync import protocol as p
from sync.enroll import client_for, enroll
from sync.service import SyncService
from sync.worker import push_pending

from .conftest import SITE, record_votes
from .faultproxy import FaultProxy
from .test_sync_hub import wait_for

FAR_SITE = "elsewhere"


def push_all(store: Store) -> dict:
    client = client_for(store)
    try:
        return push_pending(store, client)
    finally:
        client.close()


def device_row(hub, device_id: str) -> dict:
    return next(d for d in hub.admin("GET", "/devices").json()["devices"]
                if d["id"] == device_id)


def test_a_held_enrollment_request_delivered_after_a_second_enrollment_changes_nothing(
        hub, demo):
    store = Store.memory()
    proxy = FaultProxy(hub.port, hold_seconds=60)      # held until released below
    proxy.add("hold")
    held_code, second_code = hub.code(), hub.code()
    try:
        with pytest.raises(p.HubUnreachable):
            enroll(store, proxy.url, held_code, timeout=(1.0, 1.0))
        enroll(store, proxy.url, second_code)     # the facilitator typed another code
        record_votes(store, demo, 3, seed=12)
        before = device_row(hub, store.device_id)
        proxy.release()                           # the held request arrives now
        assert wait_for(lambda: proxy.late_deliveries == 1, timeout=15)
        assert proxy.late_answers == [b"HTTP/1.1 409 Conflict"]      # device_enrolled
        assert device_row(hub, store.device_id) == before
        counts = push_all(store)                  # the tablet keeps pushing
        assert counts["stored"] == store.outbox_counts()["acknowledged"] > 0
        # The held code was not spent: it enrolls another tablet.
        other = Store.memory()
        assert enroll(other, hub.url, held_code)["site_id"] == SITE
    finally:
        proxy.close()


def test_a_lost_enrollment_answer_then_the_same_code_gets_the_same_outcome(hub, demo):
    store = Store.memory()
    proxy = FaultProxy(hub.port, hold_seconds=60)      # the replayed copy: when released
    proxy.add("cut_response", "portal", "replay")
    code = hub.code()
    try:
        for expected in (p.HubUnreachable, p.NotAcknowledged):
            with pytest.raises(expected):
                enroll(store, proxy.url, code, timeout=(2.0, 2.0))
        answer = enroll(store, proxy.url, code)
        proxy.release()                           # its copy arrives after the answer
        assert answer["alias"] and answer["site_id"] == SITE
        assert wait_for(lambda: proxy.late_deliveries == 1, timeout=15)
        assert proxy.late_answers == [b"HTTP/1.1 200 OK"]        # the same answer, again
        record_votes(store, demo, 2, seed=13)
        store.set_setting(p.HUB_URL, hub.url)
        assert push_all(store)["stored"] > 0
        assert device_row(hub, store.device_id)["alias"] == answer["alias"]
    finally:
        proxy.close()


def test_a_stranger_with_a_fresh_code_cannot_take_over_a_device(hub, demo):
    store = Store.memory()
    enroll(store, hub.url, hub.code())
    record_votes(store, demo, 4, seed=14, ideas=1)
    push_all(store)
    results, before = hub.results(), device_row(hub, store.device_id)
    stranger = secrets.token_urlsafe(32)
    answer = requests.post(hub.url + "/api/v1/devices/enroll", timeout=10, json={
        "code": hub.code(), "device_id": store.device_id,
        "credential": hashlib.sha256(stranger.encode()).hexdigest()},
        headers={"Authorization": f"Bearer {store.device_id}:{stranger}",
                 "Accept-Language": "it"})
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "device_enrolled" and error["field"] == "device_id"
    old_style = requests.post(hub.url + "/api/v1/devices/enroll", timeout=10,
                              json={"code": hub.code(), "device_id": store.device_id})
    assert old_style.status_code == 409 and "device_secret" not in old_style.text
    as_stranger = requests.post(hub.url + "/api/v1/events", json={"events": []}, timeout=10,
                                headers={"Authorization": f"Bearer {store.device_id}:{stranger}"})
    assert as_stranger.status_code == 401
    assert device_row(hub, store.device_id) == before and hub.results() == results
    record_votes(store, demo, 1, seed=15)
    assert push_all(store)["stored"] > 0          # the tablet itself goes on


def test_only_staff_lift_a_revocation_and_the_tablet_resumes_by_itself(hub, demo, tmp_path):
    store = Store.open(tmp_path / "t")
    enroll(store, hub.url, hub.code())
    record_votes(store, demo, 2, seed=16)
    assert hub.cli("revoke", store.device_id).returncode == 0
    service = SyncService(tmp_path / "t", push_delay=0.05, poll_interval=0.3,
                          backoff=(0.2, 0.5))
    service.start()
    try:
        assert wait_for(lambda: service.status().state == "revoked")
        assert service.status().pending > 0
        with pytest.raises(p.SyncError) as refused:
            service.enroll(hub.url, hub.code())
        assert refused.value.message == p.ENROLLMENT_REFUSALS["device_revoked"]
        with pytest.raises(p.SyncError) as other:
            service.enroll(hub.url, hub.code(None, device="another-tablet"))
        assert other.value.message == p.ENROLLMENT_REFUSALS["enrollment_code_other_device"]
        assert hub.cli("reinstate", store.device_id).returncode == 0
        service.sync_now()
        assert wait_for(lambda: service.status().state == "synced"
                        and service.status().pending == 0)
        assert hub.device_events(store.device_id) == store.outbox_counts()["acknowledged"]
    finally:
        service.stop()
        store.close()


def test_a_tablet_of_another_site_cannot_act_on_this_sites_consultation(hub, demo):
    assert hub.admin("POST", "/sites", json={"id": FAR_SITE, "name": "Ailleurs"}).ok
    store = Store.memory()
    enroll(store, hub.url, hub.code(FAR_SITE))
    secret = store.get_setting(p.DEVICE_SECRET)
    auth = {"Authorization": f"Bearer {store.device_id}:{secret}"}
    before = hub.results()
    record_votes(store, demo, 3, seed=17, ideas=1)
    store.record_count(demo, "q-ticket", "paper", {"yes": 40})
    counts = push_all(store)
    # Every event naming the consultation is refused; a ballot's close names none and is
    # stored, changing nothing (its ballot was never accepted).
    closes = sum(e.type == "ballot_closed" for e in store.events())
    assert (counts["rejected"], counts["stored"]) == (len(store.events()) - closes, closes)
    reviews = [r for r in hub.admin("GET", "/conflicts").json()["events"]
               if r["device_id"] == store.device_id]
    assert {r["reason"] for r in reviews} == \
        {"This consultation is not open at this tablet's site."}
    assert hub.results()["questions"] == before["questions"]
    display = requests.put(hub.url + "/api/v1/consultations/alpimed-2030/display",
                           json={"hidden": True}, headers=auth, timeout=10)
    assert display.status_code == 403
    assert display.json()["error"]["code"] == "consultation_not_open_here"
    assert requests.get(hub.url + "/api/v1/consultations/alpimed-2030/display",
                        timeout=10).json()["control"] == {}
    # Its sign-up link names its alias; the hub attributes nothing to another site's
    # consultation (the form still works).
    url = kiosk_signup_url(store, consultation_id=demo.id, site_id=SITE, meeting_id=None)
    assert url and store.device_id not in url
    assert store.device_id not in kiosk_idea_url(store, "K7PQ2M")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and 'name="t" value=""' in page.text


def test_sign_up_links_carry_no_device_id_and_the_hub_caps_their_lifetime(hub):
    from app.signup import SIGNUP_ALIAS, SIGNUP_KEY, mint_signup_token
    store = Store.memory()
    enroll(store, hub.url, hub.code())
    url = kiosk_signup_url(store, consultation_id="alpimed-2030", site_id=SITE,
                           meeting_id="m-menton-1203")
    assert store.device_id not in url and store.get_setting(SIGNUP_ALIAS) in url
    page = requests.get(url, timeout=10, params={"lang": "fr"})
    assert 'name="t" value="' + url.split("t=", 1)[1] + '"' in page.text    # attributed
    forever = mint_signup_token(store.get_setting(SIGNUP_KEY), consultation="alpimed-2030",
                                site=SITE, meeting=None, device=store.get_setting(SIGNUP_ALIAS),
                                ttl=80 * 365 * 24 * 3600)
    refused = requests.get(hub.url + "/signup", params={"t": forever, "lang": "fr"}, timeout=10)
    assert refused.status_code == 200 and "pas valable" in refused.text
    assert 'name="t" value=""' in refused.text


def test_an_ambiguous_idea_code_is_answered_by_id_only(hub, demo):
    ids = []
    for seed in (18, 19):
        store = Store.memory()
        enroll(store, hub.url, hub.code())
        idea = store.submit_proposal(demo, title=f"Idée {seed}", text="Même code")
        envelope = store.pending_events()[0].envelope(store.device_id)
        envelope["payload"]["short_code"] = "ZZ22ZZ"
        client = client_for(store)
        assert client.push([envelope])[envelope["id"]]["status"] == "stored"
        client.close()
        ids.append(idea.id)
    by_code = hub.cli("answer-idea", "zz22zz", "--status", "accepted")
    assert by_code.returncode == 2
    assert all(i in by_code.stderr for i in ids) and "answer by ID" in by_code.stderr
    assert hub.cli("answer-idea", ids[0], "--status", "accepted").returncode == 0
    answered = {i["id"]: i["answer_status"] for i in hub.admin("GET", "/proposals").json()[
        "proposals"] if i["id"] in ids}
    assert answered == {ids[0]: "accepted", ids[1]: None}
