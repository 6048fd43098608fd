"""Attacks on the phone pages (issue 29's review), against a real hub in process: hostile
values in every kind's form (huge, negative, emoji, control characters, markup, other
questions' or unknown IDs), forged cookies, a card code guessed, answers to a question of
another consultation or not open: never a server error, never markup echoed, never counted
but as a valid answer."""
from __future__ import annotations

import json
import re

import pytest

from server import display_controls

CONSULTATION = "alpimed-2030"
EVIL = ['"><script>alert(1)</script>', "\x00\x07\u202e" + "🗳️" * 2000, "-1",
        "99999999999999999999999999", "NaN", "x" * 20000]


def results(hub) -> dict:
    return json.loads(hub.read_results(CONSULTATION)[1])


@pytest.mark.slow
def test_hostile_values_in_every_kind_never_break_or_echo_markup(hub, demo, api):
    questions = [q.id for q in demo.questions if q.kind != "ideas"][:10]
    display_controls.set_display(hub, CONSULTATION, {"phones": questions}, "test")
    client = api.fresh()
    statuses = set()
    for question_id in questions:
        page = client.get(f"/v/{CONSULTATION}/{question_id}")
        names = set(re.findall(r'name="([^"]+)"', page.text)) - {"lang", "step", "card"}
        names |= {"value", "p.nope", "o.nope", "r.nope", "b.nope", "b.", "r.", "o."}
        for evil in EVIL:
            for name in sorted(names):
                answer = client.post(f"/v/{CONSULTATION}/{question_id}",
                                     data={"lang": "fr", name: evil})
                statuses.add(answer.status_code)
                assert answer.status_code < 500, (question_id, name, evil[:40])
                assert "<script>" not in answer.text and "<img" not in answer.text
            every = {name: evil for name in names}
            answer = client.post(f"/v/{CONSULTATION}/{question_id}", data={"lang": "fr", **every})
            assert answer.status_code < 500, (question_id, evil[:40])
            assert "<script>" not in answer.text and "<img" not in answer.text
    # Whatever was taken is a valid answer: the tallies rebuild from the database the same.
    from server.hub import Hub
    again = Hub(hub.settings)
    try:
        assert json.loads(again.read_results(CONSULTATION)[1])["questions"] == \
            results(hub)["questions"]
    finally:
        again.close()
    assert 400 in statuses


def test_forged_cookies_cards_and_addresses(hub, api):
    display_controls.set_display(hub, CONSULTATION, {"phones": ["q-ticket"]}, "test")
    client = api.fresh()
    for cookie in ("x", "a.b.c", "e30." * 50, "A" * 4000):
        client.cookies.set("piazzetta_phone", cookie, path="/v")
        answer = client.post(f"/v/{CONSULTATION}/q-ticket", data={"value": "yes"})
        assert answer.status_code in (200, 409), cookie[:20]
        client.cookies.clear()
    # One phone, forged forwarded addresses: still one answer (the cookie), and the rest
    # counted against the same address's limit.
    phone = api.fresh()
    counted = 0
    for i in range(40):
        answer = phone.post(f"/v/{CONSULTATION}/q-ticket", data={"value": "no"},
                            headers={"X-Forwarded-For": f"10.0.0.{i}"})
        counted += answer.status_code == 200
        assert answer.status_code in (200, 409, 429)
    assert counted == 1
    # Card mode: guessed codes are refused as cards, never counted, and say nothing more.
    display_controls.set_display(hub, CONSULTATION, {"phones": ["q-ticket"],
                                                     "phones_cards": True}, "test")
    for code in ("AAAA-BBBB-CCCC-DDDD-E", "PZC3.AAAA.BBBB", "0" * 17, "PZC3..", "\u0661" * 17):
        answer = api.fresh().post(f"/v/{CONSULTATION}/q-ticket",
                                  data={"value": "yes", "card": code})
        assert answer.status_code in (400, 429), code
    # Another consultation's question, or an unknown one: closed, nothing counted.
    for path in ("/v/nope/q-ticket", f"/v/{CONSULTATION}/q-nope", f"/v/{CONSULTATION}/..%2f",
                 "/v/" + "x" * 500 + "/q-ticket"):
        assert api.fresh().post(path, data={"value": "yes"}).status_code in (404, 410), path
    body = results(hub)
    assert body["questions"]["q-ticket"]["counts"]["yes"] + \
        body["questions"]["q-ticket"]["counts"]["no"] <= 6


def test_another_sites_page_cannot_answer_through_a_visitors_phone(hub, api):
    """CSRF: a page elsewhere posting to /v/… from a resident's browser (the Lax cookie is not
    sent, so each visit was a new open-mode ballot from a real phone's address)."""
    display_controls.set_display(hub, CONSULTATION, {"phones": ["q-ticket"]}, "test")
    forged = api.fresh().post(f"/v/{CONSULTATION}/q-ticket", data={"value": "yes"},
                              headers={"Sec-Fetch-Site": "cross-site",
                                       "Origin": "https://evil.example"})
    assert forged.status_code == 403 and "<form" not in forged.text
    assert results(hub)["questions"]["q-ticket"]["counts"]["yes"] == 0
    own = api.fresh().post(f"/v/{CONSULTATION}/q-ticket", data={"value": "yes"},
                           headers={"Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 200
    assert results(hub)["questions"]["q-ticket"]["counts"]["yes"] == 1


def test_an_answer_queued_while_the_question_closed_is_late(hub):
    """The page read the opening, then waited for the writer (a rush of phones) while the
    facilitator closed the question: the answer was recorded after the close."""
    import secrets

    from server import phone_ballot as pb
    display_controls.set_display(hub, CONSULTATION, {"phones": ["q-ticket"]}, "test")
    read_before = pb.opening(hub, CONSULTATION)
    display_controls.set_display(hub, CONSULTATION, {"phones": []}, "test")
    with pytest.raises(pb.PhoneRefused) as refused:
        pb.record_phone_answer(hub, read_before, "q-ticket", "yes",
                               ballot_id=secrets.token_hex(16))
    assert refused.value.status == 410
    assert results(hub)["ballots"] == 0
    display_controls.set_display(hub, CONSULTATION, {"phones": ["q-ticket"]}, "test")
    pb.record_phone_answer(hub, pb.opening(hub, CONSULTATION), "q-ticket", "yes",
                           ballot_id=secrets.token_hex(16))
    assert results(hub)["questions"]["q-ticket"]["counts"]["yes"] == 1


def test_the_hub_keeps_no_phone_answers_time_finer_than_the_hour(hub, api):
    """The operator reading the database: each phone answer is a batch of its own, so the
    events' `received_at` and the phone device's `last_seen_at` were its time to the
    millisecond (the event's own `recorded_at` is kept to the hour)."""
    from sqlalchemy import select

    from app.counts import PHONE_DEVICE_PREFIX
    from server import db
    display_controls.set_display(hub, CONSULTATION, {"phones": ["q-ticket"]}, "test")
    for value in ("yes", "no"):
        assert api.fresh().post(f"/v/{CONSULTATION}/q-ticket",
                                data={"value": value}).status_code == 200
    with hub.engine.connect() as conn:
        times = [t for row in conn.execute(select(
            db.events.c.received_at, db.events.c.recorded_at).where(
            db.events.c.device_id.startswith(PHONE_DEVICE_PREFIX))) for t in row]
        times += conn.execute(select(db.devices.c.last_seen_at).where(
            db.devices.c.id.startswith(PHONE_DEVICE_PREFIX))).scalars().all()
    assert len(times) == 2 * 4 + 1
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00\+00:00", t) for t in times), times
