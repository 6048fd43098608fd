"""Several hub processes on one PostgreSQL (issue 32): ingest events/s and results p95 with 1, 2
and 4 hub processes in the same run; the baseline is 1 process, measured first. Tablets push
at once, each to one process (round robin on the client side: no balancer in the path), while
readers poll every process's results; at the end every process must serve the same results.
Target: >= 1.6x from 1 to 2 processes and >= 10,000 events/s. On a 2-core machine the hub
processes, PostgreSQL and this client share the cores: the ratio then says what the cores
allow, not what the design does (docs/deploy.md, "Capacity").

    PIAZZETTA_TEST_POSTGRES_URL=… python bench/hub_scale.py [--quick] [--devices 20]
        [--events 500] [--batch 500] [--processes 1,2,4]
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

from _common import percentile  # noqa: E402  (the benches' rate limits lifted)
from app.bundle import load_bundle  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.store import Store  # noqa: E402
from sync import protocol as p  # noqa: E402
from sync.client import HubClient  # noqa: E402
from sync.enroll import enroll  # noqa: E402
from tests.integration.conftest import HubProcess, record_votes, start_hub  # noqa: E402


def tablets(hub, consultation, count: int, events: int) -> list[tuple]:
    out = []
    for i in range(count):
        store = Store.memory()
        enroll(store, hub.url, hub.code())
        record_votes(store, consultation, events // 5 + 1, seed=i, with_changes=False)
        envelopes = [e.envelope(store.device_id) for e in store.pending_events(limit=events)]
        out.append((store.device_id, store.get_setting(p.DEVICE_SECRET), envelopes))
        store.close()
    return out


def cpu_seconds(pids) -> float:
    """User + system CPU seconds the processes used so far (/proc: Linux)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def postgres_pids() -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() in ("postgres", "postmaster"):
                pids.append(int(stat.parent.name))
        except OSError:
            pass
    return pids


def run(hubs, devices, batch: int, consultation_id: str) -> tuple[float, list[float]]:
    """Every tablet pushes its events at once, each to hubs[i % n]; two readers poll results
    from every process meanwhile. (wall time, the reads' latencies)."""
    import requests
    barrier = threading.Barrier(len(devices) + 1)
    errors, reads, done = [], [], threading.Event()

    def push(i, device_id, secret, envelopes):
        client = HubClient(hubs[i % len(hubs)].url, device_id, secret, timeout=(5, 300))
        client.info()
        barrier.wait()
        try:
            for start in range(0, len(envelopes), batch):
                results = client.push(envelopes[start:start + batch])
                assert all(r["status"] == "stored" for r in results.values())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def read(k):
        session = requests.Session()
        i = k
        while not done.is_set():
            url = f"{hubs[i % len(hubs)].url}/api/v1/consultations/{consultation_id}/results"
            t0 = time.perf_counter()
            assert session.get(url, timeout=30).status_code == 200
            reads.append(time.perf_counter() - t0)
            i += 1
            time.sleep(0.02)

    pushers = [threading.Thread(target=push, args=(i, *t)) for i, t in enumerate(devices)]
    readers = [threading.Thread(target=read, args=(k,)) for k in range(2)]
    for t in pushers + readers:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pushers:
        t.join()
    elapsed = time.perf_counter() - start
    done.set()
    for t in readers:
        t.join()
    if errors:
        raise errors[0]
    return elapsed, reads


def measure(n: int, database_url: str, args, consultation) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "hub"
        hubs = [start_hub(data, database_url=database_url, max_batch=args.batch)]
        for i in range(1, n):
            hub = HubProcess(data, database_url=database_url, max_batch=args.batch)
            hub.log = Path(tmp) / f"hub{i}.log"
            hubs.append(hub.start())
        try:
            devices = tablets(hubs[0], consultation, args.devices, args.events)
            hub_pids, pg_pids = [h.proc.pid for h in hubs], postgres_pids()
            before = (cpu_seconds(hub_pids), cpu_seconds(pg_pids), time.process_time())
            elapsed, reads = run(hubs, devices, args.batch, consultation.id)
            used = (cpu_seconds(hub_pids) - before[0], cpu_seconds(pg_pids) - before[1],
                    time.process_time() - before[2])
            stored = sum(len(t[2]) for t in devices)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:       # every process caught up (NOTIFY)
                bodies = {h.results()["revision"] for h in hubs}
                if len(bodies) == 1:
                    break
                time.sleep(0.1)
            same = len({str(h.results()) for h in hubs}) == 1
        finally:
            for hub in hubs:
                hub.stop()
    rate = stored / elapsed
    p95 = percentile(reads, 95) * 1e3
    print(f"hub_scale[{n} process{'es' if n > 1 else ''}]: {args.devices} tablets x "
          f"{args.events} events: {stored} in {elapsed:.2f} s = {rate:,.0f} events/s; results "
          f"p95 {p95:.1f} ms over {len(reads)} reads; same results from every process: {same}",
          flush=True)
    print(f"hub_scale[{n}]: CPU seconds in those {elapsed:.2f} s: hub processes {used[0]:.2f}, "
          f"PostgreSQL {used[1]:.2f} (every session of the cluster), this client {used[2]:.2f}; "
          f"{os.cpu_count()} cores = {os.cpu_count() * elapsed:.2f} CPU-seconds available",
          flush=True)
    return rate, p95


def log_cost(database_url: str, args, consultation) -> None:
    """What the results log costs one process: the same batches ingested in this process by a
    hub on PostgreSQL that writes and follows the log, and by one that keeps its tallies alone
    (as before several processes: `units.shared` off), measured in turn."""
    from server.hub import Hub
    from server.settings import Settings
    from tests.unit.conftest import enroll_tablet
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, shared in (("alone", False), ("with the results log", True),
                              ("alone again", False)):
            hub = Hub(Settings.from_env({}, data_dir=Path(tmp) / label,
                                        database_url=database_url))
            try:
                if hub.consultation(consultation.id) is None:
                    hub.import_bundle(DEMO_BUNDLE_DIR)
                hub.units.shared = shared
                devices = []
                for i in range(4):
                    store, device = enroll_tablet(hub)
                    record_votes(store, consultation, args.events // 5 + 1, seed=i,
                                 with_changes=False)
                    devices.append((device, [e.envelope(store.device_id)
                                             for e in store.pending_events(limit=args.events)]))
                    store.close()
                start = time.perf_counter()
                threads = [threading.Thread(target=lambda d=d, e=e: [
                    hub.ingest(d, e[k:k + 50]) for k in range(0, len(e), 50)])
                    for d, e in devices]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                rates[label] = sum(len(e) for _, e in devices) / (time.perf_counter() - start)
            finally:
                hub.close()
    base = (rates["alone"] + rates["alone again"]) / 2
    print(f"hub_scale[log cost]: one process, batches of 50: alone {rates['alone']:,.0f} and "
          f"{rates['alone again']:,.0f} events/s, with the results log "
          f"{rates['with the results log']:,.0f} events/s "
          f"(x{rates['with the results log'] / base:.2f})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--devices", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--processes", default="1,2,4")
    args = parser.parse_args()
    args.devices = args.devices or (6 if args.quick else 20)
    args.events = args.events or (100 if args.quick else 500)
    base = os.environ.get("PIAZZETTA_TEST_POSTGRES_URL")
    if not base:
        print("hub_scale: skipped (PIAZZETTA_TEST_POSTGRES_URL is not set: several processes "
              "need PostgreSQL)")
        return 0
    import psycopg
    from sqlalchemy.engine import make_url
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    url = make_url(base)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    figures = {}
    for n in [int(x) for x in args.processes.split(",")]:
        name = "piazzetta_scale_" + uuid.uuid4().hex[:8]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            figures[n] = measure(n, url.set(database=name).render_as_string(
                hide_password=False), args, consultation)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    name = "piazzetta_scale_" + uuid.uuid4().hex[:8]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        log_cost(url.set(database=name).render_as_string(hide_password=False), args,
                 consultation)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    first = min(figures)
    for n, (rate, p95) in sorted(figures.items()):
        if n != first:
            print(f"hub_scale: {n} against {first} process: ingest x{rate / figures[first][0]:.2f},"
                  f" results p95 x{p95 / figures[first][1]:.2f}")
    print(f"hub_scale: {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
