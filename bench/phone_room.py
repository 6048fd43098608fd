"""A room where residents answer from their own phones (issue 29), measured on one machine:

    python bench/phone_room.py [--quick] [--phones 300] [--seconds 60] [--tablets 4]

- a room hub, `python -m server room` on 127.0.0.1 over its own TLS (the room kit of
  tests/integration/roomkit.py), the demo consultation in it, q-ticket opened to phones (a
  display control, as a facilitator's tablet sends it);
- `--tablets` tablets (real stores enrolled from the room's QR, pinning its certificate) each
  recording ballots and pushing them (the sync client's push_pending) in a loop the whole time;
- `--phones` phones arriving evenly within `--seconds`, each a client of its own (its cookie,
  its TLS connection, the room's certificate trusted): the question's page, then the answer
  (open mode: one answer per phone), as chromium would send the form;
- the projector's feed: sync.display.projector_results, the client a projector runs (the
  results stream, pinned), without a window; each delivery's phone count of q-ticket, timed.

Figures: page p95 (every GET and POST of a phone) and its ratio to the same page's p95 on the
quiet room (measured first, in the same run); phone answer → projector p95: from the moment
a phone sends its answer to the first stream delivery whose phone count includes it (the
count reaching the number of answers that had been sent, and succeeded, by the time this one
was answered: an upper bound, never an underestimate). Counted once: the room's results must
hold every phone answer once in the phone channel and every tablet answer once in the tablet
channel (checked, printed). Targets (issue 29): page p95 ≤ 300 ms, answer → projector p95
≤ 1 s. Times are printed, never asserted. `--quick`: 20 phones within 10 s, 2 tablets.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PIAZZETTA_HUB_RATE_PHONE", "1000000/minute")

import requests  # noqa: E402

from app.bundle import load_bundle  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.store import Store  # noqa: E402
from bench._common import summary_ms  # noqa: E402
from sync.display import projector_results  # noqa: E402
from sync.enroll import client_for  # noqa: E402
from sync.service import SyncService  # noqa: E402
from sync.worker import push_pending  # noqa: E402
from tests.integration.roomkit import RoomKit  # noqa: E402

CONSULTATION, QUESTION = "alpimed-2030", "q-ticket"
PAGE_TARGET_MS, PROJECTOR_TARGET_MS = 300, 1000


class ProjectorWatch:
    """The phone count of q-ticket as the projector's feed delivers it, with its times."""

    def __init__(self):
        self.cond = threading.Condition()
        self.seen: list[tuple[float, int]] = []

    def deliver(self, poll) -> None:
        if poll.snapshot is None:
            return
        result = poll.snapshot.questions.get(QUESTION) or {}
        n = int(((result.get("channels") or {}).get("phone") or {}).get("ballots") or 0)
        with self.cond:
            self.seen.append((time.monotonic(), n))
            self.cond.notify_all()

    def first_at_least(self, n: int, after: float, wait: float) -> float | None:
        deadline = time.monotonic() + wait
        with self.cond:
            while True:
                found = next((t for t, c in self.seen if c >= n and t >= after), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


class Tablet(threading.Thread):
    """A tablet enrolled with the room: ballots recorded and pushed until told to stop."""

    def __init__(self, room: RoomKit, folder: Path, demo, index: int):
        super().__init__(name=f"tablet-{index}", daemon=True)
        status = SyncService(folder).enroll_from_qr(room.qr())
        assert status.enrolled, status
        self.folder = folder      # its store is opened in its own thread (sqlite3's rule)
        self.demo = demo
        self.halt = threading.Event()
        self.answers = 0
        self.errors = 0

    def run(self) -> None:
        self.store = Store.open(self.folder)
        client = client_for(self.store)
        try:
            while not self.halt.is_set():
                for _ in range(3):
                    ballot = self.store.start_ballot(self.demo)
                    self.store.record_answer(self.demo, ballot, QUESTION, "yes")
                    self.store.record_answer(self.demo, ballot, "q-cooperation", 4)
                    self.store.close_ballot(ballot)
                    self.answers += 1
                try:
                    push_pending(self.store, client)
                except Exception:
                    self.errors += 1
                self.halt.wait(0.2)
            push_pending(self.store, client)     # what is left, before the count
        finally:
            client.close()
            self.store.close()


def phone(room: RoomKit, lang: str) -> tuple[list[float], float | None, float | None, bool]:
    """One phone: the page, then the answer. (page times, answer sent, answer returned, ok)."""
    session = requests.Session()
    session.headers["Accept-Language"] = lang
    times = []
    try:
        start = time.perf_counter()
        page = session.get(f"{room.url}/v/{CONSULTATION}", timeout=60, verify=room.cert)
        times.append(time.perf_counter() - start)
        if page.status_code != 200 or 'value="no"' not in page.text:
            return times, None, None, False
        sent = time.monotonic()
        start = time.perf_counter()
        answer = session.post(f"{room.url}/v/{CONSULTATION}/{QUESTION}",
                              data={"lang": lang, "value": "no"}, timeout=60,
                              verify=room.cert)
        times.append(time.perf_counter() - start)
        return times, sent, time.monotonic(), answer.status_code == 200
    finally:
        session.close()


def quiet_pages(room: RoomKit, n: int) -> list[float]:
    session = requests.Session()      # (a per-request `verify`: REQUESTS_CA_BUNDLE wins
    times = []                          # over a session's)
    for _ in range(n):
        start = time.perf_counter()
        session.get(f"{room.url}/v/{CONSULTATION}", timeout=60, verify=room.cert)
        times.append(time.perf_counter() - start)
    session.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--phones", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--tablets", type=int, default=4)
    args = parser.parse_args()
    if args.quick:
        args.phones, args.seconds, args.tablets = 20, 10.0, 2
    demo = load_bundle(DEMO_BUNDLE_DIR)
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        room = RoomKit(tmp / "room")
        room.env["PIAZZETTA_HUB_RATE_PHONE"] = "1000000/minute"
        room.env["PIAZZETTA_HUB_RATE_PUBLIC"] = "1000000/minute"
        room.start()
        watch = ProjectorWatch()
        poller = None
        tablets: list[Tablet] = []
        try:
            answer = requests.put(f"{room.url}/api/v1/consultations/{CONSULTATION}/display",
                                  json={"phones": [QUESTION], "phones_cards": False},
                                  headers={"Authorization": f"Bearer {room.admin_token}"},
                                  verify=room.cert, timeout=30)
            assert answer.status_code == 200, answer.text
            baseline = quiet_pages(room, 30)
            poller = projector_results(demo, hub_url=f"{room.url}#pin={room.pin}")(
                watch.deliver)
            tablets = [Tablet(room, tmp / f"tablet-{i}", demo, i) for i in range(args.tablets)]
            for tablet in tablets:
                tablet.start()
            time.sleep(1.0)
            pages: list[float] = []
            outcomes: list[tuple[float, float, bool]] = []
            lock = threading.Lock()
            gap = args.seconds / max(1, args.phones)
            started = time.monotonic()

            def one(i: int) -> None:
                delay = started + i * gap - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                times, sent, back, ok = phone(room, "fr" if i % 2 else "it")
                with lock:
                    pages.extend(times)
                    if sent is not None:
                        outcomes.append((sent, back, ok))

            with ThreadPoolExecutor(max_workers=min(64, args.phones)) as pool:
                list(pool.map(one, range(args.phones)))
            elapsed = time.monotonic() - started
            # Answer → projector: the first delivery whose count includes this answer.
            latencies, lost = [], 0
            good = sorted((s, b) for s, b, ok in outcomes if ok)
            for sent, back in good:
                needed = sum(1 for s, _b in good if s <= back)
                seen = watch.first_at_least(needed, sent, wait=20.0)
                if seen is None:
                    lost += 1
                else:
                    latencies.append(seen - sent)
            for tablet in tablets:
                tablet.halt.set()
            for tablet in tablets:
                tablet.join(60)
            results = requests.get(f"{room.url}/api/v1/consultations/{CONSULTATION}/results",
                                   verify=room.cert, timeout=30).json()
        finally:
            if poller is not None:
                poller.stop()
            for tablet in tablets:
                tablet.halt.set()
            room.stop()
    ticket = results["questions"][QUESTION]["channels"]
    phone_answers = int((ticket.get("phone") or {}).get("ballots") or 0)
    tablet_answers = int((ticket.get("tablet") or {}).get("ballots") or 0)
    ok = sum(1 for _s, _b, good_ in outcomes if good_)
    recorded = sum(t.answers for t in tablets)
    print(f"{args.phones} phones in {elapsed:.1f} s ({ok} answers counted as sent), "
          f"{args.tablets} tablets pushing ({recorded} ballots, "
          f"{sum(t.errors for t in tablets)} push errors)")
    print(f"counted once: phone channel {phone_answers} (sent {ok}) "
          f"{'OK' if phone_answers == ok else 'MISMATCH'}; tablet channel {tablet_answers} "
          f"(recorded {recorded}) {'OK' if tablet_answers == recorded else 'MISMATCH'}")
    quiet = summary_ms(baseline)
    loaded = summary_ms(pages)
    print(f"page, quiet room (baseline): p50 {quiet['p50_ms']:.0f} ms  p95 "
          f"{quiet['p95_ms']:.0f} ms")
    print(f"page, {args.phones} phones + {args.tablets} tablets: p50 {loaded['p50_ms']:.0f} ms"
          f"  p95 {loaded['p95_ms']:.0f} ms  p99 {loaded['p99_ms']:.0f} ms  "
          f"(target p95 ≤ {PAGE_TARGET_MS} ms)")
    print(f"ratio loaded / quiet page p95: {loaded['p95_ms'] / quiet['p95_ms']:.2f}")
    if latencies:
        feed = summary_ms(latencies)
        print(f"phone answer → projector (results stream, the projector's client): p50 "
              f"{feed['p50_ms']:.0f} ms  p95 {feed['p95_ms']:.0f} ms  "
              f"(target p95 ≤ {PROJECTOR_TARGET_MS} ms; {lost} never seen)")
    else:
        print(f"phone answer → projector: nothing seen ({lost} lost)")
    print(f"load after: {os.getloadavg()[0]:.2f} (1 min)")
    return 0 if phone_answers == ok and tablet_answers == recorded and not lost else 1


if __name__ == "__main__":
    sys.exit(main())
