"""Attack review of issue 26's leftovers, hub addresses that look like this machine: the
plain-http rule (https://, or http:// to this machine) reads an address with urlsplit, while
requests reads it with urllib3, which ends the host at a backslash. `http://evil\\@127.0.0.1`
looked like loopback to the rule and sent the request, in clear, to `evil` — a projector's
results, a tablet's enrollment. A real HTTP server on this machine's network address stands
for `evil` and counts what reaches it."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from urllib3.util import parse_url

from app.store import Store
from sync import protocol as p
from sync.client import loopback, normalize_hub_url, require_tls
from sync.display import projector_results
from sync.enroll import enroll
from sync.results_source import PLAIN_HTTP_RESULTS

from tests.unit.test_attack26_public_bundle import this_machine_on_the_network
from tests.unit.test_results_plain_http import first_poll


class Evil(BaseHTTPRequestHandler):
    asked: list = []

    def log_message(self, *args):
        pass

    def _any(self):
        type(self).asked.append((self.command, self.path))
        self.send_error(404)

    do_GET = do_POST = do_PUT = _any


@pytest.fixture()
def evil():
    server = ThreadingHTTPServer(("0.0.0.0", 0), Evil)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Evil.asked = []
    yield f"{this_machine_on_the_network()}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def looks_local(evil: str) -> list[str]:
    port = evil.rpartition(":")[2]
    return [f"http://{evil}\\@127.0.0.1:{port}", f"http://{evil}\\@localhost:{port}",
            f"http://{evil}\\x@[::1]:{port}", f"http://{evil}@127.0.0.1:{port}",
            f"HTTP://{evil}\\@127.0.0.1:{port}"]


def test_an_address_is_this_machine_for_the_rule_only_when_it_is_for_requests():
    """Every address the rule lets through over http:// goes where the rule thinks: urllib3
    (what requests connects to) reads the same loopback host."""
    tricky = ["http://127.0.0.1.evil", "http://localhost@evil", "http://[::1]:8765",
              "http://0x7f000001", "http://127.1", "http://2130706433", "HTTP://evil",
              "http://evil\\@127.0.0.1", "http://evil:80\\@127.0.0.1:80",
              "http://evil\\@localhost", "http://evil@localhost", "http://127.0.0.1\\@evil",
              "http://evil%5c@127.0.0.1", "http://[::ffff:127.0.0.1]", "http://localhost.evil",
              "http://ｌｏｃａｌｈｏｓｔ", "http://xn--localhost-", "http://evil;\\@127.0.0.1",
              "http://localhost#@evil", "http://localhost?@evil"]
    let_through = []
    for url in tricky:
        try:
            address = require_tls(normalize_hub_url(url))
        except p.SyncError:
            continue
        let_through.append(url)
        assert loopback(parse_url(address).host) and loopback(urlsplit(address).hostname), url
    assert let_through == ["http://[::1]:8765"]


def test_a_projector_reads_nothing_from_an_address_that_only_looks_local(evil, demo):
    for address in looks_local(evil):
        poll = first_poll(projector_results(demo, hub_url=address), wait=10.0)
        assert not poll.reachable and poll.snapshot is None, address
        assert poll.problem in (PLAIN_HTTP_RESULTS, "Hub unreachable"), address
    assert Evil.asked == []                 # not one request reached the other machine


def test_a_tablet_does_not_enroll_with_an_address_that_only_looks_local(evil):
    store = Store.memory()
    try:
        for address in looks_local(evil):
            with pytest.raises(p.SyncError):
                enroll(store, address, "ABCD-EFGH")
            assert store.get_setting(p.CREDENTIALS) is None
    finally:
        store.close()
    assert Evil.asked == []                 # its credential never crossed the network
