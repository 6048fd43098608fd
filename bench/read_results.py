"""Reading results from a hub holding 100,000 ballots: p50/p95 latency of
GET /api/v1/consultations/{id}/results over loopback (with and without If-None-Match), against
the baseline of recomputing the tallies by rescanning every stored answer, in the same run.
Target (issue 4): p95 <= 10 ms.

    python bench/read_results.py [--quick] [--ballots N] [--reads N]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.tally import new_tally  # noqa: E402
from server import db  # noqa: E402
from app.canonical import canonical_json  # noqa: E402
from server.hub import Hub  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.integration.conftest import HubProcess  # noqa: E402


def fill(hub: Hub, ballots: int) -> int:
    """Store `ballots` ballots of four answers each straight into the hub's tables."""
    consultation = hub.consultation("alpimed-2030")
    rng = random.Random(1)
    colour_projects = consultation.question("q-colour").projects
    answers = 0
    for start in range(0, ballots, 5000):
        ballot_rows, answer_rows = [], []
        for _ in range(min(5000, ballots - start)):
            ballot_id = uuid.uuid4().hex
            ballot_rows.append({"id": ballot_id, "consultation_id": consultation.id,
                                "consultation_version": 1, "device_id": "bench",
                                "site_id": None, "meeting_id": None, "mode": "open",
                                "closed_reason": "finished"})
            values = {"q-ticket": rng.choice(["yes", "no", "abstain"]),
                      "q-cooperation": rng.randint(1, 5),
                      "q-colour": {p: rng.choice(["green", "orange", "red"])
                                   for p in colour_projects[:3]},
                      "q-themes": [consultation.question("q-themes").options[0].id]}
            for seq, (question_id, value) in enumerate(values.items(), start=1):
                answer_rows.append({"ballot_id": ballot_id, "question_id": question_id,
                                    "consultation_id": consultation.id, "seq": seq,
                                    "event_id": uuid.uuid4().hex,
                                    "value": canonical_json(value)})
        with hub.writer.begin() as conn:
            conn.execute(db.ballots.insert(), ballot_rows)
            conn.execute(db.ballot_answers.insert(), answer_rows)
        answers += len(answer_rows)
    return answers


def rescan(hub: Hub) -> float:
    """The baseline: tallies recomputed from every stored answer, as a naive hub would."""
    consultation = hub.consultation("alpimed-2030")
    start = time.perf_counter()
    tallies = {q.id: new_tally(consultation, q) for q in consultation.questions}
    with hub.engine.connect() as conn:
        for question_id, value in conn.execute(
                select(db.ballot_answers.c.question_id, db.ballot_answers.c.value)
                .where(db.ballot_answers.c.consultation_id == consultation.id)):
            tallies[question_id].add(json.loads(value))
    json.dumps({q: t.result() for q, t in tallies.items()})
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ballots", type=int, default=None)
    parser.add_argument("--reads", type=int, default=None)
    args = parser.parse_args()
    ballots = args.ballots or (5_000 if args.quick else 100_000)
    reads = args.reads or (100 if args.quick else 1000)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "hub"
        hub = Hub(Settings.from_env(data_dir=data_dir))
        hub.import_bundle(DEMO_BUNDLE_DIR)
        t0 = time.perf_counter()
        answers = fill(hub, ballots)
        fill_time = time.perf_counter() - t0
        rescans = [rescan(hub) for _ in range(3)]
        hub.close()
        process = HubProcess(data_dir)
        t0 = time.perf_counter()
        process.start()
        start_time = time.perf_counter() - t0
        try:
            url = f"{process.url}/api/v1/consultations/alpimed-2030/results"
            session = requests.Session()
            first = session.get(url, timeout=30)
            assert first.status_code == 200 and first.json()["ballots"] == ballots, first.text
            etag = first.headers["ETag"]
            full, conditional = [], []
            for _ in range(reads):
                t = time.perf_counter()
                response = session.get(url, timeout=30)
                full.append(time.perf_counter() - t)
                assert response.status_code == 200
                t = time.perf_counter()
                response = session.get(url, timeout=30, headers={"If-None-Match": etag})
                conditional.append(time.perf_counter() - t)
                assert response.status_code == 304
        finally:
            process.stop()
    ms = lambda s: s * 1000  # noqa: E731
    print(f"read_results: {ballots:,} ballots, {answers:,} answers stored "
          f"(filled in {fill_time:.1f} s; hub start with tally rebuild {start_time:.2f} s)")
    print(f"read_results: GET results 200: p50 {ms(statistics.median(full)):.2f} ms, "
          f"p95 {ms(percentile(full, 0.95)):.2f} ms ({len(first.content):,} bytes)")
    print(f"read_results: GET results If-None-Match 304: p50 "
          f"{ms(statistics.median(conditional)):.2f} ms, p95 {ms(percentile(conditional, 0.95)):.2f} ms")
    print(f"read_results: baseline rescan of every answer: {ms(min(rescans)):.0f} ms; "
          f"ratio rescan / p95 read = {min(rescans) / percentile(full, 0.95):.0f}x; "
          f"target p95 <= 10 ms: {'met' if percentile(full, 0.95) <= 0.010 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
