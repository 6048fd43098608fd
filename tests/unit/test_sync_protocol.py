"""The client's rules that need no network: what an acknowledgement is, enrollment QR codes, hub
addresses, the status a facilitator reads."""
from __future__ import annotations

import json

import pytest

from app.store import Store
from sync import protocol as p
from sync.client import normalize_hub_url
from sync.content import _safe_relative
from sync.enroll import is_enrolled, parse_enrollment_qr
from sync.service import SyncService
from sync.worker import SyncWorker

IDS = ["a1", "b2"]


def ack(results, protocol=1):
    return json.dumps({"protocol": protocol, "results": results}).encode()


def test_an_explicit_acknowledgement_is_read_per_event():
    body = ack([{"id": "a1", "status": "stored"}, {"id": "b2", "status": "rejected",
                                                   "message": "Unknown question."}])
    results = p.read_acknowledgement(200, "application/json", body, IDS)
    assert results["a1"]["status"] == "stored" and results["b2"]["status"] == "rejected"


@pytest.mark.parametrize("status, content_type, body", [
    (200, "text/html", b"<html>Please log in to the Wi-Fi</html>"),           # captive portal
    (200, "application/json", b""),                                           # empty 200
    (200, "application/json", ack([{"id": "a1", "status": "stored"}])[:20]),   # cut in half
    (200, "application/json", b'{"ok": true}'),
    (200, "application/json", ack([{"id": "a1", "status": "stored"},
                                   {"id": "b2", "status": "stored"}], protocol=2)),
    (200, "application/json", ack([{"id": "a1", "status": "stored"}])),        # one missing
    (200, "application/json", ack([{"id": "a1", "status": "stored"},
                                   {"id": "zz", "status": "stored"}])),        # wrong ID
    (200, "application/json", ack([{"id": "a1", "status": "stored"},
                                   {"id": "b2", "status": "ok"}])),            # unknown status
    (200, "application/json", ack([{"id": "a1", "status": "stored"},
                                   {"id": "a1", "status": "stored"}])),        # twice the same
    (500, "application/json", ack([{"id": "a1", "status": "stored"},
                                   {"id": "b2", "status": "stored"}])),
    (200, "application/json", b"[1, 2]"),
])
def test_anything_else_acknowledges_nothing(status, content_type, body):
    with pytest.raises(p.NotAcknowledged):
        p.read_acknowledgement(status, content_type, body, IDS)


def test_enrollment_qr_codes():
    assert parse_enrollment_qr("piazzetta://enroll?hub=http%3A%2F%2F192.168.1.10%3A8765"
                               "&code=ABCD-EFGH") == ("http://192.168.1.10:8765", "ABCD-EFGH")
    assert parse_enrollment_qr('{"hub": "hub.local:8765", "code": "abcd efgh"}') == (
        "http://hub.local:8765", "abcd efgh")
    for bad in ("", "https://example.org", "piazzetta://enroll?hub=x", None, 42, "{",
                "piazzetta://enroll?code=ABCD", "x" * 5000,
                "piazzetta://enroll?hub=javascript:alert(1)&code=A"):
        with pytest.raises(p.SyncError) as refused:
            parse_enrollment_qr(bad)
        assert str(refused.value)


def test_hub_addresses():
    assert normalize_hub_url(" 10.0.0.2:8765/ ") == "http://10.0.0.2:8765"
    assert normalize_hub_url("https://hub.example.org/piazzetta") == \
        "https://hub.example.org/piazzetta"
    for bad in ("", "ftp://x", "http://", "http://a b", "http://x?y=1", None, "x" * 600):
        with pytest.raises(p.SyncError) as refused:
            normalize_hub_url(bad)
        assert str(refused.value) == "This does not look like a hub address."


def test_file_paths_from_the_hub_stay_inside_the_bundle():
    assert _safe_relative("images/cover.png") == "images/cover.png"
    for bad in ("../../etc/passwd", "/etc/passwd", "images/../../x", "C:\\x", "a\\..\\b", ""):
        with pytest.raises(p.NotAcknowledged):
            _safe_relative(bad)


def test_errors_carry_translatable_messages():
    assert str(p.HubUnreachable()) == "Hub unreachable"
    revoked = p.DeviceRevoked()
    assert revoked.message.startswith("This tablet was revoked")
    assert revoked.describe(lambda s: s.upper()) == revoked.message.upper()


def test_status_of_a_tablet_not_yet_enrolled(tmp_path):
    store = Store.open(tmp_path)
    record = store.device_id
    store.close()
    service = SyncService(tmp_path)
    status = service.status()
    assert not status.enrolled and status.device_id == record and status.pending == 0
    service.push_soon()        # no worker: only the count moves
    assert service.status().pending == 1


def test_a_worker_cycle_without_enrollment_says_so(tmp_path):
    published = []
    worker = SyncWorker(tmp_path / "piazzetta.sqlite3", tmp_path / "bundles", published.append)
    store = Store.open(tmp_path)
    assert not is_enrolled(store)
    delay = worker.cycle(store)
    store.close()
    assert delay == worker.poll_interval
    assert published[-1].problem == "This tablet is not enrolled with a hub yet."


def test_backoff_grows_with_jitter_and_is_capped(tmp_path):
    store = Store.open(tmp_path)
    store.set_setting(p.HUB_URL, "http://127.0.0.1:9")      # never contacted: see below
    store.set_setting(p.DEVICE_SECRET, "s")
    worker = SyncWorker(tmp_path / "piazzetta.sqlite3", tmp_path / "b", lambda s: None,
                        backoff=(2.0, 60.0))

    def failing_push(*_args, **_kwargs):
        raise p.HubUnreachable("test")

    import sync.worker as worker_module
    original = worker_module.push_pending
    worker_module.push_pending = failing_push
    try:
        delays = [worker.cycle(store) for _ in range(10)]
    finally:
        worker_module.push_pending = original
        store.close()
    for n, delay in enumerate(delays, start=1):
        ceiling = min(60.0, 2.0 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert worker.problem == "Hub unreachable"


def test_an_unexpected_error_does_not_stop_the_worker(tmp_path):
    import threading
    published = []
    seen = threading.Event()
    worker = SyncWorker(tmp_path / "piazzetta.sqlite3", tmp_path / "b", published.append,
                        backoff=(0.05, 0.1))
    calls = []

    def cycle(store):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        seen.set()
        return 10.0

    worker.cycle = cycle
    worker.start()
    try:
        assert seen.wait(10)
        assert worker.is_alive()
        assert published[0].problem == "Sync met an unexpected error; it will try again."
    finally:
        worker.stop()
        worker.join(5)
    assert not worker.is_alive()
