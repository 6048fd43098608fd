"""The projector's results pushed by a real hub process (StreamingResultsPoller over real HTTP):
it follows the stream without polling; the stream cut and restored through a proxy that drops
it misses no update (polls while it is down); a proxy that buffers the stream (nothing, not
even a heartbeat, comes through) makes it fall back to polls and the projector still follows;
a hub without the stream (404) too; the room hub's stream over its TLS, pinned."""
from __future__ import annotations

import threading
import time

import pytest

from app.store import Store
from server.admin import main as admin_main
from sync.display import HubProjectorSource, send_display_control
from sync.enroll import client_for, enroll
from sync.results_source import StreamingResultsPoller
from sync.service import SyncService
from sync.worker import push_pending

from .conftest import DEMO_BUNDLE_DIR, HubProcess, record_votes
from .roomkit import RoomKit
from .streamproxy import StreamProxy

HEARTBEAT = 1      # the hub's seconds between heartbeats here: a dead stream seen in 3 s


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    data = tmp_path_factory.mktemp("streamhub")
    assert admin_main(["--data-dir", str(data), "import-bundle", str(DEMO_BUNDLE_DIR)]) == 0
    process = HubProcess(data)
    process.env["PIAZZETTA_HUB_STREAM_HEARTBEAT"] = str(HEARTBEAT)
    process.start()
    yield process
    process.stop()


class Projector:
    """What the projector's screen receives, kept in order."""

    def __init__(self, url: str, consultation_id: str, heartbeat: float = HEARTBEAT, **kwargs):
        self.polls: list = []
        self.changed = threading.Condition()
        self.feed = StreamingResultsPoller(HubProjectorSource(url, consultation_id),
                                           self.deliver, 0.2, heartbeat=heartbeat, **kwargs)

    def deliver(self, poll) -> None:
        with self.changed:
            self.polls.append(poll)
            self.changed.notify_all()

    def snapshots(self) -> list:
        return [p.snapshot for p in self.polls if p.snapshot is not None]

    def yes(self) -> list[int]:
        return [s.questions["q-ticket"]["counts"]["yes"] for s in self.snapshots()]

    def wait(self, check, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 0.2))
        return True

    def __enter__(self):
        self.feed.start()
        return self

    def __exit__(self, *exc):
        self.feed.stop()
        # Both threads ended, a stream's blocked read included (no heartbeat needed to wake it).
        assert not any(thread.is_alive() for thread in self.feed._threads)


def vote_yes(store: Store, demo, n: int = 1) -> None:
    for _ in range(n):
        ballot = store.start_ballot(demo)
        store.record_answer(demo, ballot, "q-ticket", "yes")
        store.close_ballot(ballot)
    client = client_for(store)
    try:
        push_pending(store, client)
    finally:
        client.close()


@pytest.fixture
def tablet(hub):
    store = Store.memory()
    enroll(store, hub.url, hub.code())
    yield store
    store.close()


def hub_yes(hub) -> int:
    return hub.results()["questions"]["q-ticket"]["counts"]["yes"]


def test_the_stream_follows_without_polls(hub, tablet, demo):
    with Projector(hub.url, demo.id) as projector:
        assert projector.wait(lambda: projector.feed.live.is_set() and projector.snapshots())
        polls = projector.feed.counts["polls"]
        for _ in range(3):
            vote_yes(tablet, demo)
            target = hub_yes(hub)
            assert projector.wait(lambda: projector.yes() and projector.yes()[-1] == target)
        # The facilitator's display control comes through the stream as well.
        send_display_control(tablet, demo, {"hidden": True})
        assert projector.wait(lambda: any(p.control and p.control.get("hidden")
                                          for p in projector.polls))
        assert projector.feed.counts["polls"] == polls     # not one poll while it streamed
        assert projector.feed.counts["streams"] == 1
        assert projector.yes() == sorted(projector.yes())
        send_display_control(tablet, demo, {"hidden": False})


def test_stream_cut_and_restored_misses_no_update(hub, tablet, demo):
    proxy = StreamProxy(hub.port)
    try:
        with Projector(proxy.url, demo.id) as projector:
            assert projector.wait(lambda: projector.feed.live.is_set())
            vote_yes(tablet, demo, 2)
            target = hub_yes(hub)
            assert projector.wait(lambda: projector.yes() and projector.yes()[-1] == target)

            # The connection dropped, the way blocked; votes meanwhile.
            proxy.down = True
            proxy.cut()
            assert projector.wait(lambda: not projector.feed.live.is_set())
            vote_yes(tablet, demo, 3)
            target = hub_yes(hub)
            assert projector.wait(lambda: projector.polls and not projector.polls[-1].reachable)

            # The way back: polls see the votes at once, then the stream takes over again.
            proxy.down = False
            assert projector.wait(lambda: projector.yes()[-1] == target)
            assert projector.wait(lambda: projector.feed.live.is_set(), 60)
            assert projector.feed.counts["streams"] >= 2
            vote_yes(tablet, demo, 1)
            target = hub_yes(hub)
            assert projector.wait(lambda: projector.yes()[-1] == target)

            # Cut while votes come: every change ends up on the projector.
            for round_ in range(3):
                vote_yes(tablet, demo, 1)
                proxy.cut()
                vote_yes(tablet, demo, 1)
            target = hub_yes(hub)
            assert projector.wait(lambda: projector.yes()[-1] == target)
            assert projector.yes() == sorted(projector.yes())   # never an older state after
    finally:
        proxy.close()


def test_a_buffering_proxy_falls_back_to_polls(hub, tablet, demo):
    proxy = StreamProxy(hub.port, buffering=True)
    try:
        with Projector(proxy.url, demo.id, retry_later=2) as projector:
            assert projector.wait(lambda: projector.snapshots())
            for _ in range(2):
                vote_yes(tablet, demo)
                target = hub_yes(hub)
                assert projector.wait(lambda: projector.yes()[-1] == target)
            # No byte of the stream within its read timeout: given up, tried again later.
            assert projector.wait(lambda: projector.feed.counts["fallbacks"] >= 2, 30)
            assert proxy.stream_requests >= 2
            assert not projector.feed.live.is_set()
            vote_yes(tablet, demo)
            target = hub_yes(hub)
            assert projector.wait(lambda: projector.yes()[-1] == target)
            assert projector.feed.counts["events"] == 0
            assert projector.feed.counts["polls"] > 0
    finally:
        proxy.close()


def test_a_hub_without_the_stream_is_polled(hub, tablet, demo):
    proxy = StreamProxy(hub.port, old_hub=True)
    try:
        with Projector(proxy.url, demo.id) as projector:
            assert projector.wait(lambda: projector.feed.counts["fallbacks"] >= 1)
            vote_yes(tablet, demo)
            target = hub_yes(hub)
            assert projector.wait(lambda: projector.yes() and projector.yes()[-1] == target)
            assert projector.feed.counts["streams"] == 0
            assert not projector.feed.live.is_set()
    finally:
        proxy.close()


def test_the_room_hub_streams_over_its_tls(tmp_path, demo):
    room = RoomKit(tmp_path / "room")
    room.env["PIAZZETTA_HUB_STREAM_HEARTBEAT"] = str(HEARTBEAT)
    room.start()
    try:
        service = SyncService(tmp_path / "tablet")
        assert service.enroll_from_qr(room.qr()).enrolled
        store = Store.open(tmp_path / "tablet")
        with Projector(f"{room.url}#pin={room.pin}", demo.id) as projector:
            assert projector.wait(lambda: projector.feed.live.is_set() and projector.snapshots())
            polls = projector.feed.counts["polls"]
            record_votes(store, demo, 4)
            client = client_for(store)
            push_pending(store, client)
            client.close()
            assert projector.wait(lambda: projector.snapshots()[-1].ballots >= 4)
            assert projector.feed.counts["polls"] == polls
        # Another certificate: the stream is refused like the polls, nothing shown of it.
        with Projector(f"{room.url}#pin={'0' * 64}", demo.id) as wrong:
            assert wrong.wait(lambda: len(wrong.polls) >= 2)
            assert not wrong.snapshots() and not wrong.feed.live.is_set()
            assert "certificate" in wrong.polls[-1].problem
        store.close()
    finally:
        room.kill()


def test_open_streams_end_when_the_hub_stops(tmp_path, demo):
    """SIGTERM with projectors streaming: the streams end at once, uvicorn's graceful shutdown
    never has to cancel them (it logs when it does). And a projector that stops mid-stream
    stops at once, though the hub says nothing for 30 s."""
    data = tmp_path / "hub"
    assert admin_main(["--data-dir", str(data), "import-bundle", str(DEMO_BUNDLE_DIR)]) == 0
    process = HubProcess(data)
    process.env["PIAZZETTA_HUB_STREAM_HEARTBEAT"] = "30"     # no heartbeat wakes them meanwhile
    process.start()
    try:
        projectors = [Projector(process.url, demo.id, heartbeat=30).__enter__()
                      for _ in range(4)]
        for projector in projectors:
            assert projector.wait(lambda p=projector: p.feed.live.is_set())
        projectors.pop().__exit__(None, None, None)     # a projector closed mid-stream
        streams = [p.feed.counts["streams"] for p in projectors]
        process.stop()
        assert [p.feed.counts["streams"] for p in projectors] == streams   # the same ones
        for projector in projectors:
            assert projector.wait(lambda p=projector: not p.feed.live.is_set())
            projector.__exit__(None, None, None)
        log = process.log.read_text(errors="replace")
        assert "timeout graceful shutdown exceeded" not in log
        assert "Cancel" not in log
    finally:
        process.kill()
