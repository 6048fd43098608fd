"""A room hub forwarding a backlog to the central hub, on loopback, against the same events
pushed by the tablets straight to a central hub, in the same run.

    python bench/relay_forward.py [--quick] [--events N] [--votes N]

1. Baseline: five tablets (the sync client's push_pending, batches of 500) push N events
   (50,000 by default) to a central hub: events per second.
2. The same tablets enroll with a room hub (a second `python -m server`) and push the same
   events there (not timed). The room hub is then enrolled with a fresh central hub
   (`python -m server upstream enroll`) and its forwarder sends the backlog: events per second
   from the enrollment (the forwarder wakes within its 1 s interval) to the last
   acknowledgement, the room quiet (no tablet pushing). Target (issue 22): at least 0.9× the
   tablets' own push (issue 15 sought a tie).
3. Then a second backlog (half as many) reaches the room while the central hub is away; it
   comes back and, while the room forwards, a tablet votes and a projector poller reads the room hub (the
   measurement of bench/projector_latency.py; only votes recorded while it forwards count),
   and the projector's results poll is timed: p95 against the same measurements on the room
   before it forwards (same run), and against the README's figure for a quiet hub (453 ms).
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.bundle import load_bundle  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.store import Store  # noqa: E402
from bench._common import summary_ms  # noqa: E402
from server.upstream import LIVE_ROOM  # noqa: E402
from bench.projector_latency import Watch, measure  # noqa: E402
from sync.display import HubProjectorSource  # noqa: E402
from sync.results_source import ResultsPoller  # noqa: E402
from sync.service import SyncService  # noqa: E402
from sync.enroll import client_for, enroll  # noqa: E402
from sync.worker import push_pending  # noqa: E402
from tests.integration.conftest import HubProcess, start_hub  # noqa: E402
from tests.integration.conftest import record_votes  # noqa: E402

TABLETS = 5
# Issue 22: forwarding (with its card and content steps apart) stays at least 0.9× the tablets'
# own push to the central hub (issue 15 sought a tie: the central hub's ingest bounds both).
TARGET = 0.9
README_P95_MS = 453


def acked(room: HubProcess) -> int:
    conn = sqlite3.connect(f"file:{room.data_dir / 'hub.sqlite3'}?mode=ro", uri=True,
                           timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM upstream_acks").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


# The backlog's ballots (tests' record_votes) answer q-ticket, q-cooperation and q-colour: the
# votes timed while forwarding answer another question, so that only they move its count.
TIMED_QUESTION, TIMED_OPTION = "q-themes", "infrastructure"


class ThemeWatch(Watch):
    """bench/projector_latency.py's Watch, on the timed question's option."""

    def deliver(self, poll):
        if poll.snapshot is None:
            return
        n = poll.snapshot.questions.get(TIMED_QUESTION, {}).get("counts", {}).get(
            TIMED_OPTION, 0)
        with self.cond:
            self.yes = n
            self.cond.notify_all()


def votes_while(room: HubProcess, consultation, folder: Path, forwarding: threading.Event,
                minimum: int) -> list[float]:
    """Votes on a tablet of the room, one at a time, each timed to the room's projector poller
    delivering it (bench/projector_latency.py's measure), for as long as `forwarding` is set
    and at least `minimum` votes: only votes recorded while the room forwards count."""
    store = Store.open(folder)
    enroll(store, room.url, room.code())
    sync = SyncService(folder, push_delay=0.2, poll_interval=30.0)
    sync.start()
    watch = ThemeWatch()
    poller = ResultsPoller(HubProjectorSource(room.url, consultation.id), watch.deliver,
                           interval=0.25).start()
    latencies = []
    try:
        base = watch.wait_for(0) and watch.yes
        i = 0
        while forwarding.is_set() or i < minimum:
            i += 1
            during = forwarding.is_set()
            ballot = store.start_ballot(consultation)
            store.record_answer(consultation, ballot, TIMED_QUESTION, [TIMED_OPTION])
            recorded = time.monotonic()
            store.close_ballot(ballot)
            sync.push_soon()
            seen = watch.wait_for(base + i)
            if seen is not None and during:
                latencies.append(seen - recorded)
            time.sleep(0.05)
    finally:
        poller.stop()
        sync.stop()
        store.close()
    return latencies


def polls_while(url: str, consultation_id: str, active: threading.Event | None,
                count: int) -> list[float]:
    """Round trips of the projector's results poll (200 with its body)."""
    import requests
    session = requests.Session()
    target = f"{url}/api/v1/consultations/{consultation_id}/results"
    times = []
    while (active.is_set() if active is not None else len(times) < count):
        start = time.perf_counter()
        session.get(target, timeout=10)
        times.append(time.perf_counter() - start)
        time.sleep(0.01)
    session.close()
    return times


def push_all(stores: list[Store]) -> None:
    for store in stores:
        client = client_for(store)
        try:
            push_pending(store, client, 500)
        finally:
            client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 events: a CI smoke run")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--votes", type=int, default=None,
                        help="votes measured on the room's projector while it forwards")
    args = parser.parse_args()
    events = args.events or (2000 if args.quick else 50_000)
    votes = args.votes or (10 if args.quick else 60)
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        direct = start_hub(tmp / "central-direct")
        stores = []
        try:
            for n in range(TABLETS):
                store = Store.memory()
                enroll(store, direct.url, direct.code())
                record_votes(store, consultation, events // (5 * TABLETS), seed=n,
                             with_changes=False)
                stores.append(store)
            total = sum(s.outbox_counts()["pending"] for s in stores)
            start = time.perf_counter()
            push_all(stores)
            direct_s = time.perf_counter() - start
        finally:
            direct.stop()
        print(f"baseline: {TABLETS} tablets push {total} events to the central hub   "
              f"{direct_s:6.2f} s  {total / direct_s:8.0f} events/s")

        central = start_hub(tmp / "central")
        room = HubProcess(tmp / "room")
        room.env.update({"PIAZZETTA_HUB_UPSTREAM_INTERVAL": "1",
                         "PIAZZETTA_HUB_UPSTREAM_BACKOFF": "1"})
        imported = room.cli("import-bundle", str(DEMO_BUNDLE_DIR))
        assert imported.returncode == 0, imported.stderr
        room.start()
        try:
            for store in stores:
                enroll(store, room.url, room.code())
            push_all(stores)
            code = central.admin("POST", "/enrollment-codes", json={
                "site_id": "menton-mediatheque", "minutes": 10, "kind": "relay"}).json()["code"]
            # Baseline in the same run: the room's projector while it does not forward.
            quiet = measure(room, consultation, tmp / "voter-quiet", votes, 0.2, 0.25,
                            seed=4)[0]
            quiet_polls = polls_while(room.url, consultation.id, None, 300)
            # A room no tablet pushed to for LIVE_ROOM seconds forwards at full speed (while
            # tablets push, the forwarder pauses between batches: server/upstream.py).
            time.sleep(LIVE_ROOM)
            done = room.cli("upstream", "enroll", "--url", central.url, "--code", code)
            assert done.returncode == 0, done.stderr
            start = time.perf_counter()      # enrolled: the forwarder's next round sends
            first = None
            while (sent := acked(room)) < total:
                if first is None and sent:
                    first = (time.perf_counter(), sent)
                time.sleep(0.02)
            relay_s = time.perf_counter() - start
            # Once the first batch is acknowledged (one batch only: the whole time).
            steady = ((total - first[1]) / (time.perf_counter() - first[0])
                      if first and first[1] < total else total / relay_s)
            # A second backlog (half as many events) reaches the room while the central hub is
            # away; then it comes back, and while the room forwards, a tablet votes and the
            # projector polls the room.
            for n, store in enumerate(stores):
                record_votes(store, consultation, events // (10 * TABLETS), seed=10 + n,
                             with_changes=False)
            second = sum(s.outbox_counts()["pending"] for s in stores)
            central.stop()
            push_all(stores)
            central.start()
            forwarding = threading.Event()
            forwarding.set()
            during: dict[str, list] = {}
            voter = threading.Thread(target=lambda: during.__setitem__("votes", votes_while(
                room, consultation, tmp / "voter", forwarding, 3)))
            poller = threading.Thread(target=lambda: during.__setitem__("polls", polls_while(
                room.url, consultation.id, forwarding, 0)))
            voter.start()
            poller.start()
            while acked(room) < total + second:
                time.sleep(0.05)
            forwarding.clear()
            voter.join()
            poller.join()
        finally:
            room.stop()
            central.stop()
            for store in stores:
                store.close()
        print(f"room hub forwards the same {total} events to a central hub      "
              f"{relay_s:6.2f} s  {total / relay_s:8.0f} events/s from its enrollment "
              f"(the forwarder wakes within 1 s); {steady:8.0f} events/s once sending")
        ratio = steady / (total / direct_s)
        # A backlog that fits in one batch (the --quick smoke) times the forwarder's wake and
        # its first pull, not forwarding: the target is judged on a real backlog only.
        one_batch = first is None or first[1] >= total
        verdict = ("not judged: the whole backlog went in one batch, run without --quick"
                   if one_batch else "met" if ratio >= TARGET else "NOT met")
        print(f"ratio relay / tablets direct: {ratio:.2f} once sending "
              f"({verdict}; target ≥ {TARGET}); "
              f"{(total / relay_s) / (total / direct_s):.2f} from the enrollment")
        for name, before, now in (("vote → room projector", quiet, during.get("votes")),
                                  ("room projector's results poll", quiet_polls,
                                   during.get("polls"))):
            if not before or not now:
                continue
            a, b = summary_ms(before), summary_ms(now)
            print(f"{name}: quiet n={len(before)} p50 {a['p50_ms']:.0f} ms p95 "
                  f"{a['p95_ms']:.0f} ms | while forwarding n={len(now)} p50 "
                  f"{b['p50_ms']:.0f} ms p95 {b['p95_ms']:.0f} ms | ratio p95 "
                  f"{b['p95_ms'] / a['p95_ms']:.2f}")
        if during.get("votes"):
            p95 = summary_ms(during["votes"])["p95_ms"]
            n = len(during["votes"])
            verdict = (f"not judged on {n} votes, run without --quick" if n < 20
                       else "under" if p95 <= README_P95_MS else "OVER")
            print(f"vote → projector p95 while forwarding {p95:.0f} ms against the README's "
                  f"{README_P95_MS} ms: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
