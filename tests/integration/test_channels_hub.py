"""Channels and display controls against a real hub on 127.0.0.1: paper counts typed on a tablet
reach the totals and the breakdown, a correction supersedes without erasing, online counts come
through the staff API, and display controls go from a facilitator's tablet to the projector's
source (translated refusals, device or staff only)."""
from __future__ import annotations

import requests

from app.store import Store
from sync.display import DisplayControlSource, HubProjectorSource, send_display_control
from sync.enroll import client_for, enroll
from sync.protocol import HubRefused, SyncError
from sync.worker import push_pending


def test_paper_counts_and_corrections_reach_the_projector(hub, demo):
    source = HubProjectorSource(hub.url, demo.id)
    before = source.poll().snapshot.questions["q-ticket"]
    tablet = Store.memory()
    enroll(tablet, hub.url, hub.code())
    ballot = tablet.start_ballot(demo)
    tablet.record_answer(demo, ballot, "q-ticket", "yes")
    first = tablet.record_count(demo, "q-ticket", "paper", {"yes": 300, "no": 4})
    tablet.record_count(demo, "q-ticket", "paper", {"yes": 30, "no": 4},
                        supersedes=first.count_id)
    counts = push_pending(tablet, client_for(tablet))
    assert counts["stored"] == 4 and counts["rejected"] == 0
    snap = source.poll().snapshot
    ticket = snap.questions["q-ticket"]
    assert ticket["counts"]["yes"] == before["counts"]["yes"] + 31
    assert ticket["channels"]["paper"]["counts"] == {"yes": 30, "no": 4, "abstain": 0}
    assert snap.channels["paper"] >= 34 and snap.contributions >= snap.ballots + 34
    # the old count is still at the hub, superseded
    listed = hub.admin("GET", f"/consultations/{demo.id}/counts").json()["counts"]
    old = next(c for c in listed if c["count_id"] == first.count_id)
    assert old["counts"]["yes"] == 300 and old["superseded_by"] is not None
    # online votes from staff, then the export has the breakdown
    answer = hub.admin("POST", f"/consultations/{demo.id}/online-counts",
                       json={"q-ticket": {"yes": 5}})
    assert answer.status_code == 200, answer.text
    assert source.poll().snapshot.questions["q-ticket"]["channels"]["online"]["ballots"] == 5
    refused = requests.post(f"{hub.url}/api/v1/admin/consultations/{demo.id}/online-counts",
                            json={"q-ticket": {"yes": -5}}, timeout=10,
                            headers={"Authorization": f"Bearer {hub.admin_token}",
                                     "Accept-Language": "it"})
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "q-ticket.counts.yes"
    assert requests.post(f"{hub.url}/api/v1/admin/consultations/{demo.id}/online-counts",
                         json={"q-ticket": {"yes": 5}}, timeout=10).status_code == 401
    exported = hub.cli("export", "results", "--consultation", demo.id)
    assert exported.returncode == 0 and "paper:counts" in exported.stdout
    source.close()
    tablet.close()


def test_display_controls_go_from_a_tablet_to_the_projector(hub, demo):
    watcher = DisplayControlSource(hub.url, demo.id)
    initial = watcher.poll()          # whatever earlier tests set, applied once
    assert watcher.poll() is None     # unchanged: a 304
    tablet = Store.memory()
    enroll(tablet, hub.url, hub.code())
    state = send_display_control(tablet, demo, {"hidden": True, "view": "q-colour"})
    assert state["control"]["hidden"] is True
    control = watcher.poll()
    assert control == {"hidden": True, "view": "q-colour", "revision": state["revision"]}
    send_display_control(tablet, demo, {"view": "q-ticket"})
    assert watcher.poll() == {"view": "q-ticket", "revision": state["revision"] + 1}
    # refused: checked on the tablet first, and at the hub with a translated reason
    try:
        send_display_control(tablet, demo, {"view": "nowhere"})
    except Exception as exc:   # noqa: BLE001
        assert exc.field == "view"
    else:
        raise AssertionError("an unknown view was accepted")
    raw = requests.put(f"{hub.url}/api/v1/consultations/{demo.id}/display",
                       json={"period": 1}, timeout=10,
                       headers={"Authorization": f"Bearer {hub.admin_token}",
                                "Accept-Language": "fr"})
    assert raw.status_code == 400 and raw.json()["error"]["field"] == "period"
    assert "secondes" in raw.json()["error"]["message"]
    anonymous = requests.put(f"{hub.url}/api/v1/consultations/{demo.id}/display",
                             json={"hidden": False}, timeout=10)
    assert anonymous.status_code == 401
    assert watcher.poll() is None                       # nothing changed by the refusals
    unenrolled = Store.memory()
    try:
        send_display_control(unenrolled, demo, {"hidden": False})
    except SyncError as exc:
        assert not isinstance(exc, HubRefused)
    else:
        raise AssertionError("an unenrolled tablet sent a control")
    assert initial is None or "revision" in initial
    watcher.close()
    tablet.close()
