"""The card index apart from the bundle index (docs/protocol.md, "Participation cards: the
card index"): issuing a card changes GET /api/v1/cards and its ETag, never GET /api/v1/bundle's,
so tablets do not read the bundle index again for a card; a tablet with the new index checks
the new card offline. Over real HTTP and a tablet's sync: tests/integration/test_card_privacy.py."""
from __future__ import annotations

import pytest

from app.cards import CardError
from app.kiosk import KioskSession, KioskSettings
from sync.content import save_card_index

CONSULTATION = "alpimed-2030"


def fetch(api, device, path, etag=None):
    headers = {"Authorization": f"Bearer {device['id']}:{device['secret']}"}
    if etag:
        headers["If-None-Match"] = etag
    return api.fresh().get(path, headers=headers)


def test_a_card_issued_changes_the_card_index_and_leaves_the_bundle_index(hub, api, tablet,
                                                                          demo):
    store, device = tablet(hub)
    bundle, cards = fetch(api, device, "/api/v1/bundle"), fetch(api, device, "/api/v1/cards")
    assert bundle.status_code == cards.status_code == 200
    assert "cards" not in bundle.json() and cards.json()["keys"] == {CONSULTATION: {}}
    bundle_etag, cards_etag = bundle.headers["ETag"], cards.headers["ETag"]
    assert fetch(api, device, "/api/v1/cards", cards_etag).status_code == 304
    save_card_index(store, cards.json())

    card = hub.participation.issue_cards(CONSULTATION, 1)[0]
    settings = KioskSettings(store)
    settings.ballot_mode = "identified"
    with pytest.raises(CardError):          # the tablet does not know it yet
        KioskSession(store, demo, settings=settings).present_card(card.typed)

    again = fetch(api, device, "/api/v1/bundle", bundle_etag)
    assert again.status_code == 304 and again.headers["ETag"] == bundle_etag
    fresh = fetch(api, device, "/api/v1/cards", cards_etag)
    assert fresh.status_code == 200 and fresh.headers["ETag"] != cards_etag
    assert list(fresh.json()["keys"][CONSULTATION]) == [card.lookup]
    save_card_index(store, fresh.json())
    session = KioskSession(store, demo, settings=settings)
    session.present_card(card.typed)        # checked offline, with the new index
    assert session.card is not None and session.card.lookup == card.lookup


def test_the_card_index_lists_the_consultations_of_the_devices_site_only(hub, tablet):
    _store, here = tablet(hub)
    elsewhere = {"id": "t-elsewhere", "site_id": "a-site-the-demo-does-not-list"}
    assert list(hub.card_index(here)["keys"]) == [CONSULTATION]
    assert hub.card_index(elsewhere)["keys"] == {}
    assert [c["id"] for c in hub.bundle_index(elsewhere)["consultations"]] == []
