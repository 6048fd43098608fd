"""A normal push (50 events from an enrolled tablet) while the hub is under attack: 50 slow
clients trickling request heads and 4 anonymous 30 MiB uploads at once, again and again; against
the same push on the same hub while it is quiet, measured in the same run.

    python bench/hub_under_attack.py [--quick] [--pushes N]

Prints the hub's memory (VmRSS, before and at its highest) and the push's p50/p95 latency, quiet
and under attack, and the ratio of the p95s. Target (issue 13): the hub's memory grows by less
than 50 MB and the p95 stays under 5x the quiet one (before: 80 MB -> 908 MB, pushes timed out).
"""
from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from app.bundle import load_bundle  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.store import Store  # noqa: E402
from bench._common import summary_ms  # noqa: E402
from sync.enroll import enroll  # noqa: E402
from tests.integration.conftest import HubProcess, record_votes  # noqa: E402

MIB = 1024 * 1024


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS")).split()[1]) / 1024


def envelopes(consultation) -> list[dict]:
    store = Store.memory()
    record_votes(store, consultation, 10, with_changes=False)
    return [e.envelope("bench-tablet") for e in store.events()][:50]


def pushes(url: str, auth: dict, batch: list[dict], count: int) -> list[float]:
    times = []
    for i in range(count):
        body = {"events": [{**e, "id": f"{e['id']}-{time.monotonic_ns()}-{i}"} for e in batch]}
        started = time.perf_counter()
        answer = requests.post(url + "/api/v1/events", json=body, headers=auth, timeout=30)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text[:300]
    return times


class Attack:
    """Slow clients (a header byte every 0.2 s, reconnecting when the hub closes them) and
    anonymous 30 MiB uploads, in threads, until stopped."""

    def __init__(self, port: int, slow: int, uploads: int):
        self.port, self.slow, self.uploads = port, slow, uploads
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.refused = self.closed = 0
        self.body = b'{"events":[' + b"{}," * (30 * MIB // 3 - 1) + b"{}]}"   # no join: 0.9 GB

    def slow_client(self) -> None:
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    sock.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n")
                    while not self.stop.wait(0.2):
                        sock.sendall(b"X")
            except OSError:
                self.closed += 1

    def upload(self) -> None:
        while not self.stop.is_set():
            try:
                answer = requests.post(f"http://127.0.0.1:{self.port}/api/v1/events",
                                       data=self.body, timeout=30,
                                       headers={"Content-Type": "application/json"})
                self.refused += answer.status_code in (401, 413)
            except requests.RequestException:
                self.refused += 1    # closed before the whole body was sent: refused early

    def __enter__(self) -> "Attack":
        for target, count in ((self.slow_client, self.slow), (self.upload, self.uploads)):
            for _ in range(count):
                thread = threading.Thread(target=target, daemon=True)
                thread.start()
                self.threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds: CI smoke run")
    parser.add_argument("--pushes", type=int, default=None)
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--uploads", type=int, default=4)
    args = parser.parse_args()
    count = args.pushes or (20 if args.quick else 200)
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    batch = envelopes(consultation)
    with tempfile.TemporaryDirectory() as tmp:
        hub = HubProcess(Path(tmp) / "hub")
        hub.env["PIAZZETTA_HUB_HEADER_TIMEOUT"] = "2" if args.quick else "10"
        assert hub.cli("import-bundle", str(DEMO_BUNDLE_DIR)).returncode == 0
        hub.start()
        try:
            tablet = Store.memory()
            enroll(tablet, hub.url, hub.code())
            auth = {"Authorization": f"Bearer {tablet.device_id}:"
                                     f"{tablet.get_setting('sync.device_secret')}"}
            batch = [{**e, "device_id": tablet.device_id} for e in batch]
            pushes(hub.url, auth, batch, 3)      # warm up
            rss_quiet = rss_mb(hub.proc.pid)
            quiet = pushes(hub.url, auth, batch, count)
            peak = rss_quiet
            with Attack(hub.port, args.slow, args.uploads) as attack:
                time.sleep(0.5)
                loud = []
                for _ in range(count):
                    loud += pushes(hub.url, auth, batch, 1)
                    peak = max(peak, rss_mb(hub.proc.pid))
            log_kib = hub.log.stat().st_size / 1024
        finally:
            hub.stop()
    q, a = summary_ms(quiet), summary_ms(loud)
    print(f"pushes of {len(batch)} events: {count} quiet, {count} under attack "
          f"({args.slow} slow clients, {args.uploads} anonymous 30 MiB uploads)")
    print(f"hub memory: {rss_quiet:.0f} MB quiet, {peak:.0f} MB at most under attack "
          f"(+{peak - rss_quiet:.1f} MB)")
    print(f"push latency quiet:        p50 {q['p50_ms']:.1f} ms, p95 {q['p95_ms']:.1f} ms")
    print(f"push latency under attack: p50 {a['p50_ms']:.1f} ms, p95 {a['p95_ms']:.1f} ms")
    print(f"p95 ratio (attack / quiet): {a['p95_ms'] / q['p95_ms']:.2f}x; uploads refused: "
          f"{attack.refused}; slow clients closed by the hub: {attack.closed}; "
          f"hub log: {log_kib:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
