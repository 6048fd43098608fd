"""A tablet's push over the room's TLS (the room kit, its own certificate pinned by the tablet)
against the same push over plain HTTP (a hub serving HTTP), in the same run, interleaved.

    python bench/push_tls.py [--quick] [--pushes N] [--ballots B]

Two kinds of push, each timed on both transports:
- the sync worker's cycle about a second after a resident's answers (SyncWorker.cycle: the
  events waiting in the outbox, B ballots of about 4 events each, sent and marked
  acknowledged), on the connection its last cycle left open (sync/worker.py REUSE_CONNECTION);
- a cold push: a new client, so a new connection, and over TLS a new handshake and the pin's
  check (the first push after a pause of more than a few seconds).
Prints p50 and p95 per transport and the ratios of the p95s. Target (issue 22): the worker's
push p95 over TLS <= 1.3x plain HTTP's.
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
from sync.worker import SyncWorker, push_pending  # noqa: E402
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
            workers = {name: SyncWorker(store.path, tmp / f"bundles-{i}", lambda _s: None)
                       for i, (name, store) in enumerate(tablets.items())}
            times = {(kind, name): [] for kind in ("worker", "cold") for name in tablets}
            for name, store in tablets.items():   # a first cycle each: content, warm hubs
                record_votes(store, consultation, args.ballots, with_changes=False)
                workers[name].cycle(store)
            for i in range(pushes):
                order = list(tablets.items()) if i % 2 else list(reversed(tablets.items()))
                for name, store in order:
                    record_votes(store, consultation, args.ballots, seed=i, with_changes=False)
                    start = time.perf_counter()
                    workers[name].cycle(store)
                    times["worker", name].append(time.perf_counter() - start)
                    assert store.outbox_counts()["pending"] == 0
                for name, store in order:
                    record_votes(store, consultation, args.ballots, seed=i, with_changes=False)
                    times["cold", name].append(one_push(store))
            for name, store in tablets.items():
                workers[name].drop_client()
                store.close()
        finally:
            room.stop()
            plain.stop()
    stats = {key: summary_ms(values) for key, values in times.items()}
    what = {"worker": "the worker's cycle, its connection kept",
            "cold": "a cold push, a new connection"}
    for (kind, name), s in stats.items():
        print(f"push_tls: {what[kind]}: {name}: {pushes} pushes of {args.ballots} ballot(s): "
              f"p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms")
    for kind in ("worker", "cold"):
        ratio = stats[kind, "TLS, pinned"]["p95_ms"] / stats[kind, "plain HTTP"]["p95_ms"]
        target = (f" (target <= 1.3x: {'met' if ratio <= 1.3 else 'NOT met'})"
                  if kind == "worker" else " (no target: the worst case, shown for scale)")
        print(f"push_tls: ratio p95 TLS/plain, {what[kind]} = {ratio:.2f}x{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
