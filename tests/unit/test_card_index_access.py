"""GET /api/v1/cards (the card index) to whom it is not for: a revoked device, a wrong secret,
no credentials (a device of another site: tests/unit/test_card_index.py)."""
from __future__ import annotations

from app.paths import DEMO_BUNDLE_DIR
from server.hub import Hub
from server.settings import Settings
from tests.unit.test_card_index import CONSULTATION, fetch


def test_the_card_index_is_refused_to_a_revoked_device_and_to_a_stranger(hub, api, tablet):
    _store, device = tablet(hub)
    card = hub.participation.issue_cards(CONSULTATION, 1)[0]
    assert list(fetch(api, device, "/api/v1/cards").json()["keys"][CONSULTATION]) == \
        [card.lookup]
    wrong = dict(device, secret="0" * len(device["secret"]))
    assert fetch(api, wrong, "/api/v1/cards").status_code == 401
    assert api.fresh().get("/api/v1/cards").status_code == 401
    hub.revoke(device["id"])
    refused = fetch(api, device, "/api/v1/cards")
    assert refused.status_code == 401 and card.lookup not in refused.text


def test_the_card_index_is_built_once_per_write_of_cards(hub, api, tablet, monkeypatch,
                                                          tmp_path):
    """An enrolled device asking again and again (304 or not) no longer makes the hub build
    the whole index each time (20,000 cards: 160 ms a request); a card issued, or imported from
    another hub, is in the next answer."""
    _store, device = tablet(hub)
    built = []
    real = hub.participation.cards.card_index
    monkeypatch.setattr(hub.participation.cards, "card_index",
                        lambda ids=None: built.append(ids) or real(ids))
    first = fetch(api, device, "/api/v1/cards")
    for _ in range(5):
        assert fetch(api, device, "/api/v1/cards", first.headers["ETag"]).status_code == 304
    assert len(built) == 1
    card = hub.participation.issue_cards(CONSULTATION, 1)[0]
    issued = fetch(api, device, "/api/v1/cards", first.headers["ETag"])
    assert issued.status_code == 200 and card.lookup in issued.json()["keys"][CONSULTATION]
    assert len(built) == 2
    other = Hub(Settings.from_env({}, data_dir=tmp_path / "other"))
    try:
        other.import_bundle(DEMO_BUNDLE_DIR)
        elsewhere = other.participation.issue_cards(CONSULTATION, 1)[0]
        assert hub.participation.import_cards(
            other.participation.export_cards(CONSULTATION))["imported"] == 1
    finally:
        other.close()
    imported = fetch(api, device, "/api/v1/cards", issued.headers["ETag"])
    assert imported.status_code == 200 and \
        elsewhere.lookup in imported.json()["keys"][CONSULTATION]
    assert len(built) == 3
