"""The background worker: its own thread, its own Store connection (a sqlite3 connection belongs
to the thread that made it). It pushes within a short window (`push_delay`, 0.25 s by default)
of the first event not yet sent — the store announces each write and the service wakes it —
polls now and then, and backs off exponentially with jitter when the hub is not reachable."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from app.clock import now_iso
from app.errors import N_
from app.signup import SIGNUP_ALIAS, redacted_signup_payload
from app.store import OutboxEvent, Store

from . import protocol as p
from .batches import backoff_delay, push_in_batches
from .client import HubClient
from .content import pull_answers, pull_bundles
from .enroll import client_for, is_enrolled, refresh_identity
from .status import (CERTIFICATE_REFUSED, CONTENT_REFUSED, CREDENTIALS_REFUSED, ERROR,
                     HUB_REFUSED, LOGIN_PAGE, NOT_ENROLLED, REVOKED, SYNCED, UNREACHABLE,
                     SyncStatus)


log = logging.getLogger("piazzetta.sync")

# Seconds a worker keeps its connection to the hub between two cycles: a push about a second
# after the last one reuses it (over a room's TLS, no new handshake); longer idle, a new one,
# before the hub's keep-alive (5 s by default) closes it under a request.
REUSE_CONNECTION = 4.0


def push_pending(store: Store, client: HubClient, max_batch: int = 500) -> dict[str, int]:
    """Send every unacknowledged event, batch after batch; mark acknowledged only what the hub
    explicitly answered for. Returns counts per status. Raises SyncError on the first failure
    (what was acknowledged before it stays acknowledged). Ends after a batch that was not full:
    what was written meanwhile goes with the next push window, not in a request per round trip
    while the kiosk keeps writing."""
    sent: dict[str, OutboxEvent] = {}
    asked = {"limit": 0, "done": False}

    def take(limit: int) -> list[dict]:
        if asked["done"]:
            return []
        asked["limit"] = limit
        events = store.pending_events(limit=limit)
        sent.clear()
        sent.update((e.id, e) for e in events)
        return [e.envelope(store.device_id) for e in events]

    def acknowledge(_envelopes: list[dict], results: dict[str, dict]) -> None:
        store.mark_acknowledged(results)
        forget_personal_data(store, [e for e in sent.values() if e.id in results])
        if len(_envelopes) < asked["limit"]:
            asked["done"] = True        # everything pending at the last take went
        refused = sum(1 for r in results.values() if r["status"] not in p.ACCEPTED_STATUSES)
        if refused:
            store.set_setting(p.REFUSED, store.get_setting(p.REFUSED, 0) + refused)

    return push_in_batches(client, take, acknowledge, max_batch,
                           on_max_batch=lambda n: store.set_setting(p.MAX_BATCH, n))


def forget_personal_data(store: Store, acknowledged: list[OutboxEvent]) -> int:
    """Invariant 5: a resident's contact leaves the tablet once the hub has it. The outbox keeps
    the event (marked redacted) without the contact; the idea keeps everything else. Each
    redaction is one transaction; then the WAL is checkpointed into the file so the old pages
    are overwritten (`Store.checkpoint_redactions`), now or at a later cycle when a reader held
    it. Returns how many events were redacted."""
    store.ensure_secure_delete()
    done = 0
    for event in acknowledged:
        if event.type == "signup" and not event.payload.get("redacted"):
            # Only the attribution stays; secure_delete and the checkpoint then make sure the
            # name and contact cannot be read back from the file.
            store.redact_signup(event, redacted_signup_payload(event.payload))
            done += 1
        elif event.type == "proposal" and event.payload.get("contact"):
            store.redact_idea_contact(event)
            done += 1
    if done:
        store.checkpoint_redactions()
    return done


class PushWindow:
    """When to push after new events: `window` seconds after the first one not yet taken, however
    many follow (a steady stream of taps does not put the push off). Thread-safe: events are
    noted in the thread that wrote them, the worker asks `due()` and `take()`s. Times are the
    caller's (time.monotonic in the worker; a test gives its own)."""

    def __init__(self, window: float):
        self.window = window
        self._first: float | None = None
        self._lock = threading.Lock()

    def note(self, now: float) -> None:
        """Events were written at `now`."""
        with self._lock:
            if self._first is None:
                self._first = now

    def now(self, now: float) -> None:
        """Push at once (the facilitator's "sync now", a new enrollment)."""
        with self._lock:
            self._first = now - self.window

    def due(self) -> float | None:
        """When the push is due, None when nothing waits."""
        with self._lock:
            return None if self._first is None else self._first + self.window

    def take(self) -> None:
        """A push begins: what was written so far goes with it; later events open a new
        window."""
        with self._lock:
            self._first = None


class SyncWorker(threading.Thread):
    def __init__(self, store_path: str | Path, bundles_dir: Path,
                 publish: Callable[[SyncStatus], None], *, push_delay: float = 0.25,
                 poll_interval: float = 30.0, content_interval: float = 300.0,
                 backoff: tuple[float, float] = (2.0, 300.0),
                 timeout: tuple[float, float] = (5.0, 30.0),
                 on_content: Callable[[list[str]], None] | None = None):
        super().__init__(name="piazzetta-sync", daemon=True)
        self.store_path = store_path
        self.bundles_dir = bundles_dir
        self.publish = publish
        self.push_delay = push_delay
        self.poll_interval = poll_interval
        self.content_interval = content_interval
        self.backoff = backoff
        self.timeout = timeout
        self.on_content = on_content
        self.window = PushWindow(push_delay)
        self.failures = 0
        self.cycles = 0
        self.problem: str | None = None
        self.state: str | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._next_content = 0.0
        self._content_failures = 0
        # A refused consultation (msgid, state): said until a content pull goes well.
        self._content_problem: tuple[str, str] | None = None
        self._folder_states: dict | None = None     # at the last content pull
        self._backoff_until = 0.0
        self._client: HubClient | None = None
        self._client_key: tuple | None = None
        self._client_used = 0.0

    def wake(self, urgent: bool = False) -> None:
        """New events were written: push them within the window. `urgent` pushes at once and
        skips a running backoff (the facilitator's "sync now", after enroll)."""
        if urgent:
            self._backoff_until = 0.0
            self._next_content = 0.0
            self.window.now(time.monotonic())
        else:
            self.window.note(time.monotonic())
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        store = Store.open(self.store_path)
        try:
            next_at = 0.0          # the next poll
            while not self._stopping.is_set():
                due = self.window.due()
                until = next_at if due is None else min(next_at, due)
                self._wake.wait(max(0.0, until - time.monotonic()))
                if self._stopping.is_set():
                    break
                self._wake.clear()
                now = time.monotonic()
                if now < self._backoff_until:
                    # The hub is away: don't hammer it; the events go at the next try. The
                    # status still counts them.
                    self.window.take()
                    next_at = self._backoff_until
                    self.publish_status(store, keep=True)
                    continue
                due = self.window.due()
                if now < next_at and (due is None or now < due):
                    continue       # a new window opened: wait for its end
                self.window.take()
                try:
                    delay = self.cycle(store)
                except Exception:   # a bug must not stop sync for good: log, wait, try again
                    log.exception("sync cycle failed")
                    delay = self.backoff[1]
                    self.publish_status(store, state=ERROR, problem=N_(
                        "Sync met an unexpected error; it will try again."))
                    self.drop_client()
                next_at = time.monotonic() + delay
        finally:
            self.drop_client()
            store.close()

    def client(self, store: Store) -> HubClient:
        """The client to this tablet's hub: the last cycle's while it is fresh and the
        enrollment (hub, pin, credential) is the same, else a new one."""
        key = tuple(store.get_setting(k) for k in (p.HUB_URL, p.HUB_PIN, p.DEVICE_SECRET))
        if self._client is None or key != self._client_key \
                or time.monotonic() - self._client_used > REUSE_CONNECTION:
            self.drop_client()
            self._client, self._client_key = client_for(store, self.timeout), key
        return self._client

    def drop_client(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = self._client_key = None

    def cycle(self, store: Store) -> float:
        """One round of push and pull; returns the seconds until the next one."""
        self.cycles += 1
        problem, state = None, None
        delay = self.poll_interval
        store.checkpoint_redactions()    # owed by an earlier cycle whose checkpoint was busy
        if not is_enrolled(store):
            self.publish_status(store, problem=N_("This tablet is not enrolled with a hub yet."))
            return self.poll_interval
        client = self.client(store)
        made = client.requests_made
        try:
            if auth_problem(store) or not store.get_setting(SIGNUP_ALIAS):
                # Revoked or refused: one cheap question at the slow pace (staff may have
                # reinstated it); and a tablet enrolled before aliases learns its own.
                refresh_identity(store, client)
                if auth_problem(store):
                    store.set_setting(p.REVOKED, False)
                    store.set_setting(p.AUTH_PROBLEM, None)
            sent = push_pending(store, client, store.get_setting(p.MAX_BATCH, 500))
            if any(sent.values()):
                # What the hub now holds ages out here after the facilitator's retention.
                store.purge_acknowledged()
            if time.monotonic() >= self._next_content:
                # Its own schedule, set before it runs: a pull that fails is tried again on
                # its own backoff, not with every push (each push downloaded the bundle index,
                # and the files up to the failure, again).
                self._content_failures += 1
                self._next_content = time.monotonic() + min(
                    self.content_interval, backoff_delay(self._content_failures, self.backoff))
                try:
                    pull_answers(store, client)
                    updated = pull_bundles(store, client, self.bundles_dir)
                except OSError:
                    # This tablet's storage (full, read-only): the votes still go, at once.
                    log.warning("new content could not be saved", exc_info=True)
                    problem, state = N_("Sync met an unexpected error; it will try again."), \
                        ERROR
                    updated = []
                except p.ContentRefused as exc:
                    # The hub answered, the votes went: only this content waits, on its own
                    # backoff, and the facilitator reads why (not "a login page").
                    log.warning("new content refused: %s", exc.detail)
                    self._content_problem = (exc.message, CONTENT_REFUSED)
                    updated = exc.updated
                else:
                    self._content_failures = 0
                    self._next_content = time.monotonic() + self.content_interval
                    self._content_problem = None
                updated = self._with_folders_changed(updated)
                if updated and self.on_content is not None:
                    try:        # new versions for the running screens (they hop threads)
                        self.on_content(updated)
                    except Exception:
                        log.exception("on_content failed")
            self.failures = 0
            self._backoff_until = 0.0
            if problem is None and self._content_problem is not None:
                problem, state = self._content_problem
            if client.requests_made > made:   # "last success": the hub was really reached
                store.set_setting(p.LAST_SUCCESS, now_iso("seconds"))
        except (p.DeviceRevoked, p.CredentialsRefused) as exc:
            # Nothing is deleted; pushes wait for staff, or for the tablet to be enrolled again.
            store.set_setting(p.AUTH_PROBLEM, exc.code)
            store.set_setting(p.REVOKED, isinstance(exc, p.DeviceRevoked))
            problem, delay = exc.message, self.backoff[1]
            self._backoff_until = time.monotonic() + delay
            self.drop_client()
        except p.SyncError as exc:
            self.drop_client()          # a cut or refused connection is not used again
            self.failures += 1
            delay = backoff_delay(self.failures, self.backoff)   # jitter: no stampede
            self._backoff_until = time.monotonic() + delay
            problem = exc.message
            state = (UNREACHABLE if isinstance(exc, p.HubUnreachable)
                     else CERTIFICATE_REFUSED if isinstance(exc, p.CertificateRefused)
                     else CONTENT_REFUSED if isinstance(exc, p.ContentRefused)
                     else LOGIN_PAGE if isinstance(exc, p.NotAcknowledged)
                     else HUB_REFUSED)
        finally:
            self._client_used = time.monotonic()
        self.publish_status(store, problem=problem, state=state)
        return delay

    def _with_folders_changed(self, updated: list[str]) -> list[str]:
        """`updated` and the consultations whose folder changed otherwise since the last
        content pull: another process on this data folder installed a version that waits for
        this kiosk's residents, or a kiosk took in the version this projector waited for —
        their screens follow too (app/bundle_folders.py)."""
        from .content import folder_states
        updated = list(updated or [])
        states = folder_states(self.bundles_dir)
        seen, self._folder_states = self._folder_states, states
        if seen is None:        # the first pull: a version waiting already is news
            seen = {c: (state[0], None) for c, state in states.items()}
        return updated + [c for c, state in states.items()
                          if seen.get(c) != state and c not in updated]

    def publish_status(self, store: Store, problem: str | None = None, *,
                       state: str | None = None, keep: bool = False) -> None:
        """Tell the service; `state` overrides the one the store says (a failure of this
        cycle); `keep` repeats the last problem and state (a wake during a backoff)."""
        if not keep:
            self.problem, self.state = problem, state
        status = read_status(store)
        self.publish(replace(status, problem=self.problem or status.problem,
                             state=self.state or status.state))


def auth_problem(store: Store) -> str | None:
    """The hub's last 401 code for this tablet ("device_revoked", "device_unknown"), None once
    it accepts the tablet again."""
    return store.get_setting(p.AUTH_PROBLEM) or (
        p.DeviceRevoked.code if store.get_setting(p.REVOKED) else None)


def read_status(store: Store) -> SyncStatus:
    """What the store says of sync (enrolled, revoked or refused, pending); the worker adds
    what its last cycle met."""
    enrolled = is_enrolled(store)
    problem = auth_problem(store) if enrolled else None
    state = (NOT_ENROLLED if not enrolled else REVOKED if problem == p.DeviceRevoked.code
             else CREDENTIALS_REFUSED if problem else SYNCED)
    message = {REVOKED: p.DeviceRevoked().message,
               CREDENTIALS_REFUSED: p.CredentialsRefused().message}.get(state)
    pending, counted_seq = store.pending_and_last_seq()
    return SyncStatus(enrolled=enrolled, hub_url=store.get_setting(p.HUB_URL),
                      device_id=store.device_id, last_success=store.get_setting(p.LAST_SUCCESS),
                      pending=pending, counted_seq=counted_seq, problem=message,
                      revoked=state == REVOKED, refused=store.get_setting(p.REFUSED, 0),
                      state=state, site_id=store.get_setting(p.SITE_ID))
