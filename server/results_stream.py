"""Results pushed to projectors: `GET /api/v1/consultations/{id}/results/stream`, Server-Sent
Events (docs/protocol.md, "Results stream").

The writer thread tells the event loop which consultations changed (`Changes.notify`, called by
server.results.ResultsCache once a batch committed, and by server.display_controls); each open
stream wakes up, reads the results and display state (both in memory or one indexed row) and
sends what changed since it last sent:

    retry: 2000
    id: alpimed-2030.2.7f3a….118~3
    event: results
    data: {the body of GET …/results}

    id: alpimed-2030.2.7f3a….118~3
    event: display
    data: {the body of GET …/display}

    : heartbeat

An event's `id` is the results' ETag (without quotes) and the display revision, joined by `~`:
a client reconnecting with `Last-Event-ID` gets at once only what changed since. A comment
every `stream_heartbeat` seconds lets a client (and a proxy) tell a live stream from a dead
one. Streams are bounded: `stream_max` open in all and `stream_max_per_address` per client
address (429 `too_many_streams` past them), and they all end when the hub stops
(`Streams.close_all`, called from the server's exit handler), so a stop never waits on them.
"""
from __future__ import annotations

import asyncio
import threading
from typing import AsyncIterator, Callable

from app.errors import N_

from .errors import HubError
from .limits import address_owner

RETRY_MS = 2000         # the client's reconnection hint (`retry:`)
# The least time between two events of one stream: what changes meanwhile goes in the next
# one (the latest state, read when it is sent). A tablet pushing one ballot at a time as fast
# as it can woke every stream at each batch, each sending the whole results body: the hub's
# work and bytes out multiplied by the number of streams.
STREAM_GAP = 0.1


class Changes:
    """Which consultations changed, told from any thread to the stream generators waiting in
    the event loop: each waiter is an asyncio.Event set with call_soon_threadsafe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiters: dict[str, set] = {}      # consultation ID → {(loop, event)}
        self._generation: dict[str, int] = {}   # consultation ID → display changes told
        self._display: dict[str, tuple] = {}    # consultation ID → (generation, display)

    def subscribe(self, consultation_id: str) -> tuple:
        """A waiter for the calling event loop (call it from a coroutine)."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(consultation_id, set()).add(waiter)
        return waiter

    def unsubscribe(self, consultation_id: str, waiter: tuple) -> None:
        with self._lock:
            waiters = self._waiters.get(consultation_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[consultation_id]

    def notify(self, *consultation_ids: str, display: bool = False) -> None:
        """Wake the streams of these consultations (`display`: their display control changed
        too); any thread, never blocks."""
        with self._lock:
            if display:
                for cid in consultation_ids:
                    self._generation[cid] = self._generation.get(cid, 0) + 1
            targets = [w for cid in consultation_ids for w in self._waiters.get(cid, ())]
        for loop, event in targets:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:        # that loop is closed: its stream is gone
                pass

    def display(self, consultation_id: str, read: Callable[[], tuple[str, bytes] | None]
                ) -> tuple[int, bytes] | None:
        """(revision, JSON body) of the consultation's display control, read (`read()`:
        server.display_controls.read_display) once per change for all its streams."""
        with self._lock:
            generation = self._generation.get(consultation_id, 0)
            cached = self._display.get(consultation_id)
        if cached is not None and cached[0] == generation:
            return cached[1]
        found = read()
        value = None if found is None else (
            int(found[0].strip('"').rsplit(".", 1)[-1]), found[1])
        with self._lock:
            if self._generation.get(consultation_id, 0) == generation:
                self._display[consultation_id] = (generation, value)
        return value

    def listeners(self, consultation_id: str) -> int:
        with self._lock:
            return len(self._waiters.get(consultation_id, ()))


class Streams:
    """The open streams of one app: counted per client address, ended all at once on stop."""

    def __init__(self, total: int, per_address: int):
        self.total, self.per_address = max(0, total), max(0, per_address)
        self._lock = threading.Lock()
        self._by_address: dict[str, int] = {}
        self._open = 0
        self._wakers: set[Callable[[], None]] = set()
        self.closing = False

    def open(self, address: str) -> None:
        """Count a new stream of `address`, or raise 429 too_many_streams."""
        with self._lock:
            if self.closing:
                raise HubError(N_("The server is stopping."), status=503, code="stopping",
                               headers={"Retry-After": "5"})
            if self._open >= self.total or \
                    self._by_address.get(address, 0) >= self.per_address:
                raise HubError(N_("Too many open result streams: read the results instead."),
                               status=429, code="too_many_streams",
                               headers={"Retry-After": "60"})
            self._open += 1
            self._by_address[address] = self._by_address.get(address, 0) + 1

    def close(self, address: str) -> None:
        with self._lock:
            self._open = max(0, self._open - 1)
            left = self._by_address.get(address, 1) - 1
            if left > 0:
                self._by_address[address] = left
            else:
                self._by_address.pop(address, None)

    @property
    def count(self) -> int:
        return self._open

    def watch(self, wake: Callable[[], None]) -> None:
        with self._lock:
            self._wakers.add(wake)

    def unwatch(self, wake: Callable[[], None]) -> None:
        with self._lock:
            self._wakers.discard(wake)

    def close_all(self) -> None:
        """End every open stream (the hub stops); new ones are refused. Any thread."""
        with self._lock:
            self.closing = True
            wakers = list(self._wakers)
        for wake in wakers:
            wake()


def stream_owner(address: str) -> str:
    """Whom a stream counts against in `stream_max_per_address` (server.limits.address_owner:
    an IPv6 client's /64)."""
    return address_owner(address)


def event_id(results_etag: str, display_revision: int) -> str:
    return f"{results_etag.strip(chr(34))}~{display_revision}"


def parse_event_id(value: str | None) -> tuple[str | None, int | None]:
    """(results tag, display revision) of a Last-Event-ID; (None, None) when it is not one."""
    if not value or "~" not in value or len(value) > 300:
        return None, None
    tag, _, revision = value.rpartition("~")
    # ASCII digits only: '²' (a latin-1 header byte) is a digit to str.isdigit, not to int()
    return tag, int(revision) if revision.isascii() and revision.isdigit() \
        and len(revision) <= 18 else None


def _message(event: str, ident: str, data: bytes) -> bytes:
    # compact JSON holds no newline: one data line
    return b"id: " + ident.encode() + b"\nevent: " + event.encode() + b"\ndata: " + data + b"\n\n"


async def results_events(hub, consultation_id: str, last_event_id: str | None,
                         streams: Streams, heartbeat: float,
                         read_display: Callable[[], tuple[str, bytes] | None],
                         stopping: Callable[[], bool] = lambda: False) -> AsyncIterator[bytes]:
    """The stream's bytes: the current state (unless `last_event_id` is it already), then
    every change, a heartbeat comment while nothing changes; ends when the hub stops."""
    changes = hub.results.changes
    waiter = changes.subscribe(consultation_id)
    loop, event = waiter

    def wake() -> None:
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:
            pass
    streams.watch(wake)
    sent_tag, sent_display = parse_event_id(last_event_id)
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        first = True
        sent_at = None
        while True:
            if sent_at is not None:
                gap = sent_at + STREAM_GAP - loop.time()
                if gap > 0:
                    await asyncio.sleep(gap)
                if streams.closing or stopping():
                    return
            event.clear()
            found = hub.read_results(consultation_id)
            if found is None:          # the consultation is gone
                return
            tag, body = found[0].strip('"'), found[1]
            display = changes.display(consultation_id, read_display)
            revision = display[0] if display is not None else (sent_display or 0)
            ident = event_id(tag, revision)
            out = b""
            if tag != sent_tag:
                out += _message("results", ident, body)
                sent_tag = tag
            if display is not None and revision != sent_display:
                out += _message("display", ident, display[1])
                sent_display = revision
            if out or first:
                yield out or b": ok\n\n"     # first bytes at once: the stream is live
            sent_at = loop.time() if out else None
            first = False
            while not event.is_set():
                try:
                    await asyncio.wait_for(event.wait(), heartbeat)
                except asyncio.TimeoutError:
                    if streams.closing or stopping():
                        return
                    yield b": heartbeat\n\n"
            if streams.closing or stopping():
                return
    finally:
        streams.unwatch(wake)
        changes.unsubscribe(consultation_id, waiter)
