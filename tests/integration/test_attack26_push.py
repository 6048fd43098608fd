"""Issue 26 under attack: an enrolled tablet whose every write is announced and pushed
(app/store/announce.py → sync/worker.py) while the way to the hub answers 429 or 503 (a proxy's
rate limit, a full hub) — it must back off, never knock once per write — and a tablet process
killed between a write's commit and its push: nothing lost, nothing twice. A real hub process
behind tests/integration/faultproxy.py; a real tablet process killed with SIGKILL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from app.store import Store
from sync import protocol as p
from sync.enroll import enroll
from sync.service import SyncService

from .conftest import record_votes
from .faultproxy import FaultProxy
from .test_sync_hub import wait_for


@pytest.mark.parametrize("fault", ["http429", "http503"])
def test_writes_during_429_or_503_back_off_then_go_once(hub, demo, tmp_path, fault):
    store = Store.open(tmp_path / "t")
    enroll(store, hub.url, hub.code())
    proxy = FaultProxy(hub.port)
    store.set_setting(p.HUB_URL, proxy.url)
    proxy.chaos(1.0, (fault,))
    seen = []
    service = SyncService(tmp_path / "t", push_delay=0.25, poll_interval=600.0,
                          content_interval=600.0, on_status=seen.append)
    service.start()
    try:
        written, started = 0, time.monotonic()
        while time.monotonic() - started < 6.0:     # a ballot every 20 ms, each announced
            record_votes(store, demo, 1, seed=written, with_changes=False)
            written += 1
            time.sleep(0.02)
        knocks = len(proxy.faults_done)
        print(f"{fault}: {written} ballots written in 6 s, {knocks} requests to the hub; "
              f"last state {seen[-1].state if seen else None}")
        # Backoff 2 s, 4 s, 8 s … (each drawn in its upper half): 4 knocks at most in 6 s,
        # never one per write.
        assert 1 <= knocks <= 4
        # Told as the hub busy or away (tried again by itself), not as a Wi-Fi login page.
        assert seen[-1].state == "unreachable"
        assert service.status().pending == store.outbox_counts()["pending"] > 0
        # The way opens again: everything goes, once.
        proxy.chaos(0, ())
        service.sync_now()
        assert wait_for(lambda: store.outbox_counts()["pending"] == 0, timeout=60)
        assert hub.device_events(store.device_id) == store.outbox_counts()["acknowledged"]
    finally:
        service.stop()
        proxy.close()
        store.close()


WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from app.bundle import load_bundle
    from app.paths import DEMO_BUNDLE_DIR
    from app.store import Store
    from sync.service import SyncService
    from tests.integration.conftest import record_votes
    demo = load_bundle(DEMO_BUNDLE_DIR)
    store = Store.open({path!r})
    service = SyncService({path!r}, push_delay=0.05, poll_interval=600.0,
                          content_interval=600.0)
    service.start()
    n = {seed}
    print("ready", flush=True)
    while True:                     # until killed: every write announced, pushed in windows
        record_votes(store, demo, 1, seed=n, with_changes=True)
        n += 1
""")


@pytest.mark.slow        # a kill test
@pytest.mark.process
def test_a_tablet_killed_between_its_writes_and_their_push_loses_and_doubles_nothing(
        hub, demo, tmp_path):
    """SIGKILL at any moment of write → announcement → push → acknowledgement, three times:
    the next start pushes what the killed one had not, and the hub holds every event once."""
    path = tmp_path / "k"
    store = Store.open(path)
    enroll(store, hub.url, hub.code())
    store.close()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for round_, after in enumerate((1.3, 2.1, 0.7)):
        script = WRITER.format(root=root, path=str(path), seed=1000 * round_)
        writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                  cwd=root)
        try:
            assert writer.stdout.readline().strip() == b"ready"
            time.sleep(after)
        finally:
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait(30)
            writer.stdout.close()
    store = Store.open(path)
    service = SyncService(path, push_delay=0.05, poll_interval=600.0, content_interval=600.0)
    service.start()
    try:
        counts = store.outbox_counts()
        print(f"after 3 kills: {counts}")
        assert counts["pending"] + counts["acknowledged"] > 0
        assert wait_for(lambda: store.outbox_counts()["pending"] == 0, timeout=60)
        total = store.outbox_counts()["acknowledged"]
        assert hub.device_events(store.device_id) == total
        # The count the facilitator reads settles on the store's (published after the cycle).
        assert wait_for(lambda: service.status().pending == 0, timeout=10), service.status()
    finally:
        service.stop()
        store.close()


def test_a_bundle_that_cannot_be_installed_neither_holds_back_the_votes_nor_downloads_again_each_push(
        hub, demo, tmp_path):
    """The tablet's storage refuses the new bundle (full, or read-only: here a file where its
    bundles folder goes): the votes still reach the hub within their push window, and the
    bundle is not downloaded again with every push but on its own backoff."""
    store = Store.open(tmp_path / "t")
    enroll(store, hub.url, hub.code())
    proxy = FaultProxy(hub.port)
    store.set_setting(p.HUB_URL, proxy.url)
    (tmp_path / "t" / "bundles").write_text("not a folder")
    proxy.chaos(1.0, ("pass",))                 # every request counted in faults_done
    service = SyncService(tmp_path / "t", push_delay=0.1, poll_interval=600.0)
    service.start()
    try:
        assert wait_for(lambda: service._worker.cycles >= 1)           # noqa: SLF001
        time.sleep(0.5)
        before = len(proxy.faults_done)
        late = []
        for n in range(10):
            sent = time.monotonic()
            record_votes(store, demo, 1, seed=n, with_changes=False)
            assert wait_for(lambda: store.outbox_counts()["pending"] == 0, timeout=30)
            late.append(time.monotonic() - sent)
            time.sleep(0.2)
        requests_made = len(proxy.faults_done) - before
        print(f"10 votes: reached the hub after {[round(x, 2) for x in late]} s; "
              f"{requests_made} requests; load {os.getloadavg()[0]:.1f}")
        assert hub.device_events(store.device_id) == store.outbox_counts()["acknowledged"]
        # One request per push; the content (answers, cards, bundle index: 3 requests) tried
        # again on its own backoff (1–2 s, 2–4 s, …): 3 times at most in these ~4 s — not with
        # every push (40 requests before).
        assert requests_made <= 10 + 3 * 3
    finally:
        service.stop()
        proxy.close()
        store.close()
