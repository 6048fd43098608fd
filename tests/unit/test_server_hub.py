"""The hub's rules, in process on a temporary SQLite database (no network)."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from app.paths import DEMO_BUNDLE_DIR
from server import db
from server.admin import export, main as admin_main
from server.errors import AuthError, HubError
from app.codes import normalize_code
from server.hub import Hub
from server.settings import Settings

SITE = "menton-mediatheque"


# -- settings and enrollment --------------------------------------------------------------------

def test_settings_come_from_the_environment(tmp_path):
    s = Settings.from_env({"PIAZZETTA_HUB_DATA_DIR": str(tmp_path), "PIAZZETTA_HUB_PORT": "9999",
                           "PIAZZETTA_HUB_HOST": "0.0.0.0", "PIAZZETTA_HUB_MAX_BATCH": "50",
                           "PIAZZETTA_HUB_PUBLIC_URL": "http://hub.local:9999/"})
    assert (s.port, s.host, s.max_batch, s.public_url) == (9999, "0.0.0.0", 50,
                                                           "http://hub.local:9999")
    assert s.database_url == f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    made = s.with_secrets()
    assert made.secret_key and made.admin_token
    assert (tmp_path / "secret-key").read_text() == made.secret_key
    assert s.with_secrets().admin_token == made.admin_token   # made once, then kept


def test_an_enrollment_code_works_once_and_the_hub_keeps_only_hashes(hub):
    made = hub.make_enrollment_code(SITE)
    assert len(made["code"]) == 9 and made["code"][4] == "-"
    assert made["qr"].startswith("piazzetta://enroll?hub=")
    answer = hub.enroll(made["code"].lower().replace("-", " "), "tablet-1")
    assert answer["site_id"] == SITE and len(answer["device_secret"]) > 30
    with pytest.raises(HubError) as used:
        hub.enroll(made["code"], "tablet-2")
    assert used.value.code == "enrollment_code_invalid"
    with hub.engine.connect() as conn:
        rows = [tuple(r) for t in (db.devices, db.enrollment_codes)
                for r in conn.execute(select(t))]
    text = json.dumps(rows, default=str)
    assert answer["device_secret"] not in text and normalize_code(made["code"]) not in text


def test_expired_and_unknown_codes_get_the_same_answer(hub):
    made = hub.make_enrollment_code(SITE)
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(timespec="seconds")
    with hub.writer.begin() as conn:
        conn.execute(update(db.enrollment_codes).values(expires_at=past))
    messages = set()
    for code in (made["code"], "ZZZZ-ZZZZ", "", None, "x" * 10_000, "'; DROP TABLE devices;--"):
        with pytest.raises(HubError) as refused:
            hub.enroll(code, "tablet-1")
        messages.add(refused.value.describe())
    assert len(messages) == 1
    assert hub.devices() == []


def test_revocation_is_immediate_and_only_a_staff_code_for_the_device_lifts_it(hub):
    made = hub.enroll(hub.make_enrollment_code(SITE)["code"], "tablet-1")
    header = f"Bearer tablet-1:{made['device_secret']}"
    assert hub.authenticate(header)["id"] == "tablet-1"
    hub.revoke("tablet-1")
    with pytest.raises(AuthError) as revoked:
        hub.authenticate(header)
    assert revoked.value.code == "device_revoked" and revoked.value.status == 401
    with pytest.raises(HubError) as refused:      # a site code does not lift it
        hub.enroll(hub.make_enrollment_code(SITE)["code"], "tablet-1", authorization=header)
    assert (refused.value.status, refused.value.code) == (409, "device_revoked")
    again = hub.enroll(hub.make_enrollment_code(None, device_id="tablet-1")["code"], "tablet-1")
    assert again["site_id"] == SITE               # a staff code without a site keeps it
    assert hub.authenticate(f"Bearer tablet-1:{again['device_secret']}")["id"] == "tablet-1"
    with pytest.raises(AuthError):
        hub.authenticate(header)   # the old secret is gone
    for bad in (None, "", "Bearer", "Bearer x", "Basic abc", "Bearer tablet-1:nope"):
        with pytest.raises(AuthError):
            hub.authenticate(bad)


# -- events -------------------------------------------------------------------------------------

def test_a_resend_is_acknowledged_again_and_stored_once(hub, demo, tablet, pending, statuses):
    store, device = tablet(hub)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    batch = pending(store)
    assert statuses(hub.ingest(device, batch)) == ["stored", "stored"]
    assert statuses(hub.ingest(device, batch + batch)) == ["duplicate"] * 4
    assert hub.event_count() == 2
    assert json.loads(hub.read_results(demo.id)[1])["questions"]["q-ticket"]["counts"]["yes"] == 1


def test_same_id_other_content_is_a_conflict_kept_for_review(hub, demo, tablet, pending):
    store, device = tablet(hub)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    batch = pending(store)
    hub.ingest(device, batch)
    forged = copy.deepcopy(batch[1])
    forged["payload"]["value"] = "no"
    result = hub.ingest(device, [forged])[0]
    assert result["status"] == "conflict" and result["id"] == forged["id"]
    review = [r for r in hub.reviews() if r["kind"] == "conflict"]
    assert review[0]["envelope"]["payload"]["value"] == "no"
    counts = json.loads(hub.read_results(demo.id)[1])["questions"]["q-ticket"]["counts"]
    assert counts == {"yes": 1, "no": 0, "abstain": 0}   # never merged


def test_a_bad_event_is_refused_with_its_reason_and_the_rest_goes_in(hub, demo, tablet, pending,
                                                                     statuses):
    store, device = tablet(hub)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    good = pending(store)
    base = good[1]
    bad = [
        dict(base, id="e-option", payload=dict(base["payload"], value="maybe")),
        dict(base, id="e-question", payload=dict(base["payload"], question_id="q-none")),
        dict(base, id="e-consultation", payload=dict(base["payload"], consultation_id="nope")),
        dict(base, id="e-type", type="vote_rigged"),
        dict(base, id="e-seq", seq=-1),
        dict(base, id="e-device", device_id="other"),
        dict(base, id="bad id with spaces"),
        dict(base, id="e-payload", payload="not an object"),
        "not even an object",
        dict(base, id="e-budget", payload=dict(base["payload"], question_id="q-budget",
                                                value={"p-bus": 10 ** 12})),
    ]
    results = hub.ingest(device, [good[0], *bad, good[1]])
    assert statuses(results) == ["stored"] + ["rejected"] * len(bad) + ["stored"]
    assert results[1]["message"] == "Answer yes, no or abstain."
    assert results[2]["message"] == "Unknown question."
    assert results[3]["message"] == "Unknown consultation."
    assert all(r["message"] for r in results[1:-1])
    assert hub.event_count() == 2
    assert len([r for r in hub.reviews() if r["kind"] == "rejected"]) == len(bad)


def test_a_batch_over_the_advertised_size_is_refused_whole(tmp_path, demo, tablet, pending):
    hub = Hub(Settings.from_env({}, data_dir=tmp_path / "h", max_batch=3))
    hub.import_bundle(DEMO_BUNDLE_DIR)
    store, device = tablet(hub)
    for _ in range(2):
        store.start_ballot(demo)
    with pytest.raises(HubError) as too_many:
        hub.ingest(device, pending(store) * 2)
    assert too_many.value.status == 413 and hub.event_count() == 0
    hub.close()


def test_the_latest_answer_wins_whatever_the_arrival_order(hub, demo, tablet, pending, statuses):
    store, device = tablet(hub)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    store.record_answer(demo, ballot, "q-ticket", "no")
    store.record_answer(demo, ballot, "q-cooperation", 2)
    store.withdraw_answer(ballot, "q-cooperation")
    store.record_answer(demo, ballot, "q-colour", {"p-bus": "green"})
    store.record_answer(demo, ballot, "q-colour", {"p-bus": "red"})
    batch = pending(store)
    for event in reversed(batch):      # worst case: one at a time, newest first
        assert statuses(hub.ingest(device, [event])) == ["stored"]
    results = json.loads(hub.read_results(demo.id)[1])
    assert results["questions"] == store.results(demo)
    assert results["questions"]["q-ticket"]["counts"]["no"] == 1
    assert results["questions"]["q-cooperation"]["total"] == 0
    assert results["ballots"] == 1


def test_an_answer_to_an_older_version_stays_valid_while_its_question_exists(hub, demo, tablet,
                                                                             pending, statuses):
    store, device = tablet(hub)
    ballot = store.start_ballot(demo)                   # version 1 on the tablet
    store.record_answer(demo, ballot, "q-ticket", "yes")
    store.record_answer(demo, ballot, "q-missing", "Plus de bancs")
    bundle = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text())
    bundle["consultation"]["version"] = 2
    bundle["consultation"]["questions"] = [q for q in bundle["consultation"]["questions"]
                                           if q["id"] != "q-missing"]
    hub.import_bundle(bundle)
    results = hub.ingest(device, pending(store))
    assert statuses(results) == ["stored", "stored", "rejected"]
    assert results[2]["message"] == "Unknown question."
    read = json.loads(hub.read_results(demo.id)[1])
    assert read["version"] == 2 and read["questions"]["q-ticket"]["counts"]["yes"] == 1


def test_bundle_versions_only_go_forward(hub):
    bundle = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text())
    hub.import_bundle(bundle)     # the same again: accepted, nothing changes
    changed = copy.deepcopy(bundle)
    changed["consultation"]["goal"] = 5000
    with pytest.raises(HubError) as refused:
        hub.import_bundle(changed)
    assert refused.value.code == "bundle_version"
    changed["consultation"]["version"] = 3
    assert hub.import_bundle(changed).goal == 5000
    changed["consultation"]["version"] = 2
    with pytest.raises(HubError):
        hub.import_bundle(changed)


def test_reading_results_never_touches_the_database(hub, demo, tablet, pending):
    store, device = tablet(hub)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-scale" if demo.question("q-scale") else "q-cooperation",
                        3)
    hub.ingest(device, pending(store))
    etag, body = hub.read_results(demo.id)
    engine = hub.engine
    hub.engine = None        # any query would now fail
    try:
        assert hub.read_results(demo.id) == (etag, body)
    finally:
        hub.engine = engine
    store.record_answer(demo, ballot, "q-ticket", "abstain")
    hub.ingest(device, pending(store))
    new_etag, new_body = hub.read_results(demo.id)
    assert new_etag != etag and json.loads(new_body)["revision"] > json.loads(body)["revision"]


def test_tallies_rebuilt_at_start_match_the_live_ones(hub, demo, tmp_path, tablet, pending):
    store, device = tablet(hub)
    for value in ("yes", "no", "no"):
        ballot = store.start_ballot(demo)
        store.record_answer(demo, ballot, "q-ticket", value)
        store.record_answer(demo, ballot, "q-ticket", "abstain" if value == "yes" else value)
    hub.ingest(device, pending(store))
    live = json.loads(hub.read_results(demo.id)[1])
    again = Hub(hub.settings)
    rebuilt = json.loads(again.read_results(demo.id)[1])
    again.close()
    assert rebuilt["questions"] == live["questions"] == store.results(demo)
    assert rebuilt["ballots"] == 3


# -- ideas and their answers ----------------------------------------------------------------------

def test_ideas_nasty_text_and_answers_pulled_by_cursor(hub, demo, tablet, pending, statuses):
    store, device = tablet(hub)
    nasty = "<script>alert(1)</script> '; DROP TABLE proposals;-- 🌳\u202e"
    idea = store.submit_proposal(demo, title="Bancs 🪑", text=nasty,
                                 contact="ada@example.org", contact_consent=True)
    envs = pending(store)
    huge = copy.deepcopy(envs[0])
    huge["id"] = "huge"
    huge["payload"]["proposal_id"] = "other"
    huge["payload"]["text"] = "x" * 100_000
    assert statuses(hub.ingest(device, envs + [huge])) == ["stored", "rejected"]
    stored = hub.proposals(demo.id)[0]
    # Kept as typed, but for the bidirectional override (app.text.BIDI_CONTROLS).
    assert stored["text"] == nasty.replace("\u202e", "") and stored["contact"] == "ada@example.org"
    assert hub.answers_since(device, 0) == {"cursor": 0, "answers": []}
    hub.answer_proposal(idea.short_code, "under_study", "Nous regardons 👀")
    hub.answer_proposal(idea.id, "accepted", "Oui")
    pulled = hub.answers_since(device, 0)
    assert [a["answer_status"] for a in pulled["answers"]] == ["accepted"]
    assert hub.answers_since(device, pulled["cursor"])["answers"] == []
    other_store, other = tablet(hub)
    assert hub.answers_since(other, 0)["answers"] == []      # only its own ideas
    with pytest.raises(HubError):
        hub.answer_proposal(idea.id, "maybe", "")
    with pytest.raises(HubError):
        hub.answer_proposal("no-such-idea", "accepted", "")
    public = hub.proposals(demo.id, public=True)
    assert public == []          # not approved yet
    store.moderate_proposal(idea.id, "approved")
    hub.ingest(device, pending(store))
    public = hub.proposals(demo.id, public=True)
    assert len(public) == 1 and "contact" not in public[0]
    assert json.loads(hub.read_results(demo.id)[1])["ideas"] == {"received": 1, "approved": 1}


def test_exports_hold_no_personal_data(hub, demo, tablet, pending):
    store, device = tablet(hub)
    store.submit_proposal(demo, title="Un banc", text="Près de la gare",
                          contact="+33 6 12 34 56 78", contact_consent=True)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    hub.ingest(device, pending(store))
    for what in ("ideas", "results"):
        for fmt in ("csv", "json"):
            text = export(hub, what, demo.id, fmt)
            assert "12 34 56 78" not in text and "contact" not in text
            assert store.device_id not in text
    assert "Un banc" in export(hub, "ideas", demo.id, "csv", all_ideas=True)
    csv_rows = export(hub, "results", demo.id, "csv").splitlines()
    assert "alpimed-2030,1,q-ticket,yes_no,yes,counts,1" in csv_rows


def test_cli_makes_a_code_with_a_qr_png(tmp_path, capsys):
    data = str(tmp_path / "hub")
    assert admin_main(["--data-dir", data, "import-bundle", str(DEMO_BUNDLE_DIR)]) == 0
    png = tmp_path / "code.png"
    assert admin_main(["--data-dir", data, "enroll-code", "--site", SITE,
                       "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "Enrollment code: " in out and "piazzetta://enroll?" in out and "█" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert admin_main(["--data-dir", data, "enroll-code", "--site", "nowhere"]) == 2
    assert "Unknown site" in capsys.readouterr().err


def test_signed_tokens_expire_and_resist_tampering():
    from server.signing import TokenError, sign, verify
    token = sign({"consultation": "alpimed-2030", "site": SITE, "device": "t1"}, "k", 600,
                 now=1000)
    assert verify(token, "k", now=1500)["site"] == SITE
    with pytest.raises(TokenError) as expired:
        verify(token, "k", now=1601)
    assert expired.value.describe() == "This link has expired."
    body, mac = token.split(".")
    for bad in (token + "x", f"{body}x.{mac}", token.replace(".", ""), "", None, "a.b",
                sign({"site": "other"}, "other-key", 600)):
        with pytest.raises(TokenError):
            verify(bad, "k", now=1500)


def test_every_cli_command_is_documented():
    from pathlib import Path

    from server.admin import _parser
    docs = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    import server.admin as admin_module
    commands = _parser()._subparsers._group_actions[0].choices
    for command in commands:
        assert f"python -m server {command}" in admin_module.__doc__ or command == "serve"
    assert "python -m server" in docs


def test_the_hub_keeps_the_language_an_idea_was_written_in(hub, demo, tablet, pending,
                                                           statuses):
    store, device = tablet(hub)
    store.submit_proposal(demo, title="Navetta", text="Per l'ospedale di Sanremo", lang="it")
    store.submit_proposal(demo, title="Un banc", text="À l'ombre")          # an older tablet
    envs = pending(store)
    bad = copy.deepcopy(envs[0])
    bad["id"], bad["payload"]["proposal_id"] = "bad-lang", "other"
    bad["payload"]["lang"] = "klingon"
    assert statuses(hub.ingest(device, envs + [bad])) == ["stored", "stored", "rejected"]
    by_title = {p["title"]: p for p in hub.proposals(demo.id)}
    assert by_title["Navetta"]["lang"] == "it" and by_title["Un banc"]["lang"] is None
    assert "other" not in {p["id"] for p in hub.proposals(demo.id)}
