"""A flood of writes on a tablet (app/store/announce.py → sync/worker.py's push window) against
a real hub process: the store announces every commit, yet the tablet pushes at most once per
window, never once per event nor once per round trip, and delivers everything."""
from __future__ import annotations

import time

from app.store import Store
from sync.client import HubClient
from sync.enroll import enroll
from sync.service import SyncService

from .conftest import record_votes
from .test_sync_hub import wait_for


def test_a_flood_of_writes_is_pushed_once_per_window_not_once_per_event(hub, demo, tmp_path,
                                                                        monkeypatch):
    pushes = []
    real_push = HubClient.push

    def counted(self, envelopes, *args, **kwargs):      # the real request, counted
        pushes.append((time.monotonic(), service._worker.cycles, len(envelopes)))  # noqa: SLF001
        return real_push(self, envelopes, *args, **kwargs)
    monkeypatch.setattr(HubClient, "push", counted)
    store = Store.open(tmp_path / "t")
    enroll(store, hub.url, hub.code())
    window = 0.25
    service = SyncService(tmp_path / "t", push_delay=window, poll_interval=600.0,
                          content_interval=600.0)
    service.start()
    try:
        assert wait_for(lambda: service._worker.cycles >= 1)       # noqa: SLF001
        worker = service._worker                                     # noqa: SLF001
        before = worker.cycles
        pushes.clear()
        started = time.monotonic()
        written = 0
        while time.monotonic() - started < 2.0:
            record_votes(store, demo, 5, seed=written)
            written += 5
        took = time.monotonic() - started
        assert wait_for(lambda: store.outbox_counts()["pending"] == 0, timeout=60)
        events = hub.device_events(store.device_id)
        cycles = worker.cycles - before
        requests = len(pushes)
        print("pushes (s after the first write, events):",
              [(round(at - started, 2), n) for at, _cycle, n in pushes])
        print(f"{written} ballots, {events} events in {took:.1f} s: {cycles} cycles, "
              f"{requests} requests (window {window} s)")
        assert events >= 10 * written // 5
        # A push takes what is pending and ends with its first batch that is not full: what
        # was written meanwhile waits for the next window, not a request per round trip.
        by_cycle: dict[int, list[int]] = {}
        for _at, cycle, n in pushes:
            by_cycle.setdefault(cycle, []).append(n)
        for sizes in by_cycle.values():
            assert all(n == 500 for n in sizes[:-1]), by_cycle
        assert events >= 10 * requests
    finally:
        service.stop()
        store.close()
