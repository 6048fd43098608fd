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


def test_the_per_address_cap_is_not_dodged_behind_the_proxy_nor_over_ipv6(hub):
    """Behind a trusted proxy the client writes the left of X-Forwarded-For, the proxy adds
    the address it saw: forged entries change nothing. An IPv6 client picks any address of its
    /64: the /64 is what counts."""
    from dataclasses import replace

    from server.results_stream import stream_owner
    from tests.unit.test_results_stream import Served
    hub.settings = replace(hub.settings, stream_heartbeat=1, stream_max=50,
                           stream_max_per_address=3, trusted_proxies=("127.0.0.1",))
    served = Served(hub)
    url = f"{served.url}/api/v1/consultations/{CID}/results/stream"
    try:
        for seen_by_proxy, forged in (("203.0.113.7", "198.51.100.{n}"),
                                      ("2001:db8:1:2::{n}", "2001:db8:9::{n}")):
            readers = []
            for n in range(1, 4):
                readers.append(Reader(served.url, {"X-Forwarded-For": (
                    forged.format(n=n) + ", " + seen_by_proxy.format(n=n))}))
                assert readers[-1].response.status_code == 200
                readers[-1].next_event("results")
            refused = requests.get(url, headers={"X-Forwarded-For": forged.format(n=9) + ", "
                                                 + seen_by_proxy.format(n=9)}, timeout=5)
            assert refused.status_code == 429, seen_by_proxy
            assert refused.json()["error"]["code"] == "too_many_streams"
            for reader in readers:
                reader.close()
    finally:
        served.stop()
    assert stream_owner("2001:db8:1:2:aaaa::1") == stream_owner("2001:db8:1:2::9") == \
        "2001:db8:1:2::/64"
    assert stream_owner("::ffff:203.0.113.7") == "203.0.113.7" == stream_owner("203.0.113.7")
    assert stream_owner("unknown") == "unknown"


def test_the_stream_says_no_more_than_the_public_gets(served):
    """What a stranger reads on the stream is byte for byte what the public GETs give (the
    results, with whatever the hub leaves out of them, and the display state): nothing more."""
    display_controls.set_display(served.hub, CID, {"hidden": True}, "staff")
    reader = Reader(served.url)
    results, display = reader.next_event("results"), reader.next_event("display")
    reader.close()
    base = f"{served.url}/api/v1/consultations/{CID}"
    assert results["data"].encode() == requests.get(f"{base}/results", timeout=5).content
    assert display["data"].encode() == requests.get(f"{base}/display", timeout=5).content


def test_the_projector_parser_bounds_an_event_that_never_ends():
    """A hub (a room hub that is not ours, a proxy) sending data lines without the blank line
    that ends an event: the projector's parser gives up past MAX_EVENT_BYTES instead of holding
    every line (a line alone was bounded, their sum was not)."""
    from sync.results_source import MAX_EVENT_BYTES, sse_events
    line = b"data: " + b"x" * 65536 + b"\n"
    sent = 0

    def endless():          # endless as far as the parser can tell: 3 × its bound
        nonlocal sent
        while sent < 3 * MAX_EVENT_BYTES:
            sent += len(line)
            yield line
    try:
        for _ in sse_events(endless()):
            pass
    except ValueError:
        pass
    assert sent <= MAX_EVENT_BYTES + 2 * len(line)
    # events of their normal size still read, one after the other
    normal = b"id: a~1\nevent: results\ndata: {}\n\n" * 3
    assert list(sse_events([normal] * 200))[-1] == ("results", "a~1", "{}")
