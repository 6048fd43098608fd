"""GET /api/v1/cards (the card index) to whom it is not for: a revoked device, a wrong secret,
no credentials (a device of another site: tests/unit/test_card_index.py)."""
from __future__ import annotations

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
