"""The hub's one language negotiation (server.pages.request_lang): `?lang=`, then
Accept-Language, for the API's error messages and the pages alike."""
import pytest
from fastapi.testclient import TestClient

from server.api import create_app

NOT_FOUND = {"fr": "Introuvable.", "it": "Non trovato.", "en": "Not found."}


@pytest.fixture
def client(hub):
    return TestClient(create_app(hub=hub))


@pytest.mark.parametrize("params, header, lang", [
    ({}, None, "en"),                                   # the API's default: English
    ({}, "it-IT,it;q=0.9", "it"),
    ({}, "de,fr;q=0.5", "fr"),                          # the first language the hub speaks
    ({"lang": "it"}, "fr", "it"),                       # ?lang= before the header
    ({"lang": "de"}, "fr", "fr"),                       # an unknown ?lang= is ignored
])
def test_the_api_answers_in_the_negotiated_language(client, params, header, lang):
    answer = client.get("/api/v1/no-such-thing", params=params,
                        headers={"Accept-Language": header} if header else {})
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == NOT_FOUND[lang]


@pytest.mark.parametrize("params, header, lang", [
    ({}, None, "fr"),                                   # the pages' default: French
    ({}, "it-IT,it;q=0.9", "it"),
    ({"lang": "en"}, "it", "en"),
])
def test_the_pages_answer_in_the_same_negotiation(client, params, header, lang):
    page = client.get("/signup", params=params,
                      headers={"Accept-Language": header} if header else {})
    assert page.status_code == 200
    assert page.headers["Content-Language"] == lang


def test_the_dashboard_writes_numbers_and_dates_as_app_formatting_does():
    from app import formatting
    from server.pages import render
    row = {"consultation_id": "c", "site_id": "s", "meeting_id": None, "participants": 12345,
           "signups": 6172, "confirmed": 0, "conversion": 0.5, "ideas": 3, "room_cards": 0}
    relay = {"relay_id": "r", "name": "Room", "site_id": "s", "devices": 2, "stored": 1500,
             "duplicate": 0, "refused": 0, "revoked": False,
             "first_arrival": "2026-11-30T10:05:09+00:00", "last_arrival": None,
             "last_contact": "2026-12-01T08:00:00.123+00:00"}
    for lang in ("fr", "it", "en"):
        page = render("dashboard.html", lang, rows=[row], sites={"s": "Site"}, totals=row,
                      csrf=None, relays=[relay], room_cards=[], cards=[]).body.decode()
        for text in (formatting.number(12345, lang), formatting.percent(0.5, lang),
                     formatting.number(1500, lang),
                     formatting.day_and_time("2026-11-30T10:05:09+00:00", lang)):
            assert text in page, (lang, text)
        assert "2026-11-30" not in page
