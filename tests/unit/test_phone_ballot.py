"""Residents' phones answering the question on screen (issue 29), against a real hub in process
(its own SQLite file) through its HTTP pages: the facilitator opens and closes questions to
phones with a display control, each question kind's page records the kiosk's answer value in
the `phone` channel, open mode allows one answer per phone (cookie) and question, card mode
spends a card as a tablet does — the same card on a tablet and a phone counts once."""
from __future__ import annotations

import json
import re

import pytest

from app.counts import PHONE, ballot_channel, participants
from app.formatting import money
from app.kiosk import KioskSession, KioskSettings
from server import display_controls
from sync.content import save_card_index

CONSULTATION = "alpimed-2030"
SITE = "menton-mediatheque"


def results(hub) -> dict:
    return json.loads(hub.read_results(CONSULTATION)[1])


def open_phones(hub, questions, cards=False, device=None):
    return display_controls.set_display(hub, CONSULTATION, {"phones": list(questions),
                                                            "phones_cards": cards},
                                        "test", device)


@pytest.fixture
def phone(api):
    """A phone: a fresh client (its own cookies), in French unless told otherwise."""
    def make(lang="fr"):
        client = api.fresh()
        client.headers["Accept-Language"] = lang
        return client
    return make


def send(client, question, data, lang="fr"):
    return client.post(f"/v/{CONSULTATION}/{question}", data={"lang": lang, **data})


def test_the_channel_of_a_ballot_is_its_devices():
    assert ballot_channel("phone-0a1b") == PHONE and ballot_channel("tab-1") == "tablet"
    assert ballot_channel(None) == "tablet"
    assert participants([], 10, 3) == {"tablet": 7, "phone": 3}


def test_nothing_open_then_a_question_then_closed(hub, phone):
    client = phone()
    page = client.get(f"/v/{CONSULTATION}")
    assert page.status_code == 200 and 'http-equiv="refresh"' in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "<script" not in page.text
    open_phones(hub, ["q-ticket"])
    page = client.get(f"/v/{CONSULTATION}")
    assert 'name="value" value="yes"' in page.text and "Oui" in page.text
    assert send(client, "q-cooperation", {"value": "4"}).status_code == 410   # not open
    open_phones(hub, [])
    late = send(client, "q-ticket", {"value": "yes"})
    assert late.status_code == 410 and "fermée" in late.text
    assert results(hub)["questions"]["q-ticket"]["counts"]["yes"] == 0


EVERY_KIND = [
    ("q-colour", {"p.p-bus": "green", "p.p-health": "red"}, None),
    ("q-ticket", {"value": "no"}, "no"),
    ("q-cooperation", {"value": "4"}, 4),
    ("q-themes", {"o.infrastructure": "1", "o.health": "1"}, None),
    ("q-services", {"r.transport": "1", "r.health": "2"}, None),
    ("q-budget", {"b.p-bus": "100000"}, None),
    ("q-missing", {"value": "Un banc à l'ombre"}, "Un banc à l'ombre"),
    ("q-place", {"value": "sospel"}, {"area": "sospel"}),
]


def test_every_kind_counted_once_in_the_phone_channel_open_mode(hub, demo, phone):
    open_phones(hub, [q for q, _f, _v in EVERY_KIND])
    client = phone("it")
    for question_id, fields, _value in EVERY_KIND:
        page = client.get(f"/v/{CONSULTATION}/{question_id}")
        assert page.status_code == 200, question_id
        fields = _valid_fields(demo, question_id, fields, page.text)
        answer = send(client, question_id, fields, "it")
        assert answer.status_code == 200, (question_id, answer.text)
        assert "Ogni risposta" in answer.text or "contata" in answer.text
        again = send(client, question_id, fields, "it")
        assert again.status_code == 409, question_id
    body = results(hub)
    assert body["channels"] == {"phone": 1}
    for question_id, _fields, value in EVERY_KIND:
        result = body["questions"][question_id]
        assert set(result["channels"]) == {PHONE}, question_id
        assert result["ballots"] == 1, question_id
    assert body["questions"]["q-ticket"]["counts"]["no"] == 1
    assert body["questions"]["q-cooperation"]["distribution"]["4"] == 1
    # Another phone (no cookie) answers too; the results rebuilt from the database agree.
    send(phone(), "q-ticket", {"value": "yes"})
    from server.hub import Hub
    again = Hub(hub.settings)
    assert json.loads(again.read_results(CONSULTATION)[1])["questions"] == \
        results(hub)["questions"]
    assert json.loads(again.read_results(CONSULTATION)[1])["channels"] == {"phone": 2}
    again.close()


def _valid_fields(demo, question_id, fields, page: str) -> dict:
    """The demo's own option and project IDs, read from the page, where the guesses above
    do not match (the form's names are the page's)."""
    names = set(re.findall(r'name="([^"]+)"', page))
    if all(k in names for k in fields):
        return fields
    question = demo.question(question_id)
    if question.kind == "colour":
        return {f"p.{question.projects[0]}": "green"}
    if question.kind == "choice":
        return {f"o.{question.options[0].id}": "1"}
    if question.kind == "ranking":
        return {f"r.{question.options[0].id}": "1", f"r.{question.options[1].id}": "2"}
    if question.kind == "budget":
        step = question.budget_step
        return {f"b.{question.projects[0]}": str(step)}
    return fields


def test_a_bad_answer_is_shown_again_with_its_reason(hub, phone):
    open_phones(hub, ["q-cooperation", "q-budget"])
    client = phone()
    page = send(client, "q-cooperation", {})
    assert page.status_code == 400 and 'role="alert"' in page.text
    assert results(hub)["ballots"] == 0


def test_card_mode_the_same_card_counts_once_on_a_tablet_and_a_phone(hub, demo, tablet,
                                                                      pending, phone):
    first, second = hub.participation.issue_cards(CONSULTATION, 2)
    open_phones(hub, ["q-ticket", "q-cooperation"], cards=True)
    # A tablet in identified mode answers q-ticket with the first card.
    store, device = tablet(hub)
    save_card_index(store, hub.card_index(device))
    settings = KioskSettings(store)
    settings.ballot_mode = "identified"
    session = KioskSession(store, demo, settings=settings)
    session.present_card(first.typed)
    session.start()
    while session.question is not None and session.question.id != "q-ticket":
        session.next()
    session.record("yes")
    assert {r["status"] for r in hub.ingest(device, pending(store))} == {"stored"}
    # The same card typed on a phone: "already used", nothing more, nothing counted.
    client = phone()
    page = client.get(f"/v/{CONSULTATION}")
    assert 'name="card"' in page.text
    used = send(client, "q-ticket", {"value": "no", "card": first.typed})
    assert used.status_code == 409 and "Déjà utilisée" in used.text
    # Its other question is still its to answer, on the phone.
    assert send(client, "q-cooperation", {"value": "5", "card": first.typed}).status_code == 200
    # A wrong code is refused; the second card answers both, the series keeping the card.
    # (its last symbol changed: "X" unless it is one already, when the code would be right)
    last = "Y" if second.typed.endswith("X") else "X"
    wrong = send(client, "q-ticket", {"value": "no", "card": second.typed[:-1] + last})
    assert wrong.status_code == 400
    counted = send(client, "q-ticket", {"value": "no", "card": second.typed})
    assert counted.status_code == 200 and 'name="card"' in counted.text
    shown = client.post(f"/v/{CONSULTATION}/q-cooperation",
                        data={"lang": "fr", "step": "show", "card": second.typed})
    assert 'type="hidden" name="card"' in shown.text
    # Switching to Italian on that page keeps the card: its language buttons post it back.
    switch = re.search(r'<form method="post" action="([^"]+)">(.*?name="lang" value="it".*?)'
                       r'</form>', shown.text)
    assert switch and second.typed in switch.group(2)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', switch.group(2)))
    italian = client.post(switch.group(1), data=fields)
    assert 'type="hidden" name="card"' in italian.text and "Invia la mia risposta" in italian.text
    assert send(client, "q-cooperation", {"value": "2", "card": second.typed}).status_code \
        == 200
    assert send(client, "q-cooperation", {"value": "1", "card": second.typed}).status_code \
        == 409
    body = results(hub)
    ticket = body["questions"]["q-ticket"]
    assert ticket["counts"]["yes"] == 1 and ticket["counts"]["no"] == 1
    assert ticket["channels"]["tablet"]["ballots"] == 1
    assert ticket["channels"]["phone"]["ballots"] == 1
    assert body["questions"]["q-cooperation"]["ballots"] == 2
    # The phone device's events carry what a tablet's do: the card's lookup ID and proof, the
    # time to the hour; never the code.
    with hub.engine.connect() as conn:
        payloads = [row[0] for row in conn.exec_driver_sql(
            "SELECT payload FROM events WHERE device_id LIKE 'phone-%'")]
        times = {row[0] for row in conn.exec_driver_sql(
            "SELECT recorded_at FROM events WHERE device_id LIKE 'phone-%'")}
    assert payloads and not any(second.secret in p or first.secret in p for p in payloads)
    assert all(t.endswith(":00:00.000+00:00") or t.endswith(":00:00+00:00") for t in times), \
        times


def test_a_tablet_opens_phones_at_its_own_site(hub, tablet, api):
    _store, device = tablet(hub)
    client = api.fresh()
    auth = {"Authorization": f"Bearer {device['id']}:{device['secret']}"}
    answer = client.put(f"/api/v1/consultations/{CONSULTATION}/display",
                        json={"phones": ["q-ticket"], "phones_cards": False}, headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["control"]["phones"] == ["q-ticket"]
    bad = client.put(f"/api/v1/consultations/{CONSULTATION}/display",
                     json={"phones": ["ideas"]}, headers=auth)
    assert bad.status_code == 400
    send(api.fresh(), "q-ticket", {"value": "yes"})
    with hub.engine.connect() as conn:
        sites = {row[0] for row in conn.exec_driver_sql(
            "SELECT site_id FROM ballots")}
    assert sites == {SITE}


def test_a_room_hub_forwards_phone_answers_counted_as_phones_upstream(hub, phone, tmp_path):
    """The room's phone device is registered with the central hub like a tablet, its events
    forwarded as they are: the central hub counts them once, in the phone channel."""
    from app.paths import DEMO_BUNDLE_DIR
    from server import relay
    from server.hub import Hub
    from server.settings import Settings
    from test_server_relay import enroll_relay
    open_phones(hub, ["q-ticket"])
    for value in ("yes", "no", "yes"):
        assert send(phone(), "q-ticket", {"value": value}).status_code == 200
    with hub.engine.connect() as conn:
        device_id = conn.exec_driver_sql(
            "SELECT id FROM devices WHERE id LIKE 'phone-%'").scalar()
        rows = conn.exec_driver_sql(
            "SELECT id, device_id, seq, type, recorded_at, payload FROM events "
            "WHERE device_id = ? ORDER BY seq", (device_id,)).fetchall()
    envelopes = [{"id": r[0], "device_id": r[1], "seq": r[2], "type": r[3],
                  "recorded_at": r[4], "payload": json.loads(r[5])} for r in rows]
    central = Hub(Settings.from_env({}, data_dir=tmp_path / "central"))
    try:
        central.import_bundle(DEMO_BUNDLE_DIR)
        room = enroll_relay(central, "room-a")
        assert relay.register_devices(central, room, [{"device_id": device_id}])[0][
            "status"] == "registered"
        assert {r["status"] for r in relay.ingest_relayed(central, room, envelopes)} == \
            {"stored"}
        assert {r["status"] for r in relay.ingest_relayed(central, room, envelopes)} == \
            {"duplicate"}
        body = json.loads(central.read_results(CONSULTATION)[1])
        assert body["channels"] == {"phone": 3}
        assert body["questions"]["q-ticket"]["channels"]["phone"]["counts"]["yes"] == 2
    finally:
        central.close()


def test_exports_carry_the_phone_channel(hub, phone):
    from server.admin import export
    open_phones(hub, ["q-ticket"])
    send(phone(), "q-ticket", {"value": "yes"})
    text = export(hub, "results", CONSULTATION, "csv")
    lines = text.splitlines()
    assert f"{CONSULTATION},1,q-ticket,yes_no,,phone:ballots,1" in lines
    assert f"{CONSULTATION},1,q-ticket,yes_no,yes,phone:counts,1" in lines
    assert any(",phone,participants,1" in line for line in lines), lines[-5:]


def test_the_dashboard_says_how_many_participants_answered_on_phones(hub, phone, api, tablet,
                                                                    demo, push):
    open_phones(hub, ["q-ticket"])
    for _ in range(2):
        send(phone(), "q-ticket", {"value": "yes"})
    store, device = tablet(hub)
    store.record_answer(demo, store.start_ballot(demo), "q-ticket", "no")
    push(hub, store, device)
    rows = hub.participation.figures(CONSULTATION)
    assert sum(r["participants"] for r in rows) == 3 and sum(r["phones"] for r in rows) == 2
    client = api.fresh()
    page = client.get("/dashboard?lang=fr",
                      headers={"Authorization": f"Bearer {hub.settings.admin_token}"})
    assert page.status_code == 200 and "dont sur téléphone" in page.text


def test_a_link_with_the_card_opens_the_ballot_with_it_filled_in(hub, phone):
    """`/v/<consultation>?card=…` (a card's QR text, or its code): the ballot with the card
    filled in; the answer spends it."""
    card = hub.participation.issue_cards(CONSULTATION, 1)[0]
    open_phones(hub, ["q-ticket"], cards=True)
    client = phone()
    text = hub.participation.cards.card_text(card)
    page = client.get(f"/v/{CONSULTATION}", params={"card": text})
    assert f'type="hidden" name="card" value="{text}"' in page.text
    assert send(client, "q-ticket", {"value": "yes", "card": text}).status_code == 200
    assert send(phone(), "q-ticket", {"value": "no", "card": card.typed}).status_code == 409
    assert results(hub)["questions"]["q-ticket"]["counts"] == {"yes": 1, "no": 0,
                                                              "abstain": 0}


def test_no_tablet_takes_a_phone_devices_name_and_the_room_counts_no_phone_as_tablet(hub,
                                                                                   phone):
    from server.errors import HubError
    from server.upstream import status
    with pytest.raises(HubError) as refused:
        hub.enroll(hub.make_enrollment_code(SITE)["code"], "phone-0123", "0" * 64)
    assert refused.value.field == "device_id"
    open_phones(hub, ["q-ticket"])
    send(phone(), "q-ticket", {"value": "yes"})
    assert status(hub)["tablets_enrolled"] == 0


def test_phone_pages_speak_to_a_resident_as_the_kiosk_does(hub, phone):
    """Money as the kiosk writes it (500.000 €, not 500.000 EUR), and in Italian the resident
    is addressed with "Lei" (La Sua risposta, Scelga…) as on the kiosk, never with "tu"."""
    open_phones(hub, ["q-budget", "q-services", "q-ticket"])
    tu = re.compile(r"\b(tua|tuo|tue|tuoi|hai|dai|ripartisci|guarda|torna|controlla|tienila)\b",
                    re.IGNORECASE)
    pages = {}
    for lang in ("fr", "it"):
        client = phone(lang)
        budget = client.get(f"/v/{CONSULTATION}/q-budget?lang={lang}").text
        assert "EUR" not in budget
        assert money(500_000, lang, "EUR") in budget
        ranks = client.get(f"/v/{CONSULTATION}/q-services?lang={lang}").text
        counted = send(client, "q-ticket", {"value": "yes"}, lang).text
        again = send(client, "q-ticket", {"value": "no"}, lang).text
        pages[lang] = budget + ranks + counted + again
    assert "La Sua risposta è contata" in pages["it"]
    visible = re.sub(r"<[^>]+>", " ", pages["it"])
    assert not tu.findall(visible), tu.findall(visible)
