"""What the facilitator screen calls: `SyncService(data_dir)` with `status()`, `enroll()`,
`start()`, `stop()`, `sync_now()` and `display_remote()` (screens reach sync only through this
service and what main.py hands them). Thread-safe; the worker runs in its own thread with its
own store connection.

Nobody has to ask for a push: the service listens to its store file's outbox (every committed
event, whichever connection wrote it: app/store/announce.py) and wakes the worker, which pushes
within `push_delay` (0.25 s) of the first event not yet sent. `push_soon()` stays for the
benchmarks that write through a store of their own.

`on_status(status)` and `on_content(consultation_ids)` (optional, settable after creation) are
called from the worker thread: a Kivy screen must hop back to the UI thread
(Clock.schedule_once) before touching widgets. `on_content` gets the consultations whose bundle
a pull just installed (a new version under bundles/<id>/, or beside it while the screens read
the version shown: app/bundle_folders.py)."""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from app.store import STORE_FILE, Store
from app.store.outbox import listen

from .enroll import enroll as enroll_store, parse_enrollment_qr
from .status import SyncStatus
from .worker import SyncWorker, read_status

if TYPE_CHECKING:
    from .display import DisplayRemote


class SyncService:
    def __init__(self, data_dir_or_store_path: str | Path, *,
                 on_status: Callable[[SyncStatus], None] | None = None,
                 on_content: Callable[[list[str]], None] | None = None,
                 push_delay: float = 0.25, poll_interval: float = 30.0,
                 content_interval: float = 300.0, backoff: tuple[float, float] = (2.0, 300.0),
                 timeout: tuple[float, float] = (5.0, 30.0), device_name: str = "",
                 push_on_write: bool = True):
        """`push_on_write` False: no listening to the store's announcements — events wait for
        the poll or `push_soon()` (the path before issue 26, which bench/room_live.py measures
        beside today's)."""
        path = Path(data_dir_or_store_path)
        if path.suffix in (".sqlite3", ".db", ".sqlite"):
            self.store_path, self.data_dir = path, path.parent
        else:
            self.store_path, self.data_dir = path / STORE_FILE, path
        self.bundles_dir = self.data_dir / "bundles"
        self.on_status = on_status
        self.on_content = on_content
        self.device_name = device_name
        self._options = dict(push_delay=push_delay, poll_interval=poll_interval,
                             content_interval=content_interval, backoff=backoff, timeout=timeout)
        self._lock = threading.Lock()
        self._worker: SyncWorker | None = None
        self._public: PublicBundleWatch | None = None
        # The outbox numbers the store announced (first, last) that the status's count did not
        # hold yet when it was read (numbered after its `counted_seq`): an announcement can land
        # before or after the worker's read of the same event, and is counted once either way.
        self._announced: list[tuple[int, int]] = []
        store = Store.open(self.store_path)
        try:
            self._status = read_status(store)
        finally:
            store.close()
        self.push_on_write = push_on_write
        # Every event written to this file, by any connection: counted at once, sent soon.
        self._unlisten = (listen(self.store_path, self._recorded, seqs=True)
                          if push_on_write else None)

    def status(self) -> SyncStatus:
        with self._lock:
            return self._status

    def _publish(self, status: SyncStatus) -> None:
        with self._lock:
            status = self._settle(status)
            self._status = status
        if self.on_status is not None:
            self.on_status(status)

    def _settle(self, status: SyncStatus) -> SyncStatus:
        """`status` (read from the store) with the announced events its read did not see yet;
        under the lock."""
        counted = status.counted_seq
        if counted < self._status.counted_seq:
            # Read before the status shown (enroll() beside the worker): the newer count stays.
            return replace(status, pending=self._status.pending,
                           counted_seq=self._status.counted_seq)
        self._announced = [(first, last) for first, last in self._announced if last > counted]
        later = sum(last - max(first - 1, counted) for first, last in self._announced)
        return replace(status, pending=status.pending + later)

    def enroll(self, hub_url: str, code: str, pin: str | None = None) -> SyncStatus:
        """Enroll with the hub (blocking, a few seconds at most); `pin`, or an address
        `https://…#pin=…`: a room hub's certificate fingerprint. Raises SyncError whose str()
        is a clear English message and whose `message` is a msgid the screen translates."""
        store = Store.open(self.store_path)
        try:
            enroll_store(store, hub_url, code, pin=pin, name=self.device_name)
            status = read_status(store)
        finally:
            store.close()
        self._publish(status)
        if self._worker is not None:
            self._worker.wake(urgent=True)
        return status

    def enroll_from_qr(self, text: str) -> SyncStatus:
        hub_url, code, pin = parse_enrollment_qr(text)
        return self.enroll(hub_url, code, pin)

    def start(self) -> None:
        if self._worker is not None and self._worker.is_alive():
            return
        if self._unlisten is None and self.push_on_write:
            self._unlisten = listen(self.store_path, self._recorded, seqs=True)
        self._worker = SyncWorker(self.store_path, self.bundles_dir, self._publish,
                                  on_content=self._content, **self._options)
        self._worker.start()

    def follow_public(self, hub_url: str, consultation_id: str, interval: float = 10.0) -> None:
        """A projector that follows a hub it is not enrolled with (`main.py projector --hub
        URL`): new versions of its consultation come through the hub's public routes
        (sync.content.pull_public_bundle, a conditional GET every `interval` seconds), and
        `on_content` hears of them as from the worker. Stopped by stop(). Only over https://
        (or to this machine): what it installs is what the room's screen shows, and over plain
        http:// anyone on the hall's Wi-Fi could answer with a consultation of their own (the
        results are still read; new versions are not followed — logged)."""
        if self._public is not None and self._public.is_alive():
            return
        from .client import require_tls, split_hub_address
        from .protocol import SyncError
        try:
            require_tls(split_hub_address(hub_url)[0])
        except SyncError:
            import logging
            logging.getLogger("piazzetta.sync").warning(
                "new versions not followed from %s: plain http:// to another machine", hub_url)
            return
        self._public = PublicBundleWatch(hub_url, consultation_id, self.bundles_dir,
                                         self._content, interval)
        self._public.start()

    def stop(self, timeout: float = 10.0) -> None:
        public, self._public = self._public, None
        if public is not None:
            public.stop()
            public.join(timeout)
        worker, self._worker = self._worker, None
        unlisten, self._unlisten = self._unlisten, None
        if unlisten is not None:
            unlisten()
        if worker is not None:
            worker.stop()
            worker.join(timeout)

    def _recorded(self, count: int, last_seq: int = 0) -> None:
        """The store announced `count` new events, numbered up to `last_seq` in the outbox (in
        the thread that wrote them, often the UI thread: this returns at once). Those the
        status's read already counted (the worker read the store between the commit and this
        call) are not counted again."""
        with self._lock:
            first = last_seq - count + 1
            counted = self._status.counted_seq
            if not last_seq:             # no numbers known: count them all
                new = count
            elif last_seq > counted:
                new = last_seq - max(first - 1, counted)
                if self._announced and self._announced[-1][1] == first - 1:
                    first = self._announced.pop()[0]      # one writer: the numbers follow
                self._announced.append((first, last_seq))
            else:
                new = 0
            self._status = replace(self._status, pending=self._status.pending + new)
        worker = self._worker
        if worker is not None:
            worker.wake()

    def _content(self, updated: list[str]) -> None:
        if self.on_content is not None:
            self.on_content(updated)

    def push_soon(self) -> None:
        """Push within the window. Events written through a Store are announced and pushed
        without it; this stays for callers that want a push anyway (bench/)."""
        worker = self._worker
        if worker is not None:
            worker.wake()

    def sync_now(self) -> None:
        """The facilitator asked: try at once, even while waiting after a failure."""
        if self._worker is not None:
            self._worker.wake(urgent=True)

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def display_remote(self, consultation) -> "DisplayRemote":
        """What the facilitator's Projector page sends the room projector's controls through
        (sync.display.DisplayRemote, on this service's store)."""
        from .display import DisplayRemote    # only once that page is shown: a faster start
        return DisplayRemote(self.store_path, consultation)


class PublicBundleWatch(threading.Thread):
    """Asks the hub's public bundle route of one consultation for a new version every
    `interval` seconds (304 while there is none) and installs it (SyncService.follow_public).
    After a failure (the hub away, a version refused, a file that does not load, a full disk)
    it waits twice as long each time, up to `MAX_WAIT`: a bundle this projector cannot install
    was downloaded whole again every 10 s, for as long as it ran."""

    MAX_WAIT = 600.0

    def __init__(self, hub_url: str, consultation_id: str, bundles_dir: Path,
                 on_content: Callable[[list[str]], None], interval: float = 10.0):
        super().__init__(name="piazzetta-public-bundle", daemon=True)
        self.hub_url, self.consultation_id = hub_url, consultation_id
        self.bundles_dir, self.on_content, self.interval = bundles_dir, on_content, interval
        self._stopped = threading.Event()
        self.checks = 0

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        import logging

        from . import protocol as p
        from .client import HubClient
        from .content import pull_public_bundle
        log = logging.getLogger("piazzetta.sync")
        client, etag = None, None
        failures = 0
        while not self._stopped.is_set():
            failures += 1
            try:
                if client is None:
                    client = HubClient(self.hub_url, timeout=(5.0, 30.0))
                updated, etag = pull_public_bundle(client, self.consultation_id,
                                                   self.bundles_dir, etag)
                failures = 0
                if updated:
                    self.on_content([self.consultation_id])
            except p.SyncError:          # the hub away or refusing: the next check tries again
                if client is not None:
                    client.close()
                client = None
            except Exception:            # a bug, a full disk: must not stop the projector
                log.exception("public bundle check failed")
            self.checks += 1
            self._stopped.wait(min(self.MAX_WAIT, self.interval * 2 ** min(failures, 20))
                               if failures else self.interval)
        if client is not None:
            client.close()
