"""Time to build and sign a meeting's closing record (issue 30) over 50,000 events, on a hub in
this process (SQLite); baseline in the same run: reading the same events' rows and hashing them
(what any record over them costs at least). Tablets' real events: ballots started, answered
(three questions) and closed, with the meeting named, pushed through the hub's ingest.

    python bench/closing_make.py [--quick] [--events 50000]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from app.bundle import load_bundle  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from server import closing, db  # noqa: E402
from server.hub import Hub  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.unit.conftest import enroll_tablet  # noqa: E402

MEETING = "m-menton-1203"
EVENTS_PER_BALLOT = 5       # started, three answers, closed


def fill(hub, consultation, events: int, tablets: int = 4) -> int:
    """`events` events of the meeting from `tablets` tablets, pushed in batches of 500."""
    pushed = 0
    per_tablet = events // tablets // EVENTS_PER_BALLOT
    for _ in range(tablets):
        store, device = enroll_tablet(hub)
        for i in range(per_tablet):
            ballot = store.start_ballot(consultation, site_id=device["site_id"],
                                        meeting_id=MEETING)
            store.record_answer(consultation, ballot, "q-ticket", ("yes", "no")[i % 2])
            store.record_answer(consultation, ballot, "q-cooperation", 1 + i % 5)
            store.record_answer(consultation, ballot, "q-ticket", ("no", "yes")[i % 2])
            store.close_ballot(ballot)
        while True:
            envelopes = [e.envelope(store.device_id) for e in store.pending_events(limit=500)]
            if not envelopes:
                break
            results = hub.ingest(device, envelopes)
            store.mark_acknowledged([r["id"] for r in results])
            pushed += len(envelopes)
        store.close()
    return pushed


def baseline(hub) -> tuple[float, int]:
    """Read the same event rows (every event of the meeting's tablets: all of them are the
    meeting's here), in order, and hash their IDs and payloads."""
    start = time.perf_counter()
    e = db.events.c
    digest = hashlib.sha256()
    n = 0
    with hub.engine.connect() as conn:
        for row in conn.execute(select(e.id, e.payload).order_by(e.device_id, e.seq)):
            digest.update(row.id.encode() + b"\n" + row.payload.encode())
            n += 1
    return time.perf_counter() - start, n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args()
    events = args.events or (5_000 if args.quick else 50_000)
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        hub = Hub(Settings.from_env({}, data_dir=Path(tmp) / "hub"))
        try:
            hub.import_bundle(DEMO_BUNDLE_DIR)
            t0 = time.perf_counter()
            pushed = fill(hub, consultation, events)
            t_fill = time.perf_counter() - t0
            t_base, read = baseline(hub)
            t0 = time.perf_counter()
            row = closing.make_for(hub, meeting_id=MEETING)
            t_make = time.perf_counter() - t0
            t0 = time.perf_counter()
            record = closing.verify_document(row["document"])
            t_verify = time.perf_counter() - t0
        finally:
            hub.close()
    print(f"closing_make: {pushed:,} events pushed in {t_fill:.1f} s (set-up)")
    print(f"closing_make: baseline, read and hash the {read:,} events' rows: {t_base:.3f} s")
    print(f"closing_make: build + sign + store the closing over {record['events']['count']:,} "
          f"events ({record['ballots']['per_channel']['tablet']:,} ballots): {t_make:.3f} s "
          f"(ratio to baseline {t_make / t_base:.2f}x); document {len(row['document']):,} "
          f"bytes; verify {t_verify * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
