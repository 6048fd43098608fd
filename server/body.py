"""Request bodies, bounded before anyone reads them (CONVENTIONS 15: authenticate, then check
size, then parse).

`Guard` is a pure ASGI middleware in front of every route:

1. routes that need a caller (`POST /api/v1/events`: a device; `/api/v1/admin/…`: staff) are
   authenticated from the headers alone; a stranger gets 401 and not one byte of the body is
   read (uvicorn stops reading the socket once its 64 KiB buffer is full, and the connection is
   closed after the answer);
2. the route's limit is checked against Content-Length (413 at once);
3. the body is counted as the route reads it, chunk by chunk, so that a missing or lying
   Content-Length (chunked transfer) gets 413 as soon as the count passes the limit; each chunk
   must come within `body_timeout` seconds (408), so a client that trickles a body does not hold
   a worker;
4. a batch of events (`/api/v1/events`, `/api/v1/relay/events`) is bounded as the bytes
   arrive (`EventCounter`): its JSON values at C speed (48 per allowed event), then, past
   that, its events counted exactly from the JSON's structure, no parsing: 413
   `batch_too_large` as soon as it holds more than the caller's batch, before any JSON is
   parsed (a body of many tiny events is far larger once parsed than on the wire).

The routes of a room hub (`/api/v1/relay/…`) are for a relay's credential only: any other
device gets 403 `relay_only` before a byte of its body is read, and the relay's larger batch
limit is never a tablet's. FastAPI's Body parsing therefore only ever sees a bounded body.
"""
from __future__ import annotations

import asyncio
import re

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.errors import N_

from .errors import AuthError, HubError

RELAY_BATCH_FACTOR = 4                  # server.relay's: a room hub's batch, in tablets' batches
DEVICE_STATE = "piazzetta_device"      # the device Guard authenticated, for routes.deps
ENVELOPE_SLACK = 1024                   # {"events":[…]} and commas around the events


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body passes its route's limit: FastAPI lets an
    HTTPException through its body parsing, and server.api answers it with 413."""

    def __init__(self, limit: int):
        super().__init__(413)
        self.limit = limit


class TooManyEvents(HTTPException):
    """Raised from `receive` when a batch holds more events than its caller may send."""

    def __init__(self, limit: int):
        super().__init__(413)
        self.limit = limit


def too_many_events(limit: int) -> HubError:
    return HubError(N_("Too many events in one batch: at most {max}."), status=413,
                    code="batch_too_large", max=limit, headers={"Connection": "close"})


class EventCounter:
    """Bounds, as a body's bytes arrive, what parsing it would cost, then counts its events.

    First at C speed: commas, braces and brackets (`bytes.count`) bound the number of JSON
    values the body can hold; while they stay within VALUES_PER_EVENT per allowed event (a real
    event has about 20), parsing it costs little and the batch's length is checked after
    parsing. Past that, the exact count takes over, from the first byte (the chunks seen are
    kept, as the request keeps them anyway): the elements of each array one level inside the
    top object (`{"events": [e1, e2, …]}`), by their commas outside strings — a regular
    expression finds the bytes that matter (quotes, backslashes, brackets, braces, commas),
    nothing is decoded. TooManyEvents when an array holds more than `limit`: a body of
    hundreds of thousands of tiny events is refused after a few kilobytes."""

    TOKENS = re.compile(rb'[\\"\[\]{},]')
    VALUES_PER_EVENT = 48

    def __init__(self, limit: int):
        self.limit = limit
        self.budget = limit * self.VALUES_PER_EVENT
        self.values = 0             # the cheap bound, while it holds
        self.seen: list[bytes] | None = []
        self.level = 0              # brackets and braces open
        self.array_at_2 = False     # the container open at level 2 is an array
        self.in_string = False
        self.skip = -1              # the offset of a byte escaped by a backslash
        self.offset = 0
        self.commas = 0
        self.structural = 0         # commas, brackets and braces outside strings, any depth
        self.max_values = self.budget

    def feed(self, data: bytes) -> None:
        if self.seen is not None:
            self.values += data.count(b",") + data.count(b"{") + data.count(b"[")
            self.seen.append(data)
            if self.values <= self.budget:
                return
            seen, self.seen = self.seen, None
            for chunk in seen:
                self._scan(chunk)
            return
        self._scan(data)

    def _scan(self, data: bytes) -> None:
        base = self.offset
        self.offset += len(data)
        for match in self.TOKENS.finditer(data):
            at = base + match.start()
            if at == self.skip:
                continue
            char = match.group()
            if self.in_string:
                if char == b"\\":
                    self.skip = at + 1
                elif char == b'"':
                    self.in_string = False
            elif char == b'"':
                self.in_string = True
            elif char in b"[{":
                self._count_value()
                self.level += 1
                if self.level == 2:
                    self.array_at_2 = char == b"["
                    self.commas = 0             # each such array on its own
            elif char in b"]}":
                self.level -= 1
            else:                                   # a comma
                self._count_value()
                if self.level == 2 and self.array_at_2:
                    self.commas += 1
                    if self.commas >= self.limit:   # limit + 1 elements at least
                        raise TooManyEvents(self.limit)

    def _count_value(self) -> None:
        # Values outside strings at any depth, not only the events' array: a body nesting
        # millions of tiny values elsewhere (`{"events": [], "x": [[{}, {}, …]]}`) would cost
        # as much to parse.
        self.structural += 1
        if self.structural > self.max_values:
            raise TooManyEvents(self.limit)


class BodyTimeout(HTTPException):
    def __init__(self, seconds: int):
        super().__init__(408)
        self.seconds = seconds


def too_large(limit: int) -> HubError:
    return HubError(N_("The request is too large: at most {limit} bytes are accepted here."),
                    status=413, code="body_too_large", limit=limit,
                    headers={"Connection": "close"})


def too_slow(seconds: int) -> HubError:
    return HubError(N_("The request was sent too slowly: each part must come within "
                       "{seconds} seconds."), status=408, code="body_timeout", seconds=seconds,
                    headers={"Connection": "close"})


class Guard:
    """Authentication of the routes that have a body worth fearing, then the body's limit."""

    def __init__(self, app, hub, error_response, session_routes=None, staff_session=None):
        self.app = app
        self.hub = hub
        self.error_response = error_response    # server.api.error_response(request, err, status)
        # Dashboard forms with a body larger than the rest (the sheet upload): {(method, path):
        # byte limit}, for a staff session only: staff_session(request) says whether the
        # request's cookie names a live one (server.routes.dashboard.session_of).
        self.session_routes = dict(session_routes or {})
        self.staff_session = staff_session

    def rule(self, method: str, path: str) -> tuple[int, str | None]:
        """(byte limit, who must call: "device", "relay", "staff", "session" or None) for a
        request."""
        s = self.hub.settings
        if (method, path) in self.session_routes:
            return self.session_routes[(method, path)], "session"
        if path == "/api/v1/events":
            return s.max_batch * s.event_max_bytes + ENVELOPE_SLACK, "device"
        if path == "/api/v1/relay/events":     # a room hub's batch (server.relay)
            return RELAY_BATCH_FACTOR * s.max_batch * s.event_max_bytes + ENVELOPE_SLACK, "relay"
        if path == "/api/v1/relay/devices":
            return s.body_max_bytes * 4, "relay"
        if path == "/api/v1/relay/closings":   # signed closing records (server/closing.py)
            return s.bundle_max_bytes, "relay"
        if path.startswith("/api/v1/relay/"):
            return s.body_max_bytes, "relay"
        if path.startswith("/api/v1/admin"):
            if method == "POST" and path.rstrip("/") == "/api/v1/admin/consultations":
                return s.bundle_max_bytes, "staff"
            return s.body_max_bytes, "staff"
        return s.body_max_bytes, None

    def batch_limit(self, path: str) -> int | None:
        """How many events a batch route's body may hold, or None for other routes."""
        s = self.hub.settings
        if path == "/api/v1/events":
            return s.max_batch
        if path == "/api/v1/relay/events":
            return RELAY_BATCH_FACTOR * s.max_batch
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, who = self.rule(scope["method"], scope["path"])
        headers = dict(scope.get("headers") or ())
        if who == "session":
            live = await run_in_threadpool(self.staff_session, Request(scope))
            if not live:
                return await self._refuse(scope, receive, send, AuthError(
                    N_("A staff token is needed."), "staff_only"))
        elif who is not None:
            refused = await self._authenticate(scope, headers.get(b"authorization"), who)
            if refused is not None:
                return await self._refuse(scope, receive, send, refused)
        batch = self.batch_limit(scope["path"]) if scope["method"] == "POST" else None
        counter = EventCounter(batch) if batch is not None else None
        length = headers.get(b"content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > limit):
            return await self._refuse(scope, receive, send, too_large(limit))
        seen = 0
        timeout = self.hub.settings.body_timeout
        done = False

        async def bounded_receive():
            nonlocal seen, done
            if done:     # the body is all read: what comes now is a disconnect, wait for it
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except asyncio.TimeoutError:
                raise BodyTimeout(timeout) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
                if counter is not None:
                    counter.feed(message.get("body", b""))
                done = not message.get("more_body", False)
            return message

        try:
            await self.app(scope, bounded_receive, send)
        except BodyTooLarge:   # read outside FastAPI's body parsing, before any answer
            await self._refuse(scope, receive, send, too_large(limit))
        except TooManyEvents as exc:
            await self._refuse(scope, receive, send, too_many_events(exc.limit))
        except BodyTimeout:
            await self._refuse(scope, receive, send, too_slow(timeout))

    async def _authenticate(self, scope, authorization: bytes | None, who: str):
        value = authorization.decode("latin-1") if authorization else None
        if who == "staff":
            if self.hub.is_admin(value):
                return None
            return AuthError(N_("A staff token is needed."), "staff_only")
        try:
            device = await run_in_threadpool(self.hub.authenticate, value)
        except AuthError as exc:
            return exc
        if who == "relay" and device.get("kind") != "relay":
            # A tablet's credential never gets a room hub's route, nor its larger limit.
            return HubError(N_("Only a room hub may call this."), status=403, code="relay_only")
        scope.setdefault("state", {})[DEVICE_STATE] = device
        return None

    async def _refuse(self, scope, receive, send, error: HubError):
        response = self.error_response(Request(scope, receive), error, error.status)
        response.headers["Connection"] = "close"   # the unread body must not be read as a request
        await response(scope, receive, send)


# -- slow clients --------------------------------------------------------------------------------

def guarded_protocol(header_timeout: float, max_connections: int, per_address: int = 0,
                     exempt: tuple[str, ...] = ()):
    """uvicorn's HTTP protocol class with what uvicorn 0.54 lacks: a deadline for a request's
    head (uvicorn only times out a connection idle *after* a response, so a client that connects
    and sends nothing, or one header byte a second, holds its descriptor for ever), a cap on
    open connections that closes the ones over it at once rather than letting them pile up to
    the process's descriptor limit (uvicorn's limit_concurrency only answers 503 to complete
    requests; it never closes a half-sent one), and the same cap per peer address
    (`per_address`, 0 for none; the `exempt` addresses, trusted reverse proxies, have none):
    one address holding hundreds of connections cannot starve the others, as nginx's
    `limit_conn` per address does in front of a hub that has a proxy. The count is the
    event loop's, one process's."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
        import httptools  # noqa: F401  (uvicorn's "auto" picks it when installed)
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base
    from .limits import address_owner, is_trusted
    open_from: dict[str, int] = {}      # peer address -> open connections (the loop's thread)

    class GuardedProtocol(Base):
        _head_timer = None
        _peer: str | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                self._refuse(transport)  # no answer: a flood gets nothing to read
                return
            if per_address:
                peer = (transport.get_extra_info("peername") or ("?",))[0]
                if not is_trusted(peer, exempt):
                    peer = address_owner(peer)          # an IPv6 client's /64
                    if open_from.get(peer, 0) >= per_address:
                        self._refuse(transport)
                        return
                    open_from[peer] = open_from.get(peer, 0) + 1
                    self._peer = peer
            self._arm()

        def _refuse(self, transport) -> None:
            transport.abort()
            # Counted no more at once: a burst of refused connections, whose connection_lost
            # comes later, must not make the next client look like one too many.
            self.connections.discard(self)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._follow()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._follow()

        def connection_lost(self, exc) -> None:
            self._disarm()
            if self._peer is not None:
                left = open_from.get(self._peer, 1) - 1
                if left > 0:
                    open_from[self._peer] = left
                else:
                    open_from.pop(self._peer, None)
                self._peer = None
            super().connection_lost(exc)

        def _in_flight(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _follow(self) -> None:
            """A request in flight is the Guard's (body_timeout); between requests, the head
            of the next one must arrive within header_timeout."""
            if self._in_flight():
                self._disarm()
            elif self._head_timer is None:
                self._arm()

        def _arm(self) -> None:
            self._head_timer = self.loop.call_later(header_timeout, self._head_late)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            self._head_timer = None
            if not self._in_flight() and not self.transport.is_closing():
                self.transport.close()

    return GuardedProtocol
