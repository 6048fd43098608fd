"""The room's own certificate (server/tls.py) and the tablet's pin (sync/client.py), without a
network: what the QR carries, what a typed address carries, and what is refused."""
from __future__ import annotations

import ssl

import pytest

from server.hub import enrollment_qr_payload
from server.tls import certificate_pin, room_certificate, typed_pin
from sync import protocol as p
from sync.client import HubClient, normalize_pin, split_hub_address
from sync.enroll import parse_enrollment_qr

PIN = "a00b944c0c6d9a777f7245ed823c18869c44791a7847302abb21b3a1373be5e4"


def test_the_room_makes_its_certificate_once_and_keeps_it(tmp_path):
    made = room_certificate(tmp_path / "room", ["192.168.1.10"])
    assert made.key.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "room" / "tls").stat().st_mode & 0o077 == 0
    again = room_certificate(tmp_path / "room", ["10.0.0.7"])    # another hall, same pin
    assert again == made and made.pin == certificate_pin(made.cert.read_text())
    assert len(made.pin) == 64 and made.pin != room_certificate(tmp_path / "other").pin
    # It loads as a server's certificate, with its key.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(made.cert), str(made.key))
    assert typed_pin(PIN).startswith("A00B 944C ") and typed_pin(PIN).count(" ") == 15


def test_the_enrollment_qr_carries_the_pin_only_with_https():
    with_pin = enrollment_qr_payload("https://192.168.1.10:8765", "ABCD-EFGH", PIN)
    assert parse_enrollment_qr(with_pin) == ("https://192.168.1.10:8765", "ABCD-EFGH", PIN)
    assert "pin=" not in enrollment_qr_payload("http://127.0.0.1:8765", "ABCD-EFGH", PIN)
    assert "pin=" not in enrollment_qr_payload("https://hub.example.org", "ABCD-EFGH")


def test_a_hub_address_may_carry_its_pin():
    assert split_hub_address(f"https://10.0.0.2:8765#pin={typed_pin(PIN)}") == (
        "https://10.0.0.2:8765", PIN)
    assert split_hub_address("https://hub.example.org/") == ("https://hub.example.org", None)
    assert normalize_pin(PIN.upper().replace("A0", "A0:")) == PIN
    client = HubClient(f"https://10.0.0.2:8765#pin={PIN}")
    assert client.hub_url == "https://10.0.0.2:8765" and client.pin == PIN
    client.close()
    for bad in (f"http://10.0.0.2:8765#pin={PIN}", "https://10.0.0.2:8765#pin=abcd",
                f"https://10.0.0.2:8765#pin={PIN}00"):
        with pytest.raises(p.SyncError) as refused:
            split_hub_address(bad)
        assert refused.value.message
    with pytest.raises(p.SyncError):
        HubClient("http://10.0.0.2:8765", pin=PIN)       # a pin over plain HTTP pins nothing
