"""A small TCP proxy on 127.0.0.1 that breaks connections on purpose.

Each request takes the next fault from a queue (then requests pass through, each on its own
upstream connection, so that faults hit requests on kept-alive connections too):
    "reset_request"  forward only part of the request, then reset both sides
    "cut_response"   forward the request, let the hub answer, send back only half of it, close
    "stall"          read the request and never answer (the client must time out)
    "http500"        answer 500 without reaching the hub
    "http429"        answer 429 with Retry-After: 30 without reaching the hub (a proxy's or
                     a load balancer's rate limit)
    "http503"        answer 503 with Retry-After: 30 without reaching the hub (a hub full)
    "portal"         answer a captive portal's 200 HTML page without reaching the hub
    "refuse"         close at once (like a hub that is not there)
    "hold"           read the request, answer nothing for `hold_seconds` (past the client's
                     timeout), then deliver it to the hub anyway and drop the answer: a
                     request held back by the network that arrives late
    "slow"           wait `slow_seconds`, then pass the request through (a congested link)
    "replay"         pass the request through, and deliver a copy of it again `hold_seconds`
                     later (a duplicated packet, a replay)

`chaos(rate, kinds, seed)` draws faults at random instead (once the queue is empty): each
request gets one of `kinds` with probability `rate`. `late_deliveries` counts the held and
replayed copies that reached the hub, `late_answers` their answers' status lines.

A test that knows when the late copies should arrive says so: `release()` sends every held and
replayed copy now (and those held later at once), instead of after `hold_seconds` of the wall
clock; `settle(timeout)` waits until none is on its way.
"""
from __future__ import annotations

import collections
import random
import select
import socket
import struct
import threading
import time

PORTAL = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 58\r\n"
          b"Connection: close\r\n\r\n<html><body>Please log in to the Wi-Fi</body></html>\n\n\n\n\n\n")
ERROR_429 = (b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\n"
             b"Retry-After: 30\r\nContent-Length: 5\r\nConnection: close\r\n\r\nslow\n")
ERROR_503 = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
             b"Retry-After: 30\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfull\n")
ERROR_500 = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
             b"Content-Length: 5\r\nConnection: close\r\n\r\noops\n")


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _read_request(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """One whole HTTP request (headers and Content-Length body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class FaultProxy:
    def __init__(self, upstream_port: int, *, hold_seconds: float = 3.0,
                 slow_seconds: float = 8.0):
        self.upstream_port = upstream_port
        self.hold_seconds = hold_seconds
        self.slow_seconds = slow_seconds
        self.faults: collections.deque[str] = collections.deque()
        self.connections = 0
        self.faults_done: list[str] = []
        self.late_deliveries = 0
        self.late_answers: list[bytes] = []
        self._late_on_the_way = 0
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._chaos: tuple[float, tuple[str, ...], random.Random] | None = None
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def add(self, *faults: str) -> None:
        self.faults.extend(faults)

    def chaos(self, rate: float, kinds: tuple[str, ...], seed: int = 0) -> None:
        """Draw a fault from `kinds` for a share `rate` of requests (0 stops the chaos)."""
        self._chaos = (rate, tuple(kinds), random.Random(seed)) if rate > 0 else None

    def release(self) -> None:
        """Held and replayed copies go now, not `hold_seconds` after they were taken."""
        self._released.set()

    def settle(self, timeout: float = 30.0) -> bool:
        """Whether every held and replayed copy was delivered (or given up) within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._late_on_the_way == 0:
                    return True
            time.sleep(0.02)
        return False

    def _hold(self, seconds: float) -> bool:
        """Wait `seconds` or until released; whether the proxy was closed meanwhile."""
        deadline = time.monotonic() + seconds
        while not self._released.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.wait(min(left, 0.05)):
                break
        return self._stop.is_set()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select([self._server], [], [], 0.2)
                if not readable:
                    continue
                client, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _next_fault(self) -> str:
        with self._lock:
            try:
                fault = self.faults.popleft()
            except IndexError:
                if self._chaos is None:
                    return "pass"
                rate, kinds, rng = self._chaos
                if rng.random() >= rate:
                    return "pass"
                fault = rng.choice(kinds)
            self.faults_done.append(fault)
            return fault

    def _deliver_late(self, request: bytes, delay: float) -> None:
        """Send `request` to the hub after `delay` seconds, in the background."""
        def later():
            try:
                if self._hold(delay):
                    return
                try:
                    response = self._exchange(request)
                except OSError:
                    return
                with self._lock:
                    self.late_deliveries += 1
                    self.late_answers.append(response.split(b"\r\n", 1)[0])
            finally:
                with self._lock:
                    self._late_on_the_way -= 1
        with self._lock:
            self._late_on_the_way += 1
        threading.Thread(target=later, daemon=True).start()

    def _upstream(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.upstream_port), timeout=60)

    def _exchange(self, request: bytes) -> bytes:
        upstream = self._upstream()
        try:
            upstream.sendall(request)
            response = b""
            while not _complete(response):
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                response += chunk
            return response
        finally:
            upstream.close()

    def _handle(self, client: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                request = _read_request(client, timeout=120)
                if not request:
                    client.close()
                    return
                fault = self._next_fault()
                if fault == "slow":
                    if self._stop.wait(self.slow_seconds):
                        return
                    fault = "pass"
                elif fault == "replay":
                    self._deliver_late(request, self.hold_seconds)
                    fault = "pass"
                if fault == "pass":
                    try:
                        response = self._exchange(request)
                    except OSError:
                        _reset(client)
                        return
                    if not response:
                        _reset(client)
                        return
                    try:
                        client.sendall(response)
                    except OSError:        # the client gave up meanwhile (a slow request)
                        client.close()
                        return
                    continue
                if fault == "refuse":
                    _reset(client)
                elif fault in ("http500", "http429", "http503", "portal"):
                    client.sendall({"http500": ERROR_500, "http429": ERROR_429,
                                    "http503": ERROR_503}.get(fault, PORTAL))
                    client.close()
                elif fault == "stall":
                    deadline = time.monotonic() + 60
                    while not self._stop.is_set() and time.monotonic() < deadline:
                        readable, _, _ = select.select([client], [], [], 0.2)
                        if readable and not client.recv(65536):
                            break           # the client gave up (its timeout): good
                    client.close()
                elif fault == "reset_request":
                    upstream = self._upstream()
                    upstream.sendall(request[: max(1, len(request) // 2)])
                    _reset(upstream)
                    _reset(client)
                elif fault == "hold":
                    self._deliver_late(request, self.hold_seconds)
                    self._hold(self.hold_seconds)
                    _reset(client)
                elif fault == "cut_response":
                    response = self._exchange(request)
                    client.sendall(response[: len(response) // 2])
                    _reset(client)
                return
        except OSError:
            client.close()


def _complete(response: bytes) -> bool:
    head, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        return False
    status = head.split(b" ", 2)[1:2]
    if status in ([b"304"], [b"204"]):
        return True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False
