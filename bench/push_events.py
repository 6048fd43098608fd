"""Push 10,000 events from one tablet to a hub on loopback, in batches (the sync client), against
one HTTP request per event (the way OpenRosa field-collection clients submit) in the same run.

    python bench/push_events.py [--quick] [--events N]

Prints wall time and HTTP requests for both, and the ratios. Targets (issue 4): at least 50x
fewer requests, and under 2 s for 10,000 events.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.bundle import load_bundle  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.store import Store  # noqa: E402
from sync import protocol as p  # noqa: E402
from sync.enroll import client_for, enroll  # noqa: E402
from sync.worker import push_pending  # noqa: E402
from tests.integration.conftest import record_votes, start_hub  # noqa: E402


def tablet(hub, consultation, events: int) -> Store:
    store = Store.memory()
    enroll(store, hub.url, hub.code())
    record_votes(store, consultation, events // 5 + 1, with_changes=False)
    return store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds: CI smoke run")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--baseline-events", type=int, default=None,
                        help="events sent one per request (default: as many; 300 with --quick)"
                             "; its time is scaled to --events when fewer")
    args = parser.parse_args()
    events = args.events or (1000 if args.quick else 10_000)
    baseline_events = min(events, args.baseline_events or (300 if args.quick else events))
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        hub = start_hub(Path(tmp) / "hub")
        try:
            batched = tablet(hub, consultation, events)
            single = tablet(hub, consultation, baseline_events)
            n_batched = min(events, batched.outbox_counts()["pending"])
            n_single = min(baseline_events, single.outbox_counts()["pending"])

            client = client_for(batched)
            client.info()   # connect once, as the worker would have
            client.requests_made = 0
            start = time.perf_counter()
            pending = batched.pending_events(limit=n_batched)
            for begin in range(0, len(pending), 500):
                chunk = pending[begin:begin + 500]
                acked = client.push([e.envelope(batched.device_id) for e in chunk])
                batched.mark_acknowledged(acked)
            batched_time = time.perf_counter() - start
            batched_requests = client.requests_made

            client = client_for(single)
            client.info()
            client.requests_made = 0
            start = time.perf_counter()
            for event in single.pending_events(limit=n_single):
                acked = client.push([event.envelope(single.device_id)])
                single.mark_acknowledged(acked)
            single_time = time.perf_counter() - start
            single_requests = client.requests_made
            # the whole client path too (push_pending with the hub's advertised batch size)
            rest = tablet(hub, consultation, events)
            start = time.perf_counter()
            push_pending(rest, client_for(rest), rest.get_setting(p.MAX_BATCH, 500))
            worker_time = time.perf_counter() - start
            worker_events = rest.outbox_counts()["acknowledged"]
        finally:
            hub.stop()
    print(f"push_events: {n_batched} events in batches of 500: {batched_time:.3f} s, "
          f"{batched_requests} HTTP requests ({n_batched / batched_time:,.0f} events/s)")
    print(f"push_events: baseline, one request per event: {n_single} events: {single_time:.3f} s, "
          f"{single_requests} HTTP requests ({n_single / single_time:,.0f} events/s)")
    print(f"push_events: push_pending (client path, reading the outbox): {worker_events} events "
          f"in {worker_time:.3f} s")
    scale = n_batched / n_single
    print(f"push_events: ratio requests baseline/batched = "
          f"{single_requests * scale / batched_requests:.0f}x (target >= 50x); "
          f"time baseline/batched = {single_time * scale / batched_time:.1f}x"
          f"{' (baseline scaled from %d events)' % n_single if n_single != n_batched else ''}; "
          f"target < 2 s for 10,000 events: {'met' if batched_time * 10_000 / n_batched < 2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
