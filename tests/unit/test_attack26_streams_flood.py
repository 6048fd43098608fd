"""Issue 26 under attack from the internet: 250 result streams opened at once by readers that
never read (the hub's caps let 200 through, the rest get 429), while votes keep changing the
results. The hub from its factory served by uvicorn in this process (test_results_stream's
`served`), a real ingest, raw sockets for the readers."""
from __future__ import annotations

import os
import resource
import socket
import threading
import time
from dataclasses import replace

import pytest
import requests

from tests.unit.test_results_stream import CID, Reader, Served


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def wide(hub):
    hub.settings = replace(hub.settings, stream_heartbeat=1, stream_max=200,
                           stream_max_per_address=1000)
    s = Served(hub)
    yield s
    if s.thread.is_alive():
        s.stop()


@pytest.mark.slow        # 250 connections and 300 changes
def test_250_streams_that_never_read_leave_the_hub_serving_and_give_everything_back(wide):
    from server import display_controls
    fds, threads = open_fds(), threading.active_count()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sockets, statuses = [], []
    for _ in range(250):
        s = socket.create_connection(("127.0.0.1", wide.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(f"GET /api/v1/consultations/{CID}/results/stream HTTP/1.1\r\n"
                  f"Host: x\r\n\r\n".encode())
        sockets.append(s)
    for s in sockets:                       # the status line only; the body is never read
        s.settimeout(10)
        statuses.append(s.recv(12)[9:12])
    assert statuses.count(b"200") == 200 and statuses.count(b"429") == 50
    assert wide.app.state.streams.count == 200
    # The display changes 300 times: every stuck stream is woken each time.
    started = time.monotonic()
    for n in range(300):
        display_controls.set_display(wide.hub, CID, {"hidden": n % 2 == 0}, "staff")
    took = time.monotonic() - started
    # The hub still answers at once (its event loop is not held by the stuck streams), and a
    # stream that reads gets the latest state... once a place is free.
    answer = requests.get(f"{wide.url}/api/v1/consultations/{CID}/results", timeout=5)
    assert answer.status_code == 200
    assert requests.get(f"{wide.url}/api/v1/consultations/{CID}/results/stream",
                        timeout=5).status_code == 429
    sockets.pop().close()
    sockets.pop(0).close()
    deadline = time.monotonic() + 10
    while wide.app.state.streams.count > 199 and time.monotonic() < deadline:
        time.sleep(0.05)
    reader = Reader(wide.url)
    event = reader.next_event("display")
    assert event["id"].rsplit("~", 1)[1] == "300"
    reader.close()
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"300 changes with 200 stuck streams in {took:.2f} s; max RSS grown {grown_kb} KB; "
          f"threads {threads} → {threading.active_count()}; load {os.getloadavg()[0]:.1f}")
    assert grown_kb < 100_000
    assert threading.active_count() <= threads + 2     # streams hold no thread
    for s in sockets:
        s.close()
    deadline = time.monotonic() + 20
    while wide.app.state.streams.count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wide.app.state.streams.count == 0
    deadline = time.monotonic() + 10
    while open_fds() > fds + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_fds() <= fds + 5
