"""Attacks on closing records from a room hub (issue 30's review): a record a room hub signs
itself is shown at the central hub's public page, so its fields must not be trusted as code or
shapes; another hub's closing (the central hub's own, or one another room hub already sent,
copied from a public page) is not a room hub's to send."""
from __future__ import annotations

import json

import pytest

from app.canonical import canonical_json as canonical_json_text
from server import closing as closings
from server.closing_sheet import can_show

SITE = "menton-mediatheque"
ROOM_SEED = b"\x07" * 32


def room_closing(hub, seed=ROOM_SEED, number=1, previous=None, **changes) -> str:
    """A closing document as a room hub with `seed` would sign it (shape: the hub's own)."""
    row = closings.make_for(hub, site_id=SITE, day="2026-12-06")
    record = json.loads(row["document"])["record"]
    record.update(number=number, previous=previous, **changes)
    record["hub"] = {"public_key": closings.public_key_hex(seed), "url": "https://room.example"}
    return closings.sign_record(record, seed)


def test_a_room_hubs_mismatch_kind_is_shown_not_formatted(hub, api):
    # "{kind:>50000000}" as a format string builds 50 MB per page view (a gigabyte with more
    # digits); "{nope}" raised KeyError (500); a known kind missing its values too.
    document = room_closing(hub, mismatches=[
        {"kind": "{kind:>50000000}"}, {"kind": "{nope}"}, {"kind": "device_not_synced"},
        {"kind": "more_ballots_than_cards", "ballots": 9, "cards": 3}, ["odd"]])
    relay = {"id": "relay-room-1", "site_id": SITE}
    assert closings.receive_closings(hub, relay, [document], shown=can_show) == {
        "stored": [1], "refused": []}
    closing_id = closings.digest_of(json.loads(document)["record"])[:32]
    for lang in ("fr", "en"):
        page = api.fresh().get(f"/closing/{closing_id}", params={"lang": lang})
        assert page.status_code == 200
        assert len(page.text) < 200_000
        assert "{kind:&gt;50000000}" in page.text and "{nope}" in page.text
        assert "device_not_synced" in page.text
    assert "More ballots with a card (9) than cards handed out (3)." in page.text


def test_another_hubs_closing_is_refused_and_the_room_goes_on(hub):
    first = room_closing(hub)
    room = {"id": "relay-room-1", "site_id": SITE}
    other = {"id": "relay-room-2", "site_id": SITE}
    assert closings.receive_closings(hub, room, [first], shown=can_show)["stored"] == [1]
    # another room hub of the site copies the room's closing (public at its page): refused,
    # where it used to hit the table's key (a 500) or, sent first, pin the room's key to it
    refused = closings.receive_closings(hub, other, [first], shown=can_show)
    assert refused["stored"] == [] and refused["refused"][0]["reason"] == "another hub's closing"
    # the central hub's own closing of that site, sent by a room hub: refused
    own = closings.make_for(hub, site_id=SITE, day="2026-12-05")["document"]
    refused = closings.receive_closings(hub, other, [own], shown=can_show)
    assert refused["refused"][0]["reason"] == "another hub's closing"
    # the room's own chain goes on
    second = room_closing(hub, number=2,
                          previous=closings.digest_of(json.loads(first)["record"]))
    assert closings.receive_closings(hub, room, [second], shown=can_show)["stored"] == [2]


def test_malformed_records_are_refused_not_crashing(hub):
    relay = {"id": "relay-room-3", "site_id": SITE}
    nested = "[" * 100_000 + "]" * 100_000
    scope_list = room_closing(hub, seed=b"\x08" * 32, scope=[SITE])
    hub_list = json.loads(room_closing(hub, seed=b"\x09" * 32))["record"]
    hub_list["hub"] = ["not", "a", "hub"]
    unsigned = closings.sign_record(hub_list, b"\x09" * 32)
    number_text = room_closing(hub, seed=b"\x0a" * 32, number="1")
    # a lone surrogate inside the JSON string a room hub sends (its request decoded)
    record = json.loads(room_closing(hub, seed=b"\x0c" * 32))["record"]
    record["scope"]["day"] = "\ud800"
    surrogate = canonical_json_text({"record": record, "digest": "0" * 64, "signature": ""})
    # shapes the room's signature allows but the page cannot show: refused when sent up
    shapes = [room_closing(hub, seed=bytes([13 + i]) * 32, **change) for i, change in enumerate((
        {"ballots": {"per_channel": "many"}}, {"events": None},
        {"scope": {"kind": "meeting", "site_id": SITE, "starts_at": 5}}, {"counts": [1]},
        {"cards": None}, {"ideas": {"rejected_reasons": 3}}))]
    for text in (nested, scope_list, unsigned, number_text, surrogate, *shapes):
        result = closings.receive_closings(hub, relay, [text], shown=can_show)
        assert result["stored"] == [] and result["refused"], text[:80]


def test_a_chain_whose_last_closing_carries_its_own_key_does_not_verify(hub, tmp_path, capsys):
    """The last closing of a chain replaced by one the forger signed with a key of their own,
    committing to the one before: every document verifies against the key it names, so the
    chain verified (`closing verify` without --key); the chain holds to the first one's key."""
    import pytest

    from server.admin import verify_closing_files
    for day in ("2026-12-01", "2026-12-02"):
        closings.make_for(hub, site_id=SITE, day=day)
    chain = closings.documents(hub)
    record = json.loads(chain[1])["record"]
    record["ballots"]["per_channel"] = {"tablet": 999}
    record["hub"]["public_key"] = closings.public_key_hex(b"\x0b" * 32)
    forged = closings.sign_record(record, b"\x0b" * 32)
    closings.verify_document(forged)           # alone, it names its key (said by the CLI)
    assert len(closings.verify_chain(chain)) == 2
    with pytest.raises(closings.VerificationError):
        closings.verify_chain([chain[0], forged])
    files = []
    for i, text in enumerate((chain[0], forged)):
        files.append(tmp_path / f"closing-{i + 1}.json")
        files[-1].write_text(text + "\n", encoding="utf-8")
    assert verify_closing_files(files, None) == 1
    assert "NOT VERIFIED" in capsys.readouterr().err


@pytest.mark.slow       # two sheets of 300-dpi pages drawn: out of the fast tier, in `make test`
def test_a_room_hubs_huge_record_draws_a_bounded_sheet(hub, api):
    """A room hub's record of a megabyte of lines (a 500 kB mismatch, thousands of counts and
    reasons) was drawn whole for anyone asking its PDF: hundreds of 300-dpi pages in memory per
    request. The sheet draws at most SHEET_ITEMS lines a list and says how many more."""
    from server import closing_sheet
    count = {"count_id": "c", "question_id": "q-ticket", "channel": "paper",
             "counts": {"yes": 1}, "ballots": 1, "current": True, "supersedes": None,
             "superseded_by": None, "before": None,
             "recorded_by": {"device": "tab", "name": "x " * 200},
             "received_at": "2026-12-06T10:00:00+00:00"}
    document = room_closing(hub, mismatches=[{"kind": "word " * 100_000}] * 2 + [
        {"kind": "more_cards_used_than_handed_out", "used": i, "cards": 0} for i in range(400)],
        counts=[count] * 400,
        ideas={"received": 0, "approved": 0, "rejected": 0, "pending": 0,
               "rejected_reasons": [{"reason": "r " * 60, "ideas": 1}] * 400})
    relay = {"id": "relay-room-4", "site_id": SITE}
    assert closings.receive_closings(hub, relay, [document],
                                     shown=can_show)["stored"] == [1]
    row = closings.closing(hub, closings.digest_of(json.loads(document)["record"])[:32])
    pages = closing_sheet.render_sheet(closing_sheet.sheet_context(hub, row, "fr"), "fr")
    assert len(pages) <= 40 and all(p.mode == "1" for p in pages)
    served = api.fresh().get(f"/closing/{row['id']}.pdf", params={"lang": "it"})
    assert served.status_code == 200 and served.content.startswith(b"%PDF")
    out = closing_sheet._Pages()
    kept = closing_sheet._some(closing_sheet.mismatch_lines(json.loads(row["document"])[
        "record"], "it"), out, None, "it")
    assert len(kept) == closing_sheet.SHEET_ITEMS
    assert out.more == [(None, "… e altri 302: si veda la pagina del verbale in linea.")]


def test_the_public_pdf_is_drawn_once_per_record_and_language(hub, api):
    """Each GET .../closing/{id}.pdf drew the sheet again (some 200 ms of CPU at 300 dpi):
    300 a minute from one address kept a core busy. A record never changes: drawn once."""
    from server import closing_sheet
    row = closings.closing(hub, closings.make_for(hub, site_id=SITE, day="2026-12-06")["id"])
    first = closing_sheet.pdf_bytes(hub, row, "fr")
    assert closing_sheet.pdf_bytes(hub, row, "fr") is first
    assert closing_sheet.pdf_bytes(hub, row, "it") is not first
    served = api.fresh().get(f"/closing/{row['id']}.pdf", params={"lang": "fr"})
    assert served.status_code == 200 and served.content == first
    # What the sheet says changes with what the page says: a record edited behind the hub's
    # back is drawn again, as not verified.
    with hub.writer.begin() as conn:
        conn.exec_driver_sql("UPDATE closings SET document = replace(document, '\"number\":1',"
                             " '\"number\":1 ') WHERE id = ?", (row["id"],))
    edited = closings.closing(hub, row["id"])
    assert closing_sheet.sheet_context(hub, edited, "fr")["problem"]
    assert closing_sheet.pdf_bytes(hub, edited, "fr") is not first


def test_the_phones_device_is_never_a_tablet_that_has_not_synced(hub, api):
    """The hub's phones' device is seen only when a phone answers, always before the meeting's
    end: every closing after it flagged "The tablet “Phones” has not synced since …" on the
    signed sheet. (Here the closing of the site's next day, made before it starts: the same
    rule with the day's start as the cutoff.)"""
    from datetime import date, timedelta

    from server import display_controls
    display_controls.set_display(hub, "alpimed-2030", {"phones": ["q-ticket"],
                                                      "phones_site": SITE}, "test")
    assert api.fresh().post("/v/alpimed-2030/q-ticket", data={"value": "yes"}).status_code == 200
    tomorrow = (date.fromisoformat(closings.now_iso()[:10]) + timedelta(days=1)).isoformat()
    row = closings.make_for(hub, site_id=SITE, day=tomorrow)
    mismatches = json.loads(row["document"])["record"]["mismatches"]
    assert not [m for m in mismatches if m.get("name") == "Phones"], mismatches
