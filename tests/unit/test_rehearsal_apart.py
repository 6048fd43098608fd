"""Rehearsal (issue 30): a tablet's answers before the session opens are kept apart, never in a
tally, figure or export, at the tablet or the hub; opening the session wipes them on both, and
an event of the rehearsal arriving afterwards is refused."""
import json

import pytest
from sqlalchemy import func, select

from app.errors import StoreError
from app.kiosk import KioskSession
from server import db
from server.admin import export


def _rehearse(store, demo):
    """A facilitator's rehearsal on `store`: two residents' taps; the session."""
    session = KioskSession(store, demo)
    session.start_rehearsal()
    for value in ("yes", "no"):
        session.start()
        session.index = [q.id for q in demo.questions].index("q-ticket")
        session.record(value)
        session.finish()
    return session


def _count(hub, table):
    with hub.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_a_rehearsal_is_kept_apart_on_the_tablet_and_wiped_when_the_session_opens(store, demo):
    session = _rehearse(store, demo)
    assert session.in_rehearsal
    assert store.conn.execute("SELECT count(*) FROM ballots").fetchone()[0] == 0
    assert store.conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    assert store.results(demo)["q-ticket"]["counts"] == {"yes": 0, "no": 0, "abstain": 0}
    assert store.figures(demo.id)["ballots"] == 0
    assert store.rehearsal_tallies(demo)["q-ticket"].result()["counts"] == {"yes": 1, "no": 1, "abstain": 0}
    types = [e.type for e in store.events()]
    assert types == ["rehearsal_started", "rehearsal_answer", "rehearsal_answer"]
    assert session.open_session() == 2
    assert not session.in_rehearsal and store.rehearsal_ballots(demo.id) == 0
    assert [e.type for e in store.events()][-1] == "rehearsal_ended"
    session.start()
    session.index = [q.id for q in demo.questions].index("q-ticket")
    session.record("yes")
    session.finish()
    assert store.results(demo)["q-ticket"]["counts"] == {"yes": 1, "no": 0, "abstain": 0}


def test_a_ballot_never_crosses_between_rehearsal_and_session(store, demo):
    session = KioskSession(store, demo)
    session.start_rehearsal()
    session.start()
    ballot = session.ballot_id
    # The session opens under this resident's feet (another path than the facilitator's,
    # which ends the resident first): the rehearsal ballot keeps nothing more, anywhere.
    store.open_session()
    with pytest.raises(StoreError):
        session.record({"p-bus": "green"})
    assert store.conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    session.abandon()
    # A real ballot, then the tablet switched to rehearsal: it records nothing real after.
    session.start()
    store.start_rehearsal()
    with pytest.raises(StoreError):
        session.record({"p-bus": "green"})
    assert store.conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0
    assert ballot != session.ballot_id


def test_switching_ends_the_current_resident(store, demo):
    session = KioskSession(store, demo)
    session.start()
    session.record({"p-bus": "green"})
    session.start_rehearsal()
    assert not session.started
    status = store.conn.execute("SELECT status FROM ballots").fetchone()[0]
    assert status == "abandoned"


def test_no_idea_is_kept_in_rehearsal(store, demo):
    session = KioskSession(store, demo)
    session.start_rehearsal()
    with pytest.raises(StoreError):
        session.submit_idea(title="Un banc", text="Près de la gare")
    assert store.conn.execute("SELECT count(*) FROM proposals").fetchone()[0] == 0


def test_the_hub_keeps_a_rehearsal_apart_and_refuses_it_once_the_session_opened(
        hub, demo, tablet, pending, push, statuses, api):
    store, device = tablet(hub)
    session = _rehearse(store, demo)
    rehearsal_events = pending(store)
    assert statuses(push(hub, store, device)) == ["stored"] * 3
    assert hub.rehearsal.running() and hub.rehearsal.running(device["site_id"])
    assert not hub.rehearsal.running("another-site")
    # Nothing real: no event row, no ballot, no answer, no tally, no export line.
    assert _count(hub, db.events) == 0 and _count(hub, db.ballots) == 0
    assert _count(hub, db.ballot_answers) == 0
    real = json.loads(hub.read_results(demo.id)[1])
    assert real["ballots"] == 0 and real["questions"]["q-ticket"]["counts"] == {"yes": 0,
                                                                                "no": 0,
                                                                                "abstain": 0}
    client = api.fresh()
    shown = client.get(f"/api/v1/consultations/{demo.id}/rehearsal/results").json()
    assert shown["rehearsal"] is True and shown["ballots"] == 2
    assert shown["questions"]["q-ticket"]["counts"] == {"yes": 1, "no": 1, "abstain": 0}
    assert "yes,counts,1" not in export(hub, "results", demo.id, "csv")
    # The session opens: the hub wipes the rehearsal.
    session.open_session()
    assert statuses(push(hub, store, device)) == ["stored"]
    assert not hub.rehearsal.running() and _count(hub, db.rehearsal_answers) == 0
    shown = client.get(f"/api/v1/consultations/{demo.id}/rehearsal/results").json()
    assert shown["ballots"] == 0
    # Real votes, then a rehearsal answer replayed: refused, counted nowhere.
    session.start()
    session.index = [q.id for q in demo.questions].index("q-ticket")
    session.record("no")
    session.finish()
    assert set(statuses(push(hub, store, device))) == {"stored"}
    replayed = hub.ingest(device, rehearsal_events[1:])
    assert [(r["status"], r["code"]) for r in replayed] == [("rejected", "rehearsal_over")] * 2
    real = json.loads(hub.read_results(demo.id)[1])
    assert real["ballots"] == 1 and real["questions"]["q-ticket"]["counts"] == {"yes": 0,
                                                                                "no": 1,
                                                                                "abstain": 0}
    assert _count(hub, db.rehearsal_answers) == 0
    csv_rows = export(hub, "results", demo.id, "csv").splitlines()
    assert "alpimed-2030,1,q-ticket,yes_no,no,counts,1" in csv_rows
    assert "alpimed-2030,1,q-ticket,yes_no,yes,counts,0" in csv_rows
    # What was kept for review of the refused replays holds no rehearsal answer.
    with hub.engine.connect() as conn:
        envelopes = conn.execute(select(db.event_reviews.c.envelope)).scalars().all()
    assert len(envelopes) == 2 and all('"value"' not in e for e in envelopes)


def test_another_device_cannot_speak_for_a_rehearsal(hub, demo, tablet, pending, push, statuses):
    store, device = tablet(hub)
    _rehearse(store, demo)
    events = pending(store)
    push(hub, store, device)
    other, other_device = tablet(hub)
    forged = [dict(e, device_id=other.device_id, id=e["id"] + "x") for e in events[1:2]]
    result = hub.ingest(other_device, forged)
    assert [(r["status"], r["code"]) for r in result] == [("rejected", "rehearsal_unknown")]
    assert _count(hub, db.rehearsal_answers) == 2


def _draft_of_demo(demo_dir, version=2):
    data = json.loads((demo_dir / "bundle.json").read_text(encoding="utf-8"))
    data["consultation"]["version"] = version
    title = data["consultation"]["title"]
    title["fr"] = "Brouillon : " + title["fr"]
    return data


def _index_entry(hub, device, consultation_id):
    return next(c for c in hub.bundle_index(device)["consultations"] if c["id"] == consultation_id)


def test_a_draft_version_reaches_only_the_named_tablets_and_only_in_rehearsal(
        hub, demo, tablet, push, statuses, api):
    from app.paths import DEMO_BUNDLE_DIR
    from server.errors import HubError
    store, device = tablet(hub)
    other, other_device = tablet(hub)
    hub.content.import_draft(_draft_of_demo(DEMO_BUNDLE_DIR), [store.device_id])
    assert hub.content.drafts()[0]["device_ids"] == [store.device_id]
    # Not in rehearsal yet: the published version, for both.
    assert _index_entry(hub, device, demo.id)["version"] == 1
    store.start_rehearsal()
    other.start_rehearsal()
    push(hub, store, device)
    push(hub, other, other_device)
    entry = _index_entry(hub, device, demo.id)
    assert entry["version"] == 2 and entry["draft"] is True
    assert entry["bundle_url"].endswith("/draft/bundle")
    assert _index_entry(hub, other_device, demo.id)["version"] == 1     # not named
    client = api.fresh()
    mine = {"Authorization": f"Bearer {store.device_id}:{device['secret']}"}
    theirs = {"Authorization": f"Bearer {other.device_id}:{other_device['secret']}"}
    got = client.get(entry["bundle_url"], headers=mine)
    assert got.status_code == 200 and got.json()["consultation"]["title"]["fr"].startswith("Brouillon")
    assert client.get(entry["bundle_url"], headers=theirs).status_code == 404
    assert client.get(entry["bundle_url"]).status_code == 401
    # Published versions unaffected: the hub, its results, its public bundle.
    assert hub.consultation(demo.id).version == 1
    assert client.get(f"/api/v1/consultations/{demo.id}/bundle").json()["consultation"][
        "version"] == 1
    assert json.loads(hub.read_results(demo.id)[1])["version"] == 1
    # A rehearsal answer on the draft version is checked against the draft, kept apart.
    from app.bundle import parse_bundle
    draft = parse_bundle(_draft_of_demo(DEMO_BUNDLE_DIR))
    store.record_rehearsal_answer(draft, "b1", "q-ticket", "yes")
    assert statuses(push(hub, store, device)) == ["stored"]
    assert _count(hub, db.rehearsal_answers) == 1 and _count(hub, db.ballot_answers) == 0
    # The session opens: the published version again (by its sha256), the draft kept.
    store.open_session()
    push(hub, store, device)
    assert _index_entry(hub, device, demo.id)["version"] == 1
    assert client.get(entry["bundle_url"], headers=mine).status_code == 404
    # A draft must be above the published version; publishing makes it stale.
    with pytest.raises(HubError):
        hub.content.import_draft(_draft_of_demo(DEMO_BUNDLE_DIR, version=1), [store.device_id])
    with pytest.raises(HubError):
        hub.content.import_draft(_draft_of_demo(DEMO_BUNDLE_DIR), [])
    assert hub.content.remove_draft(demo.id) and hub.content.drafts() == []


def test_staff_upload_list_and_remove_a_draft_from_the_command_line(tmp_path, capsys):
    import shutil

    from app.paths import DEMO_BUNDLE_DIR
    from server.admin import main as admin_main
    data = str(tmp_path / "hub")
    assert admin_main(["--data-dir", data, "import-bundle", str(DEMO_BUNDLE_DIR)]) == 0
    folder = tmp_path / "draft"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    (folder / "bundle.json").write_text(json.dumps(_draft_of_demo(DEMO_BUNDLE_DIR)),
                                        encoding="utf-8")
    assert admin_main(["--data-dir", data, "draft", "upload", str(folder),
                       "--device", "tablet-a", "--device", "tablet-b"]) == 0
    assert "version 2 for tablet-a, tablet-b" in capsys.readouterr().out
    assert admin_main(["--data-dir", data, "draft", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["version"] == 2 and listed[0]["device_ids"] == ["tablet-a", "tablet-b"]
    assert admin_main(["--data-dir", data, "consultations"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["version"] == 1     # published: untouched
    assert admin_main(["--data-dir", data, "draft", "upload", str(DEMO_BUNDLE_DIR),
                       "--device", "tablet-a"]) == 2                  # not above version 1
    assert "higher version" in capsys.readouterr().err
    assert admin_main(["--data-dir", data, "draft", "remove", "alpimed-2030"]) == 0
    assert admin_main(["--data-dir", data, "draft", "remove", "alpimed-2030"]) == 1
