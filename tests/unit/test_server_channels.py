"""Channels and display controls at the hub, in process on a temporary SQLite database: counts
pushed by a tablet enter the totals and the breakdown, corrections supersede without erasing
(in any order of arrival), bad counts are rejected with their reason, online counts imported
by staff replace the previous import, exports carry the breakdown, and display controls merge
with a revision per key."""
from __future__ import annotations

import json

import pytest

from app.errors import ValidationError
from server import channels, display_controls
from server.admin import export, main as admin_main
from server.errors import HubError
from server.hub import Hub


def results(hub, consultation_id="alpimed-2030"):
    return json.loads(hub.read_results(consultation_id)[1])


def test_pushed_counts_enter_total_and_breakdown(hub, demo, tablet, push):
    store, device = tablet(hub)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    store.record_count(demo, "q-ticket", "paper", {"yes": 20, "no": 4})
    store.record_count(demo, "q-colour", "show_of_hands",
                       {"p-bus": {"green": 30, "orange": 2, "red": 1}})
    assert [r["status"] for r in push(hub, store, device)] == ["stored"] * 4
    body = results(hub)
    ticket = body["questions"]["q-ticket"]
    assert ticket["counts"]["yes"] == 21 and ticket["ballots"] == 25
    assert ticket["channels"]["tablet"]["ballots"] == 1
    assert ticket["channels"]["paper"]["counts"] == {"yes": 20, "no": 4, "abstain": 0}
    assert body["questions"]["q-colour"]["projects"]["p-bus"]["counts"]["green"] == 30
    assert body["channels"] == {"tablet": 1, "paper": 24, "show_of_hands": 33}
    assert body["questions"] == {q: r for q, r in store.results(demo).items()}  # same tallies
    # a restarted hub rebuilds the same figures from its database
    again = Hub(hub.settings)
    assert json.loads(again.read_results(demo.id)[1])["questions"] == body["questions"]
    again.close()


def test_a_correction_supersedes_and_the_old_count_stays(hub, demo, tablet, push):
    store, device = tablet(hub)
    first = store.record_count(demo, "q-ticket", "paper", {"yes": 200, "no": 4})
    push(hub, store, device)
    store.record_count(demo, "q-ticket", "paper", {"yes": 20, "no": 4},
                       supersedes=first.count_id)
    push(hub, store, device)
    assert results(hub)["questions"]["q-ticket"]["counts"]["yes"] == 20
    kept = channels.counts_of(hub, demo.id)
    assert [(c["counts"]["yes"], c["superseded_by"] is None) for c in kept] == \
        [(200, False), (20, True)]
    assert hub.event_count() == 2


def test_a_correction_arriving_first_wins_whatever_the_order(hub, demo, tablet, push):
    store, device = tablet(hub)
    first = store.record_count(demo, "q-ticket", "paper", {"yes": 200})
    store.record_count(demo, "q-ticket", "paper", {"yes": 2}, supersedes=first.count_id)
    events = [e.envelope(store.device_id) for e in store.pending_events()]
    assert [r["status"] for r in hub.ingest(device, events[1:])] == ["stored"]
    assert [r["status"] for r in hub.ingest(device, events[:1])] == ["stored"]
    assert [r["status"] for r in hub.ingest(device, events)] == ["duplicate", "duplicate"]
    assert results(hub)["questions"]["q-ticket"]["counts"]["yes"] == 2
    # both in one batch, in order
    store2, device2 = tablet(hub)
    a = store2.record_count(demo, "q-cooperation", "paper", {"5": 9})
    store2.record_count(demo, "q-cooperation", "paper", {"5": 3}, supersedes=a.count_id)
    push(hub, store2, device2)
    assert results(hub)["questions"]["q-cooperation"]["distribution"]["5"] == 3


@pytest.mark.parametrize("payload_change, field", [
    ({"counts": {"yes": -3}}, "payload.counts.yes"),
    ({"counts": {"maybe": 3}}, "payload.counts.maybe"),
    ({"counts": {"yes": 10 ** 12}}, "payload.counts.yes"),
    ({"question_id": "q-budget", "counts": {"p-bus": 3}}, "payload.question_id"),
    ({"channel": "tablet"}, "payload.channel"),
    ({"count_id": "../etc"}, "payload.count_id"),
    ({"supersedes": "count-of-nothing\u0000"}, "payload.supersedes"),
])
def test_bad_counts_are_rejected_with_their_reason(hub, demo, payload_change, field, tablet):
    store, device = tablet(hub)
    store.record_count(demo, "q-ticket", "paper", {"yes": 1})
    envelope = store.pending_events()[0].envelope(store.device_id)
    envelope["payload"].update(payload_change)
    before = results(hub)["questions"]
    [result] = hub.ingest(device, [envelope])
    assert result["status"] == "rejected" and result["field"] == field, result
    assert results(hub)["questions"] == before
    assert channels.counts_of(hub, demo.id) == []


def test_a_count_corrected_twice_keeps_the_first_correction(hub, demo, tablet, push):
    one, d1 = tablet(hub)
    first = one.record_count(demo, "q-ticket", "paper", {"yes": 10})
    push(hub, one, d1)
    one.record_count(demo, "q-ticket", "paper", {"yes": 11}, supersedes=first.count_id)
    push(hub, one, d1)
    # another tablet's event correcting the same first count is kept for review
    two, d2 = tablet(hub)
    envelope = {"id": "e1", "device_id": two.device_id, "seq": 1, "type": "tally_count",
                "recorded_at": "x", "payload": {
                    "count_id": "c-other", "consultation_id": demo.id, "question_id": "q-ticket",
                    "channel": "paper", "counts": {"yes": 99}, "supersedes": first.count_id}}
    [result] = hub.ingest(d2, [envelope])
    assert result["status"] == "rejected" and result["field"] == "payload.supersedes"
    assert results(hub)["questions"]["q-ticket"]["counts"]["yes"] == 11


def test_online_counts_replace_the_previous_import(hub, demo, tmp_path, capsys):
    channels.import_online_counts(hub, demo.id, {"q-ticket": {"yes": 50, "no": 10},
                                                 "q-themes": {"counts": {"health": 30, "services": 25},
                                                              "ballots": 40}})
    channels.import_online_counts(hub, demo.id, {"q-ticket": {"yes": 55, "no": 12}})
    body = results(hub)
    assert body["questions"]["q-ticket"]["channels"]["online"]["counts"]["yes"] == 55
    assert body["questions"]["q-themes"]["ballots"] == 40
    assert body["channels"]["online"] == 67
    assert len(channels.counts_of(hub, demo.id)) == 3
    with pytest.raises(HubError) as err:
        channels.import_online_counts(hub, demo.id, {"q-ticket": {"yes": 1},
                                                     "q-colour": {"p-bus": {"blue": 1}}})
    assert err.value.field == "q-colour.counts.p-bus.blue"
    assert results(hub)["questions"]["q-ticket"]["counts"]["yes"] == 55   # all or nothing
    with pytest.raises(HubError):
        channels.import_online_counts(hub, "nope", {"q-ticket": {"yes": 1}})
    # the CLI, on the same data directory
    hub.close()
    data = str(hub.settings.data_dir)
    file = tmp_path / "online.json"
    file.write_text(json.dumps({"q-ticket": {"yes": 60, "no": 12}}))
    assert admin_main(["--data-dir", data, "import-online-counts", str(file),
                       "--consultation", demo.id]) == 0
    file.write_text("{not json")
    assert admin_main(["--data-dir", data, "import-online-counts", str(file),
                       "--consultation", demo.id]) == 2
    file.write_text(json.dumps({"q-ticket": {"yes": -1}}))
    assert admin_main(["--data-dir", data, "import-online-counts", str(file),
                       "--consultation", demo.id]) == 2
    assert "negative" in capsys.readouterr().err
    reopened = Hub(hub.settings)
    try:
        assert results(reopened)["questions"]["q-ticket"]["counts"]["yes"] == 60
        csv_rows = export(reopened, "results", demo.id, "csv").splitlines()
        assert "alpimed-2030,1,q-ticket,yes_no,yes,online:counts,60" in csv_rows
        assert "alpimed-2030,1,,,online,participants,72" in csv_rows
        as_json = json.loads(export(reopened, "results", demo.id, "json"))
        assert as_json["questions"]["q-ticket"]["channels"]["online"]["ballots"] == 72
    finally:
        reopened.close()


def test_display_controls_merge_with_a_revision_per_key(hub, demo):
    etag, body = display_controls.read_display(hub, demo.id)
    assert json.loads(body)["revision"] == 0 and json.loads(body)["control"] == {}
    display_controls.set_display(hub, demo.id, {"hidden": True, "view": "q-ticket"}, "staff")
    state = display_controls.set_display(hub, demo.id, {"view": "q-colour", "revision": 99}, "device:x")
    assert state["revision"] == 2
    assert state["control"] == {"hidden": True, "view": "q-colour"}
    assert state["set_at"] == {"hidden": 1, "view": 2}
    etag2, body2 = display_controls.read_display(hub, demo.id)
    assert etag2 != etag and json.loads(body2)["control"]["view"] == "q-colour"
    for bad in ({"view": "q-nowhere"}, {"hidden": "yes"}, {"period": 10 ** 9}, {},
                {"bilingual": "klingon"}, ["hidden"]):
        with pytest.raises((ValidationError, HubError)):
            display_controls.set_display(hub, demo.id, bad, "staff")
    assert display_controls.read_display(hub, demo.id) == (etag2, body2)    # nothing changed
    assert display_controls.read_display(hub, "nope") is None
