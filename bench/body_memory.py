"""The hub's peak memory (RSS high-water mark, /proc/<pid>/status VmHWM) for the oversized
requests of issue 22, item 7, against a real hub process on loopback:

    python bench/body_memory.py [--quick] [--root DIR]

1. a tablet's credential sends a room hub's largest batch (4 × max_batch × event_max_bytes,
   ~31 MiB) to /api/v1/relay/events;
2. a tablet sends /api/v1/events a body just under its byte limit (~7.8 MiB) made of tiny
   events (hundreds of thousands);
3. a room hub's credential sends ~31 MiB of tiny events to /api/v1/relay/events.

Each prints the answer's status and the peak's growth over the hub's own peak after a normal
push (the baseline, same run). `--root` runs the hub of another checkout (e.g. a `git archive`
of main) for a before/after. `--quick` sends a quarter of each size.
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from sync.client import HubClient  # noqa: E402
from sync.enroll import credential_hash  # noqa: E402
from tests.integration.conftest import HubProcess  # noqa: E402

MIB = 1024 * 1024


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def post_raw(port: int, path: str, authorization: str, body: bytes) -> str:
    """POST `body` on a plain socket, whatever the hub does meanwhile (it may answer and close
    before reading it all); the answer's status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                     f"{authorization}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode())
        try:
            for start in range(0, len(body), 256 * 1024):
                sock.sendall(body[start:start + 256 * 1024])
        except OSError:
            pass
        try:
            return sock.recv(200).split(b"\r\n", 1)[0].decode(errors="replace")
        except OSError as exc:
            return f"(connection closed: {exc.__class__.__name__})"


def tiny_events(size: int) -> bytes:
    one = b'{"id":"e","device_id":"d","seq":1,"type":"answer","recorded_at":"t","payload":{}}'
    count = max(1, (size - 20) // (len(one) + 1))
    return b'{"events":[' + b",".join([one] * count) + b"]}"


def big_events(size: int, device: str) -> bytes:
    text = "x" * (15 * 1024)
    count = max(1, size // (len(text) + 200))
    return json.dumps({"events": [{"id": f"e{i}", "device_id": device, "seq": i + 1,
                                   "type": "answer", "recorded_at": "t",
                                   "payload": {"text": text}} for i in range(count)]}).encode()


def enroll(hub: HubProcess, device_id: str, kind: str | None) -> str:
    secret = "s" * 40 + device_id
    body = {"site_id": "menton-mediatheque", "minutes": 10}
    if kind:
        body["kind"] = kind
    code = hub.admin("POST", "/enrollment-codes", json=body).json()["code"]
    client = HubClient(hub.url)
    try:
        client.enroll(code, device_id, credential_hash(secret), kind=kind)
    finally:
        client.close()
    return f"Bearer {device_id}:{secret}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()
    scale = 4 if args.quick else 1
    import tests.integration.conftest as conftest
    conftest.ROOT = args.root       # start the hub of that checkout
    relay_limit = 4 * 500 * 16 * 1024
    tablet_limit = 500 * 16 * 1024
    cases = [
        ("tablet credential, /api/v1/relay/events, tiny events", "tablet",
         "/api/v1/relay/events", tiny_events(relay_limit // scale - 4096)),
        ("tablet credential, /api/v1/relay/events, 15 KiB events", "tablet",
         "/api/v1/relay/events", big_events(relay_limit // scale - 4096, "tab-bench")),
        ("tablet, /api/v1/events, tiny events", "tablet", "/api/v1/events",
         tiny_events(tablet_limit // scale - 4096)),
        ("relay credential, /api/v1/relay/events, tiny events", "relay",
         "/api/v1/relay/events", tiny_events(relay_limit // scale - 4096)),
    ]
    print(f"hub of {args.root}, a fresh process per request:")
    for name, who, path, body in cases:
        with tempfile.TemporaryDirectory() as tmp:
            hub = HubProcess(Path(tmp) / "hub")
            hub.env["PYTHONPATH"] = str(args.root)
            cli = subprocess.run([sys.executable, "-m", "server", "import-bundle",
                                  str(DEMO_BUNDLE_DIR)], cwd=args.root, env=hub.env,
                                 capture_output=True, text=True)
            assert cli.returncode == 0, cli.stderr
            hub.start()
            try:
                callers = {"tablet": enroll(hub, "tab-bench", None),
                           "relay": enroll(hub, "room-bench", "relay")}
                post_raw(hub.port, "/api/v1/events", callers["tablet"],
                         json.dumps({"events": []}).encode())       # the baseline: a push
                time.sleep(0.3)
                before = peak_kib(hub.proc.pid)
                status = post_raw(hub.port, path, callers[who], body)
                time.sleep(0.3)
                after = peak_kib(hub.proc.pid)
                print(f"  {name}: {len(body) / MIB:.1f} MiB -> {status!r}; peak RSS "
                      f"{before / 1024:.0f} -> {after / 1024:.0f} MiB "
                      f"(+{(after - before) / 1024:.0f} MiB)")
            finally:
                hub.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
