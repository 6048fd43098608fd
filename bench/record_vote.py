"""How long one durable answer takes: `python bench/record_vote.py [--answers N] [--quick]`.

Records N answers (default 2,000) through Store.record_answer — validation, outbox event,
answer row, one fsynced commit — and, in the same run and on the same disk, the same number
of bare sqlite3 INSERT + COMMIT with the same pragmas (WAL, synchronous=FULL). The two are
interleaved in blocks so that a noisy neighbour hits both alike. Prints p50/p99 of each and
the ratio. Targets (foundation issue): ratio ≤ 1.3 and p99 ≤ 5 ms on a 2-core machine.
"""
import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from _common import summary_ms

from app.bundle import load_bundle
from app.paths import DEMO_BUNDLE_DIR
from app.store import Store

ANSWERS = [("q-colour", {"p-bus": "green", "p-market": "orange"}), ("q-ticket", "yes"),
           ("q-cooperation", 4), ("q-themes", ["health", "economy"]),
           ("q-services", ["s-doctor", "s-transport"]),
           ("q-budget", {"p-bus": 240000, "p-market": 60000}),
           ("q-missing", "Un bus le soir entre les villages, et des médecins.")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="a few hundred answers (CI smoke)")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases")
    args = parser.parse_args()
    total = 210 if args.quick else args.answers
    consultation = load_bundle(DEMO_BUNDLE_DIR)

    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        store = Store.open(Path(folder) / "store")
        bare = sqlite3.connect(str(Path(folder) / "bare.sqlite3"), isolation_level=None)
        bare.execute("PRAGMA journal_mode = WAL")
        bare.execute("PRAGMA synchronous = FULL")
        bare.execute("CREATE TABLE answers (id INTEGER PRIMARY KEY, ballot TEXT, question TEXT,"
                     " value TEXT)")
        store_times, bare_times = [], []
        ballot = None
        block = 50
        done = 0
        while done < total:
            n = min(block, total - done)
            for i in range(done, done + n):
                question_id, value = ANSWERS[i % len(ANSWERS)]
                if i % len(ANSWERS) == 0:
                    ballot = store.start_ballot(consultation)
                t0 = time.perf_counter()
                store.record_answer(consultation, ballot, question_id, value)
                store_times.append(time.perf_counter() - t0)
            for i in range(done, done + n):
                question_id, value = ANSWERS[i % len(ANSWERS)]
                t0 = time.perf_counter()
                bare.execute("BEGIN")
                bare.execute("INSERT INTO answers(ballot, question, value) VALUES (?, ?, ?)",
                             ("b", question_id, json.dumps(value)))
                bare.execute("COMMIT")
                bare_times.append(time.perf_counter() - t0)
            done += n
        assert store.db["answers"].count > 0 and store.integrity_check() == "ok"
        store.close()
        bare.close()

    s, b = summary_ms(store_times), summary_ms(bare_times)
    print(f"record_vote: {total} durable answers (WAL, synchronous=FULL)")
    print(f"  Store.record_answer   p50 {s['p50_ms']:.3f} ms   p99 {s['p99_ms']:.3f} ms"
          f"   mean {s['mean_ms']:.3f} ms")
    print(f"  bare INSERT + COMMIT  p50 {b['p50_ms']:.3f} ms   p99 {b['p99_ms']:.3f} ms"
          f"   mean {b['mean_ms']:.3f} ms")
    print(f"  ratio (p50) {s['p50_ms'] / b['p50_ms']:.2f}   ratio (mean) "
          f"{s['mean_ms'] / b['mean_ms']:.2f}   target: ratio ≤ 1.3, p99 ≤ 5 ms")


if __name__ == "__main__":
    main()
