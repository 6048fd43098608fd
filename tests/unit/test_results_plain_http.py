"""A projector reading results from a hub over plain http:// to another machine (issue 26's
leftover): anyone on the hall's Wi-Fi could answer for the hub and put forged results on the
room's screen. It reads nothing from such an address and says why on its corner (the rule new
versions follow already: https://, or this machine). A real HTTP server on every address of
this machine stands for the hub and counts what reaches it."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sync.display import projector_results
from sync.results_source import PLAIN_HTTP_RESULTS

from tests.unit.test_attack26_public_bundle import this_machine_on_the_network


class Counting(BaseHTTPRequestHandler):
    asked: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).asked.append(self.path)
        self.send_error(404)


@pytest.fixture()
def port():
    server = ThreadingHTTPServer(("0.0.0.0", 0), Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Counting.asked = []
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def first_poll(watch, wait: float = 20.0):
    polls = []
    poller = watch(polls.append)
    try:
        deadline = time.monotonic() + wait
        while not polls and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)           # room for any request the poller would make
    finally:
        poller.stop()
    assert polls, "no poll delivered"
    return polls[0]


@pytest.mark.parametrize("rehearsal", [False, True])
def test_results_are_not_read_over_plain_http_from_another_machine(port, demo, rehearsal):
    address = f"http://{this_machine_on_the_network()}:{port}"
    poll = first_poll(projector_results(demo, hub_url=address, rehearsal=rehearsal))
    assert not poll.reachable and poll.snapshot is None and poll.control is None
    assert poll.problem == PLAIN_HTTP_RESULTS and "https://" in poll.problem
    assert Counting.asked == []                 # not one request: nothing to forge


def test_this_machine_over_plain_http_is_still_read(port, demo):
    """`make run` and the tests' hubs: plain http:// on 127.0.0.1 is asked as before."""
    poll = first_poll(projector_results(demo, hub_url=f"http://127.0.0.1:{port}"))
    assert poll.problem != PLAIN_HTTP_RESULTS
    assert any("/results" in path for path in Counting.asked)
