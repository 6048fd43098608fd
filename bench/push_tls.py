"""A tablet's push over the room's TLS (the room kit, its own certificate pinned by the tablet)
against the same push over plain HTTP (a hub serving HTTP), in the same run, interleaved.

    python bench/push_tls.py [--quick] [--pushes N] [--ballots B]

Each push is what the sync worker does about a second after a resident's answers: a new client
(so a new connection, and over TLS a new handshake and the pin's check), the events waiting in
the outbox (B ballots of about 4 events each) sent and marked acknowledged. Prints p50 and p95
per transport, and the ratio of the p95s. Target (issue 22): TLS p95 <= 1.3x plain HTTP p95.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (the path, the benchmark hubs' lifted rate limits)
from _common import summary_ms

from app.bundle import load_bundle  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.store import Store  # noqa: E402
from sync import protocol as p  # noqa: E402
from sync.enroll import client_for, enroll, parse_enrollment_qr  # noqa: E402
from sync.worker import push_pending  # noqa: E402
from tests.integration.conftest import record_votes, start_hub  # noqa: E402
from tests.integration.roomkit import RoomKit  # noqa: E402


def one_push(store: Store) -> float:
    start = time.perf_counter()
    client = client_for(store)
    try:
        sent = push_pending(store, client, 500)
    finally:
        client.close()
    elapsed = time.perf_counter() - start
    assert sent["stored"] > 0 and store.outbox_counts()["pending"] == 0
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds: CI smoke run")
    parser.add_argument("--pushes", type=int, default=None, help="pushes per transport")
    parser.add_argument("--ballots", type=int, default=1, help="ballots recorded per push")
    args = parser.parse_args()
    pushes = args.pushes or (20 if args.quick else 300)
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plain = start_hub(tmp / "plain")
        room = RoomKit(tmp / "room").start()
        try:
            tablets = {}
            plain_store = Store.open(tmp / "tablet-plain")
            enroll(plain_store, plain.url, plain.code())
            tls_store = Store.open(tmp / "tablet-tls")
            hub_url, code, pin = parse_enrollment_qr(room.qr())
            enroll(tls_store, hub_url, code, pin=pin)
            assert tls_store.get_setting(p.HUB_PIN) == room.pin
            tablets = {"plain HTTP": plain_store, "TLS, pinned": tls_store}
            times: dict[str, list[float]] = {name: [] for name in tablets}
            for store in tablets.values():        # a first push each: warm both hubs
                record_votes(store, consultation, args.ballots, with_changes=False)
                one_push(store)
            for i in range(pushes):
                for name, store in (tablets.items() if i % 2 else reversed(tablets.items())):
                    record_votes(store, consultation, args.ballots, seed=i, with_changes=False)
                    times[name].append(one_push(store))
            for store in tablets.values():
                store.close()
        finally:
            room.stop()
            plain.stop()
    stats = {name: summary_ms(values) for name, values in times.items()}
    for name, s in stats.items():
        print(f"push_tls: {name}: {pushes} pushes of {args.ballots} ballot(s), a new "
              f"connection each: p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms")
    ratio = stats["TLS, pinned"]["p95_ms"] / stats["plain HTTP"]["p95_ms"]
    print(f"push_tls: ratio p95 TLS/plain = {ratio:.2f}x (target <= 1.3x: "
          f"{'met' if ratio <= 1.3 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
