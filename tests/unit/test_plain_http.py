"""Plain HTTP is never guessed nor taken silently (attack review, item 6): an address without a
scheme is an https:// one, and enrolling — a tablet with its hub, a room hub with the central
hub — over http:// is refused with a clear message, except to this machine (the tests' hubs,
`make run`)."""
from __future__ import annotations

import pytest

from app.paths import DEMO_BUNDLE_DIR
from app.store import Store
from server.hub import Hub
from server.settings import Settings
from sync import protocol as p
from sync.client import normalize_hub_url, require_tls
from sync.enroll import enroll

MESSAGE = "plain http://"


def test_an_address_without_a_scheme_is_https_and_http_is_only_for_this_machine():
    assert normalize_hub_url("10.0.0.2:8765") == "https://10.0.0.2:8765"
    assert normalize_hub_url("hub.example.org/") == "https://hub.example.org"
    for url in ("http://127.0.0.1:8765", "http://127.4.5.6", "http://localhost:8765",
                "http://[::1]:8765", "https://10.0.0.2:8765", "https://hub.example.org"):
        assert require_tls(normalize_hub_url(url)) == normalize_hub_url(url)
    for url in ("http://10.0.0.2:8765", "http://hub.example.org", "http://192.168.1.10",
                "http://localhost.example.org", "http://[fe80::1]:8765", "http://128.0.0.1"):
        with pytest.raises(p.SyncError) as refused:
            require_tls(normalize_hub_url(url))
        assert MESSAGE in str(refused.value) and refused.value.field == "hub_url"


def test_a_tablet_does_not_enroll_over_plain_http_and_keeps_nothing():
    store = Store.memory()
    before = {k: store.get_setting(k) for k in (p.CREDENTIALS, p.HUB_URL)}
    with pytest.raises(p.SyncError) as refused:
        enroll(store, "http://10.0.0.2:8765", "ABCD-EFGH")
    assert MESSAGE in str(refused.value)
    assert {k: store.get_setting(k) for k in (p.CREDENTIALS, p.HUB_URL)} == before


def test_a_room_hub_does_not_enroll_with_a_central_hub_over_plain_http(tmp_path):
    from server import upstream
    hub = Hub(Settings.from_env({}, data_dir=tmp_path / "room"))
    try:
        hub.import_bundle(DEMO_BUNDLE_DIR)
        before = upstream.state(hub)
        with pytest.raises(p.SyncError) as refused:
            upstream.enroll(hub, "http://central.example.org", "ABCD-EFGH")
        assert MESSAGE in str(refused.value)
        assert upstream.state(hub) == before
    finally:
        hub.close()
