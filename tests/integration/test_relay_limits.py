"""What one caller can cost the hub, against a real hub process over real sockets (issue 22,
items 7 and 10): a tablet's credential never gets a room hub's larger body limit (refused
before its body is read), a batch's events are counted as its bytes arrive (refused before
anything is parsed) — the hub's peak memory (VmHWM) stays where it was —, and one address
holding hundreds of connections does not starve the others."""
from __future__ import annotations

import json
import select
import socket
from pathlib import Path

import requests

from app.paths import DEMO_BUNDLE_DIR
from sync.client import HubClient
from sync.enroll import credential_hash

from .conftest import HubProcess, start_hub
from .test_relay_hub import relay_code

MIB = 1024 * 1024


def peak_mib(hub: HubProcess) -> float:
    for line in Path(f"/proc/{hub.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def enrolled(hub: HubProcess, device_id: str, code: str, kind: str | None = None) -> str:
    secret = "s" * 40 + device_id
    client = HubClient(hub.url)
    try:
        client.enroll(code, device_id, credential_hash(secret), kind=kind)
    finally:
        client.close()
    return f"Bearer {device_id}:{secret}"


def post_raw(hub: HubProcess, path: str, authorization: str, body: bytes) -> tuple[int, dict]:
    """POST on a plain socket, sending on whatever the hub does (it may answer and close before
    reading the body); its status and JSON answer."""
    with socket.create_connection(("127.0.0.1", hub.port), timeout=60) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                     f"{authorization}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        try:
            for start in range(0, len(body), 256 * 1024):
                sock.sendall(body[start:start + 256 * 1024])
        except OSError:
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
    head, _, body_text = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body_text or b"{}")


def tiny_events(size: int) -> bytes:
    one = b'{"id":"e","device_id":"d","seq":1,"type":"answer","recorded_at":"t","payload":{}}'
    return b'{"events":[' + (one + b",") * (size // (len(one) + 1) - 1) + one + b"]}"


def test_bodies_are_bounded_per_caller_and_counted_before_parsing(tmp_path):
    hub = start_hub(tmp_path / "hub")
    try:
        tablet = enrolled(hub, "tab-1", hub.code())
        relay = enrolled(hub, "room-1", relay_code(hub), kind="relay")
        post_raw(hub, "/api/v1/events", tablet, b'{"events": []}')
        before = peak_mib(hub)
        # A tablet's credential with a room hub's batch: 403 before the body is read.
        status, answer = post_raw(hub, "/api/v1/relay/events", tablet, tiny_events(8 * MIB))
        assert status == 403 and answer["error"]["code"] == "relay_only"
        # Hundreds of thousands of tiny events under the byte limit: 413 as soon as the count
        # passes the caller's batch (500 for a tablet, 2,000 for a room hub).
        status, answer = post_raw(hub, "/api/v1/events", tablet, tiny_events(7 * MIB))
        assert status == 413 and answer["error"]["code"] == "batch_too_large"
        assert "500" in answer["error"]["message"]
        status, answer = post_raw(hub, "/api/v1/relay/events", relay, tiny_events(8 * MIB))
        assert status == 413 and answer["error"]["code"] == "batch_too_large"
        assert "2000" in answer["error"]["message"]
        # Nothing of it was parsed: the hub's peak memory did not move (parsed, 8 MiB of tiny
        # events take some 75 MiB).
        assert peak_mib(hub) - before < 24, (before, peak_mib(hub))
        # A batch within the count still gets its results.
        status, answer = post_raw(hub, "/api/v1/events", tablet, b'{"events": [{"id": "x"}]}')
        assert status == 200 and answer["results"][0]["status"] == "rejected"
    finally:
        hub.kill()


def test_one_address_holding_hundreds_of_connections_does_not_starve_the_others(tmp_path):
    hub = HubProcess(tmp_path / "hub")
    hub.env["PIAZZETTA_HUB_HEADER_TIMEOUT"] = "60"      # the held connections stay open
    assert hub.import_bundle(DEMO_BUNDLE_DIR) == 0
    hub.start()
    held: list[socket.socket] = []
    try:
        # 410 connections from 127.0.0.2 that send half a request head and wait.
        for _ in range(410):
            sock = socket.socket()
            sock.bind(("127.0.0.2", 0))
            try:
                sock.connect(("127.0.0.1", hub.port))
                sock.sendall(b"GET /api/v1 HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                sock.close()
                continue
            held.append(sock)
        # Those over the address's share were closed at once; the rest of the world is served.
        answers = []
        for _ in range(8):
            try:
                answers.append(requests.get(hub.url + "/api/v1", timeout=10).status_code)
            except requests.RequestException as exc:
                answers.append(type(exc).__name__)
        assert answers == [200] * 8, answers
        # The held ones the hub closed are readable (end of stream); the others wait.
        closed, _, _ = select.select(held, [], [], 2)
        assert len(closed) >= 410 - 64 and len(held) - len(closed) <= 64
    finally:
        for sock in held:
            sock.close()
        hub.kill()
