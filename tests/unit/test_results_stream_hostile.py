"""The results stream (server/results_stream.py) under hostile clients: a Last-Event-ID that is
no id, a reader that never reads while the results change, a flood past the caps. The hub from
its factory served by uvicorn in this process, as tests/unit/test_results_stream.py does."""
from __future__ import annotations

import resource
import socket
import time

import requests

from server import display_controls
from tests.unit.test_results_stream import CID, Reader, served  # noqa: F401  (fixture)


def test_a_last_event_id_that_is_no_id_gets_the_whole_state(served):
    # '²' (byte 0xB2 in a latin-1 header) is a digit to str.isdigit but not to int()
    for junk in ("x~\xb2", "x~\xb9\xb3", "~", "\x01~\x02", "a" * 299 + "~",
                 "x~" + "9" * 290, "x~-1", "x~1e3"):
        reader = Reader(served.url, {"Last-Event-ID": junk})
        assert reader.response.status_code == 200, junk
        assert reader.next() == {"retry": "2000"}
        assert reader.next_event()["event"] == "results", junk
        reader.close()
    too_long = requests.get(f"{served.url}/api/v1/consultations/{CID}/results/stream",
                            headers={"Last-Event-ID": "x" * 301}, timeout=5)
    assert too_long.status_code == 422
    deadline = time.monotonic() + 5
    while served.app.state.streams.count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served.app.state.streams.count == 0


def test_a_reader_that_never_reads_holds_back_no_one_and_no_memory(served):
    """Slowloris: streams whose reader never reads while the display changes 600 times; the
    hub reads the latest state at each wake (no queue of events per stream), a
    reader that reads still gets every change, and the hub's memory stays put."""
    stuck = []
    for _ in range(2):
        s = socket.create_connection(("127.0.0.1", served.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(f"GET /api/v1/consultations/{CID}/results/stream HTTP/1.1\r\n"
                  f"Host: x\r\n\r\n".encode())
        stuck.append(s)
    reader = Reader(served.url)
    reader.next_event("display")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for n in range(600):
        display_controls.set_display(served.hub, CID, {"hidden": n % 2 == 0}, "staff")
    last = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        event = reader.next_event("display")
        last = event["id"].rsplit("~", 1)[1]
        if last == "600":
            break
    assert last == "600"
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"max RSS grown by {grown_kb} KB with 2 stuck readers and 600 changes")
    assert grown_kb < 50_000
    assert served.app.state.streams.count == 3
    for s in stuck:
        s.close()
    reader.close()
    deadline = time.monotonic() + 5      # each stuck stream is counted out at its next write
    while served.app.state.streams.count and time.monotonic() < deadline:
        display_controls.set_display(served.hub, CID, {"hidden": True}, "staff")
        time.sleep(0.1)
    assert served.app.state.streams.count == 0
