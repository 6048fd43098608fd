"""What the facilitator screen calls: `SyncService(data_dir)` with `status()`, `enroll()`,
`start()`, `stop()`, `push_soon()` and `display_remote()` (screens reach sync only through this
service and what main.py hands them). Thread-safe; the worker runs in its own thread with its
own store connection. `on_status` (optional) is called from the worker thread: a Kivy screen
must hop back to the UI thread (Clock.schedule_once) before touching widgets."""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from app.store import STORE_FILE, Store

from .enroll import enroll as enroll_store, parse_enrollment_qr
from .status import SyncStatus
from .worker import SyncWorker, read_status

if TYPE_CHECKING:
    from .display import DisplayRemote


class SyncService:
    def __init__(self, data_dir_or_store_path: str | Path, *,
                 on_status: Callable[[SyncStatus], None] | None = None,
                 push_delay: float = 1.0, poll_interval: float = 30.0,
                 content_interval: float = 300.0, backoff: tuple[float, float] = (2.0, 300.0),
                 timeout: tuple[float, float] = (5.0, 30.0), device_name: str = ""):
        path = Path(data_dir_or_store_path)
        if path.suffix in (".sqlite3", ".db", ".sqlite"):
            self.store_path, self.data_dir = path, path.parent
        else:
            self.store_path, self.data_dir = path / STORE_FILE, path
        self.bundles_dir = self.data_dir / "bundles"
        self.on_status = on_status
        self.device_name = device_name
        self._options = dict(push_delay=push_delay, poll_interval=poll_interval,
                             content_interval=content_interval, backoff=backoff, timeout=timeout)
        self._lock = threading.Lock()
        self._worker: SyncWorker | None = None
        store = Store.open(self.store_path)
        try:
            self._status = read_status(store)
        finally:
            store.close()

    def status(self) -> SyncStatus:
        with self._lock:
            return self._status

    def _publish(self, status: SyncStatus) -> None:
        with self._lock:
            self._status = status
        if self.on_status is not None:
            self.on_status(status)

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
        self._worker = SyncWorker(self.store_path, self.bundles_dir, self._publish,
                                  **self._options)
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()
            worker.join(timeout)

    def push_soon(self) -> None:
        """New events were recorded: the worker pushes them in about a second."""
        with self._lock:
            self._status = replace(self._status, pending=self._status.pending + 1)
        if self._worker is not None:
            self._worker.wake()

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
