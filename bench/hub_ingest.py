"""Hub ingest rate with 20 tablets pushing at the same time, in events per second, on SQLite and
(when PIAZZETTA_TEST_POSTGRES_URL is set) on PostgreSQL; baseline: one tablet pushing alone, in
the same run. Target (issue 4): >= 5,000 events/s on SQLite on 2 cores.

    python bench/hub_ingest.py [--quick] [--devices 20] [--events 500] [--batch 500]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.bundle import load_bundle  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.store import Store  # noqa: E402
from sync import protocol as p  # noqa: E402
from sync.client import HubClient  # noqa: E402
from sync.enroll import enroll  # noqa: E402
from tests.integration.conftest import record_votes, start_hub  # noqa: E402


def devices(hub, consultation, count: int, events: int) -> list[tuple]:
    out = []
    for i in range(count):
        store = Store.memory()
        enroll(store, hub.url, hub.code())
        record_votes(store, consultation, events // 5 + 1, seed=i, with_changes=False)
        envelopes = [e.envelope(store.device_id) for e in store.pending_events(limit=events)]
        out.append((store.device_id, store.get_setting(p.DEVICE_SECRET), envelopes))
        store.close()
    return out


def push_all(hub, tablets, batch: int) -> float:
    """Every tablet pushes its events at once; returns the wall time."""
    barrier = threading.Barrier(len(tablets) + 1)
    errors = []

    def run(device_id, secret, envelopes):
        client = HubClient(hub.url, device_id, secret, timeout=(5, 300))
        client.info()
        barrier.wait()
        try:
            for start in range(0, len(envelopes), batch):
                results = client.push(envelopes[start:start + batch])
                assert all(r["status"] == "stored" for r in results.values())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=t) for t in tablets]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def measure(label: str, database_url: str | None, args, consultation) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hub = start_hub(Path(tmp) / "hub", database_url=database_url, max_batch=args.batch)
        try:
            alone = devices(hub, consultation, 1, args.events)
            crowd = devices(hub, consultation, args.devices, args.events)
            t_alone = push_all(hub, alone, args.batch)
            t_crowd = push_all(hub, crowd, args.batch)
            stored = sum(len(t[2]) for t in crowd)
            counted = sum(d["events"] for d in hub.admin("GET", "/devices").json()["devices"])
        finally:
            hub.stop()
    rate_alone = len(alone[0][2]) / t_alone
    rate_crowd = stored / t_crowd
    print(f"hub_ingest[{label}]: baseline 1 device: {len(alone[0][2])} events in {t_alone:.3f} s "
          f"= {rate_alone:,.0f} events/s")
    print(f"hub_ingest[{label}]: {args.devices} devices x {args.events} events at once: "
          f"{stored} events in {t_crowd:.3f} s = {rate_crowd:,.0f} events/s "
          f"(ratio to 1 device {rate_crowd / rate_alone:.2f}x; hub counted {counted})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    args.events = args.events or (100 if args.quick else 500)
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    measure("sqlite", None, args, consultation)
    base = os.environ.get("PIAZZETTA_TEST_POSTGRES_URL")
    if base:
        import psycopg
        from sqlalchemy.engine import make_url
        url = make_url(base)
        name = "piazzetta_bench_" + uuid.uuid4().hex[:8]
        admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            measure("postgresql", url.set(database=name).render_as_string(hide_password=False),
                    args, consultation)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        print("hub_ingest[postgresql]: skipped (PIAZZETTA_TEST_POSTGRES_URL is not set)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
