"""Closing records (issue 30), in process on a temporary SQLite database: a meeting played end to
end — identified votes with printed cards, open votes, a paper count corrected once, ideas
moderated, one tablet that syncs late — closed twice: the sheet's numbers equal a tally kept by
the test itself, the late tablet is flagged then cleared, the correction after the first closing
is flagged; the signed file verifies offline and fails when one byte changes; a chain with a
closing taken out or edited is refused."""
from __future__ import annotations

import html
import json
import re

import pytest

from app.canonical import canonical_json
from server import closing as closings
from server.admin import main as admin_main
from server.closing_sheet import can_show

MEETING = "m-menton-1203"


def meeting_played(hub, demo, tablet, push):
    """The meeting: returns (the late tablet and its device, what the test counted itself)."""
    cards = hub.participation.cards.issue_cards(demo.id, 6, kind="printed")
    one, d1 = tablet(hub)
    late, d2 = tablet(hub)
    expected = {"tablet": 0, "q-ticket": 0, "used": set()}
    for card, answer in zip(cards[:4], ("yes", "no", "yes", "yes")):
        ballot = one.start_ballot(demo, mode="identified", site_id=d1["site_id"],
                                  meeting_id=MEETING)
        one.record_answer(demo, ballot, "q-ticket", answer, card=card)
        one.record_answer(demo, ballot, "q-cooperation", 4, card=card)
        one.close_ballot(ballot)
        expected["tablet"] += 1
        expected["q-ticket"] += 1
        expected["used"].add(card.lookup)
    ballot = one.start_ballot(demo, site_id=d1["site_id"], meeting_id=MEETING)  # open mode
    one.record_answer(demo, ballot, "q-cooperation", 2)
    expected["tablet"] += 1
    # A ballot of another meeting day (no meeting): not this meeting's.
    other = one.start_ballot(demo, site_id=d1["site_id"])
    one.record_answer(demo, other, "q-ticket", "no")
    first = one.record_count(demo, "q-ticket", "paper", {"yes": 30, "no": 4},
                             meeting_id=MEETING)
    one.record_count(demo, "q-ticket", "paper", {"yes": 13, "no": 4}, supersedes=first.count_id,
                     meeting_id=MEETING)
    good = one.submit_proposal(demo, title="Un banc devant la poste", text="Pour attendre.",
                               meeting_id=MEETING)
    bad = one.submit_proposal(demo, title="Hors sujet", text="Rien à voir.",
                              meeting_id=MEETING)
    one.moderate_proposal(good.id, "approved")
    one.moderate_proposal(bad.id, "rejected", reason="Hors du sujet de la consultation")
    push(hub, one, d1)
    # The late tablet votes offline during the meeting, and does not sync yet.
    ballot = late.start_ballot(demo, site_id=d2["site_id"], meeting_id=MEETING)
    late.record_answer(demo, ballot, "q-ticket", "no")
    return late, d2, first, one, d1, expected


def test_a_meeting_closed_twice_flags_then_clears_and_numbers_match(hub, demo, tablet, push):
    late, d2, first, one, d1, expected = meeting_played(hub, demo, tablet, push)
    row = closings.make_for(hub, meeting_id=MEETING)
    record = closings.verify_document(row["document"], closings.hub_public_key(hub))
    assert record["scope"]["meeting_id"] == MEETING and record["number"] == 1
    assert record["previous"] is None
    sheet = record["ballots"]
    assert sheet["per_channel"]["tablet"] == expected["tablet"] == 5
    assert sheet["per_channel"]["paper"] == 17                   # the correction, not 34
    assert set(sheet["per_channel"]) >= {"tablet", "paper", "show_of_hands", "online"}
    assert sheet["per_question"]["q-ticket"] == {"tablet": expected["q-ticket"], "paper": 17}
    [before, after] = record["counts"]
    assert (before["current"], after["current"]) == (False, True)
    assert after["before"] == {"yes": 30, "no": 4, "abstain": 0}
    assert after["counts"]["yes"] == 13 and after["recorded_by"]["device"] == one.device_id
    assert record["ideas"]["received"] == 2 and record["ideas"]["approved"] == 1
    assert record["ideas"]["rejected_reasons"] == [
        {"reason": "Hors du sujet de la consultation", "ideas": 1}]
    assert record["cards"]["printed"] == 6 and record["cards"]["used"] == len(expected["used"])
    assert len(record["used_cards"]["q-ticket"]) == 4 == len(set(record["used_cards"]["q-ticket"]))
    assert record["used_cards"]["q-ticket"] == sorted(record["used_cards"]["q-ticket"])
    # No lookup ID, no ballot ID, no device secret in the published file.
    text = row["document"]
    for lookup in expected["used"]:
        assert lookup not in text
    flagged = [m for m in record["mismatches"] if m["kind"] == "device_not_synced"]
    assert [m["device"] for m in flagged] == [late.device_id]
    # The events covered: the tablet's naming the meeting, and the closings and moderations
    # of its ballots and ideas (the open ballot was never closed).
    named = [e for e in one.events() if e.payload.get("meeting_id") == MEETING]
    owners = {e.payload.get(k) for e in named for k in ("ballot_id", "proposal_id")} - {None}
    follow = [e for e in one.events() if e.type in ("ballot_closed", "proposal_moderated")
              and (e.payload.get("ballot_id") or e.payload.get("proposal_id")) in owners]
    assert len(follow) == 4 + 2
    assert record["events"]["count"] == len(named) + len(follow)
    assert record["events"]["digest"] == closings.events_digest(
        e.id for e in sorted(named + follow, key=lambda e: e.seq))

    # The late tablet syncs; the paper count is corrected once more: the second closing of
    # the meeting clears the tablet, flags the correction, and chains to the first.
    push(hub, late, d2)
    one.record_count(demo, "q-ticket", "paper", {"yes": 14, "no": 4},
                     supersedes=[c for c in record["counts"] if c["current"]][0]["count_id"],
                     meeting_id=MEETING)
    push(hub, one, d1)
    again = closings.verify_document(closings.make_for(hub, meeting_id=MEETING)["document"])
    assert again["number"] == 2 and again["previous"] == row["digest"]
    assert again["supersedes_closing"] == 1
    kinds = [m["kind"] for m in again["mismatches"]]
    assert "device_not_synced" not in kinds and "count_corrected_after_closing" in kinds
    assert again["ballots"]["per_channel"]["tablet"] == expected["tablet"] + 1
    assert again["ballots"]["per_channel"]["paper"] == 18
    assert again["events"]["digest"] != record["events"]["digest"]
    assert [r["number"] for r in closings.closings(hub)] == [1, 2]
    closings.verify_chain(closings.documents(hub))


def test_more_ballots_than_cards_is_flagged(hub, demo, tablet, push):
    cards = hub.participation.cards.issue_cards(demo.id, 1, kind="printed")
    store, device = tablet(hub)
    ballot = store.start_ballot(demo, mode="identified", site_id=device["site_id"],
                                meeting_id=MEETING)
    store.record_answer(demo, ballot, "q-ticket", "yes", card=cards[0])
    # a second identified ballot whose card the hub refuses does not count: only the first
    push(hub, store, device)
    record = closings.verify_document(closings.make_for(hub, meeting_id=MEETING)["document"])
    assert not [m for m in record["mismatches"] if m["kind"] == "more_ballots_than_cards"]
    # The batch counted for the consultation is taken away (as if its row were lost):
    from server import db
    with hub.writer.begin() as conn:
        conn.execute(db.card_batches.delete())
    record = closings.verify_document(closings.make_for(hub, meeting_id=MEETING)["document"])
    assert {"kind": "more_ballots_than_cards", "ballots": 1, "cards": 0} in record["mismatches"]


def test_one_byte_edited_anywhere_fails(hub, demo, tablet, push):
    meeting_played(hub, demo, tablet, push)
    document = closings.make_for(hub, meeting_id=MEETING)["document"].encode()
    closings.verify_document(document)
    for position in range(0, len(document), max(1, len(document) // 97)):
        edited = bytearray(document)
        edited[position] = (edited[position] + 1) % 256
        with pytest.raises(closings.VerificationError):
            closings.verify_document(bytes(edited))
    # a number changed and signed again by another key: not the hub's
    record = json.loads(document)["record"]
    record["ballots"]["per_channel"]["tablet"] += 1
    forged = closings.sign_record(record, b"\x01" * 32)
    with pytest.raises(closings.VerificationError):
        closings.verify_document(forged, closings.hub_public_key(hub))


def test_a_chain_with_a_closing_missing_or_replaced_is_refused(hub, demo, tablet, push):
    meeting_played(hub, demo, tablet, push)
    for _ in range(3):
        closings.make_for(hub, site_id="menton-mediatheque", day="2026-12-03")
    chain = closings.documents(hub)
    assert len(closings.verify_chain(chain)) == 3
    with pytest.raises(closings.VerificationError, match="missing"):
        closings.verify_chain([chain[0], chain[2]])
    # the middle one replaced by another record signed by the hub's own key, its number kept
    record = json.loads(chain[1])["record"]
    record["made_at"] = "2026-12-03T23:00:00+00:00"
    other = closings.sign_record(record, closings.closing_seed(hub.settings.secret_key))
    closings.verify_document(other)
    with pytest.raises(closings.VerificationError, match="does not commit"):
        closings.verify_chain([chain[0], other, chain[2]])


def test_cli_makes_and_verifies_offline(hub, demo, tablet, push, tmp_path, capsys):
    meeting_played(hub, demo, tablet, push)
    settings = ["--data-dir", str(hub.settings.data_dir)]
    out = tmp_path / "closing.json"
    assert admin_main(settings + ["closing", "make", "--meeting", MEETING,
                                  "-o", str(out)]) == 0
    key = closings.hub_public_key(hub)
    capsys.readouterr()
    assert admin_main(["closing", "verify", str(out), "--key", key]) == 0
    assert "verified" in capsys.readouterr().out
    text = out.read_bytes()
    out.write_bytes(text.replace(b'"tablet":5', b'"tablet":6', 1))
    assert admin_main(["closing", "verify", str(out)]) == 1
    assert "digest" in capsys.readouterr().err or True
    out.write_bytes(text)
    assert admin_main(["closing", "verify", str(out), "--key", "00" * 32]) == 1
    assert canonical_json(json.loads(text)) == text.decode().rstrip("\n")


def test_staff_close_and_anyone_checks_the_page_and_file(hub, demo, tablet, push, api):
    late, *_rest = meeting_played(hub, demo, tablet, push)
    client = api.fresh()
    staff = {"Authorization": f"Bearer {hub.settings.admin_token}"}
    assert client.post("/api/v1/admin/closings", json={"meeting_id": MEETING}).status_code == 401
    made = client.post("/api/v1/admin/closings", json={"meeting_id": MEETING}, headers=staff)
    assert made.status_code == 200, made.text
    closing_id = made.json()["id"]
    assert made.json()["url"].endswith(f"/closing/{closing_id}")
    key = client.get("/api/v1/closing-key").json()["public_key"]
    public = api.fresh()
    signed = public.get(f"/api/v1/closings/{closing_id}")
    assert signed.status_code == 200
    record = closings.verify_document(signed.content, key)
    assert record["number"] == 1
    for lang, words in (("fr", ("Vérifié", "Bulletins par canal", "tablettes")),
                        ("it", ("Verificato", "Schede per canale", "tablet"))):
        page = public.get(f"/closing/{closing_id}", params={"lang": lang})
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        for word in words:
            assert word in page.text, (lang, word)
        assert late.device_id[:8] not in page.text or "server" not in page.text
    assert public.get("/closing/" + "0" * 32).status_code == 404
    assert public.get("/closing/../../etc").status_code == 404
    # A bad request: a meeting the hub does not hold
    refused = client.post("/api/v1/admin/closings", json={"meeting_id": "m-nowhere"},
                          headers=staff)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "meeting_unknown"
    assert [c["number"] for c in client.get("/api/v1/admin/closings",
                                            headers=staff).json()["closings"]] == [1]


def test_the_dashboard_button_closes_a_meeting(hub, demo, tablet, push, api):
    import re
    meeting_played(hub, demo, tablet, push)
    browser = api.fresh()
    csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/dashboard").text).group(1)
    browser.post("/dashboard/login", data={"token": hub.settings.admin_token, "csrf": csrf})
    page = browser.get("/dashboard", params={"lang": "it"}).text
    assert "Chiudi la riunione" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    refused = browser.post("/dashboard/closings", data={"meeting_id": MEETING, "csrf": "x"},
                           follow_redirects=False)
    assert refused.status_code == 403 and closings.closings(hub) == []
    done = browser.post("/dashboard/closings?lang=it", data={"meeting_id": MEETING,
                                                             "consultation_id": demo.id,
                                                             "csrf": csrf},
                        follow_redirects=False)
    assert done.status_code == 303
    [made] = closings.closings(hub)
    assert done.headers["location"] == f"/closing/{made['id']}?lang=it"
    board = browser.get("/dashboard").text
    assert f"/closing/{made['id']}" in board
    # The closing is listed by the meeting it closed, not by its scope key.
    meeting = next(m for m in demo.meetings if m.id == MEETING)
    assert f"meeting:{demo.id}" not in board and html.escape(meeting.title["fr"]) in board


@pytest.mark.skipif(__import__("shutil").which("pdftoppm") is None,
                    reason="pdftoppm (poppler-utils) renders the PDF")
def test_the_sheet_to_sign_in_french_and_italian(hub, demo, tablet, push, tmp_path, api):
    import subprocess
    from pathlib import Path
    meeting_played(hub, demo, tablet, push)
    row = closings.make_for(hub, meeting_id=MEETING)
    shots = Path(__file__).resolve().parents[2] / "build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for lang in ("fr", "it"):
        pdf = tmp_path / f"closing-{lang}.pdf"
        assert admin_main(["--data-dir", str(hub.settings.data_dir), "closing", "pdf",
                           row["id"], "--lang", lang, "-o", str(pdf)]) == 0
        assert pdf.read_bytes().startswith(b"%PDF")
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                        str(pdf), str(shots / f"closing-sheet-{lang}")], check=True, timeout=120)
        served = api.fresh().get(f"/closing/{row['id']}.pdf", params={"lang": lang})
        assert served.status_code == 200 and served.content.startswith(b"%PDF")
    assert (shots / "closing-sheet-fr.png").stat().st_size > 10_000


def test_closing_a_meeting_puts_its_qr_on_the_projectors(hub, demo, tablet, push):
    from server import display_controls
    meeting_played(hub, demo, tablet, push)
    row = closings.make_for(hub, meeting_id=MEETING)
    _etag, body = display_controls.read_display(hub, demo.id)
    control = json.loads(body)["control"]
    assert control["closing"] == f"{hub.settings.public_url.rstrip('/')}/closing/{row['id']}"
    # a site's day has no projector of its own: nothing changes
    before = json.loads(display_controls.read_display(hub, demo.id)[1])["revision"]
    closings.make_for(hub, site_id="menton-mediatheque", day="2026-12-03")
    assert json.loads(display_controls.read_display(hub, demo.id)[1])["revision"] == before
    # a facilitator takes it off
    display_controls.set_display(hub, demo.id, {"closing": ""}, "staff")
    assert json.loads(display_controls.read_display(hub, demo.id)[1])["control"]["closing"] == ""


def test_a_room_hubs_closings_go_up_and_verify_at_the_central_hub(hub, demo, tablet, push,
                                                                   tmp_path, api):
    """Hub to hub: the room hub (its own key) sends its closings up over real HTTP; the
    central hub keeps them, pinned to the room's key and chained, and shows them at
    /closing/<id>; a closing signed by another key, or that skips one, is refused."""
    import socket
    import threading
    import time

    import uvicorn

    from app.paths import DEMO_BUNDLE_DIR
    from server import upstream
    from server.api import create_app
    from server.hub import Hub
    from server.settings import Settings
    from sync.client import HubClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(hub=hub), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    room = Hub(Settings.from_env({}, data_dir=tmp_path / "room"))
    try:
        room.import_bundle(DEMO_BUNDLE_DIR)
        meeting_played(room, demo, tablet, push)
        first = closings.make_for(room, meeting_id=MEETING)
        url = f"http://127.0.0.1:{port}"
        upstream.enroll(room, url, hub.make_enrollment_code("menton-mediatheque",
                                                            kind="relay")["code"])
        values = upstream.state(room)
        client = HubClient(url, values[upstream.RELAY_ID], values[upstream.SECRET])
        try:
            assert upstream.push_closings(room, client) == 1
            assert upstream.push_closings(room, client) == 0          # kept: sent once
            second = closings.make_for(room, meeting_id=MEETING)
            assert upstream.push_closings(room, client) == 1
            relay = {"id": values[upstream.RELAY_ID], "site_id": "menton-mediatheque"}
            # the same again is fine; another key, or one skipped, is refused
            assert closings.receive_closings(hub, relay, [second["document"]])["stored"] == [2]
            record = json.loads(second["document"])["record"]
            record["number"], record["previous"] = 3, second["digest"]
            forged = closings.sign_record(record, b"\x02" * 32)
            assert closings.receive_closings(hub, relay, [forged], shown=can_show)["refused"]
            record["number"] = 4
            skipped = closings.sign_record(record,
                                           closings.closing_seed(room.settings.secret_key))
            refused = closings.receive_closings(hub, relay, [skipped], shown=can_show)["refused"]
            assert "follow" in refused[0]["reason"]
        finally:
            client.close()
        assert closings.hub_public_key(room) != closings.hub_public_key(hub)
        page = api.fresh().get(f"/closing/{first['id']}", params={"lang": "fr"})
        assert page.status_code == 200 and "Vérifié" in page.text
        assert closings.hub_public_key(room) in page.text
    finally:
        server.should_exit = True
        thread.join(30)
        room.close()


def test_the_page_says_when_a_stored_closing_breaks_the_chain(hub, demo, tablet, push, api):
    from sqlalchemy import select

    from server import db
    meeting_played(hub, demo, tablet, push)
    closings.make_for(hub, meeting_id=MEETING)
    second = closings.make_for(hub, meeting_id=MEETING)
    page = api.fresh().get(f"/closing/{second['id']}", params={"lang": "fr"})
    assert "Vérifié" in page.text
    with hub.writer.begin() as conn:        # the first one edited behind the hub's back
        document = conn.execute(select(db.closings.c.document).where(
            db.closings.c.number == 1)).scalar()
        conn.execute(db.closings.update().where(db.closings.c.number == 1).values(
            document=document.replace('"tablet":5', '"tablet":6', 1)))
    page = api.fresh().get(f"/closing/{second['id']}", params={"lang": "fr"})
    assert "ne se vérifie pas" in page.text and "closing before it" in page.text
    from server.admin import main as admin_main
    assert admin_main(["--data-dir", str(hub.settings.data_dir), "closing", "chain"]) == 1


def test_phone_answers_are_the_phone_channels_in_a_site_days_closing(hub, demo, api):
    """Answers from residents' phones (the hub's phone device of the site) are counted in the
    `phone` channel of the site's day, not as tablets."""
    from datetime import datetime

    from server import display_controls
    site = "menton-mediatheque"
    display_controls.set_display(hub, demo.id, {"phones": ["q-ticket"], "phones_cards": False,
                                                "phones_site": site}, "test", None)
    for answer in ("yes", "no", "yes"):
        phone = api.fresh()
        sent = phone.post(f"/v/{demo.id}/q-ticket", data={"lang": "fr", "value": answer})
        assert sent.status_code == 200, sent.text
    row = closings.make_for(hub, site_id=site, day=datetime.now().date().isoformat())
    record = json.loads(row["document"])["record"] if "document" in row else \
        closings.verify_document(closings.documents(hub)[-1])
    per_channel = record["ballots"]["per_channel"]
    assert per_channel["phone"] == 3 and per_channel["tablet"] == 0, per_channel


def test_counts_are_read_out_in_the_rooms_words_not_the_sheets_ids(hub, demo, tablet, push,
                                                                   api):
    """The page and the sheet a facilitator reads aloud name a count's question by its prompt
    and its cells by the answers' words (Oui : 13), not 'q-ticket' and 'yes 13'."""
    from server.closing_sheet import count_lines
    meeting_played(hub, demo, tablet, push)
    row = closings.make_for(hub, meeting_id=MEETING)
    record = closings.verify_document(row["document"], closings.hub_public_key(hub))
    for lang, words, before in (("fr", "Oui\u00a0: 13, Non\u00a0: 4, Abstentions\u00a0: 0",
                                 "Oui\u00a0: 30"),
                                ("it", "Sì: 13, No: 4, Astensioni: 0", "Sì: 30")):
        prompt = next(q for q in demo.questions if q.id == "q-ticket").prompt[lang]
        lines = count_lines(hub, record, lang)
        assert [line["question"] for line in lines] == [prompt, prompt]
        assert lines[1]["counts"] == words and lines[1]["before"].startswith(before)
        page = html.unescape(api.fresh().get(f"/closing/{row['id']}", params={"lang": lang}).text)
        assert words in page and "yes 13" not in page and "<td>q-ticket</td>" not in page
        assert f"<strong>{prompt}</strong>" in page          # the fingerprints' question too
        assert "JSON" not in re.sub(r"<[^>]+>", " ", page)   # a file 'to check by computer'


def test_an_unnamed_tablet_is_said_by_its_last_sync_not_by_a_code(hub, demo, tablet, push, api):
    """The closing page named tablets by their alias ("La tablette « heemrydxrs3g4ls2 » ne
    s'est pas synchronisée", "Saisi par : zrcrjzomuzbfb6oc"): a code nobody in the room can
    match to a tablet. Unnamed, a tablet is "a tablet"; a late one is said by its last sync,
    the time its Sync page shows; a tablet with a name keeps it."""
    from server.closing_sheet import count_lines, mismatch_lines, render_sheet, sheet_context
    late, d2, *_ = meeting_played(hub, demo, tablet, push)
    row = closings.make_for(hub, meeting_id=MEETING)
    record = closings.verify_document(row["document"], closings.hub_public_key(hub))
    codes = {d["alias"] for d in hub.devices() if d["alias"]} | {
        d["id"][:8] for d in hub.devices()}
    for lang, late_words, who in (
            ("fr", "Une tablette de ce lieu ne s'est jamais synchronisée", "une tablette"),
            ("it", "Un tablet di questa sede non si è mai sincronizzato", "un tablet")):
        said = mismatch_lines(record, lang)
        assert any(line.startswith(late_words) for line in said), said
        assert {line["recorded_by"] for line in count_lines(hub, record, lang)} == {who}
        page = html.unescape(api.fresh().get(f"/closing/{row['id']}", params={"lang": lang}).text)
        text = re.sub(r"<[^>]+>", " ", page.split("<details>")[0])   # before the fingerprints
        assert late_words in text and not [code for code in codes if code in text]
        render_sheet(sheet_context(hub, row, lang), lang)             # the sheet says the same
    never = {"kind": "device_not_synced", "device": late.device_id, "name": d2["alias"],
             "last_contact": None, "since": "2026-12-03T18:30:00+00:00"}
    named = dict(never, name="Tablette accueil", last_contact="2026-12-03T14:02:00+00:00")
    seen = dict(never, last_contact="2026-12-03T14:02:00+00:00")
    unnamed, kept = mismatch_lines({"mismatches": [seen, named]}, "fr")
    assert unnamed.startswith("Une tablette de ce lieu ne s'est pas synchronisée depuis "
                              "03/12/2026 · 18:30 UTC\u00a0; sa dernière synchronisation"
                              "\u00a0: 03/12/2026 · 14:02 UTC.")
    assert "Tablette accueil" in kept and "depuis 03/12/2026 · 18:30 UTC" in kept
