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
