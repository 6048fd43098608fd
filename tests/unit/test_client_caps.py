"""A hostile hub (a room hub on a hall's Wi-Fi, a captive portal answering for it) cannot fill
a tablet's memory: the client reads at most sync.client.MAX_ANSWER_BYTES of a JSON answer and
MAX_FILE_BYTES of a file, whether the excess is announced or only sent. A real HTTP server
stands for the hostile hub."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sync.client import MAX_ANSWER_BYTES, MAX_FILE_BYTES, HubClient
from sync.protocol import API_PREFIX, PROTOCOL_VERSION, NotAcknowledged


class Hostile(BaseHTTPRequestHandler):
    sent: dict = {}

    def log_message(self, *args):   # quiet
        pass

    def do_GET(self):
        if self.path == API_PREFIX:
            body = json.dumps({"protocol": PROTOCOL_VERSION, "name": "ok"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path.endswith("/announced"):
            # Claims a huge body and sends a little: refused on the claim alone.
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(10 * MAX_FILE_BYTES))
            self.end_headers()
            self.wfile.write(b"{" * 1024)
        else:
            # No length: sends until the client hangs up (or far past any cap).
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk, sent = b" " * (1024 * 1024), 0
            try:
                while sent < 4 * MAX_FILE_BYTES:
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            type(self).sent[self.path] = sent


@pytest.fixture()
def hostile():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = HubClient(f"http://127.0.0.1:{server.server_address[1]}", "d1", "s1")
    yield client
    client.close()
    server.shutdown()
    server.server_close()


def test_a_normal_answer_is_read(hostile):
    assert hostile.info()["name"] == "ok"


def test_an_announced_huge_answer_is_refused_unread(hostile):
    with pytest.raises(NotAcknowledged) as refused:
        hostile.get_json(f"{API_PREFIX}/announced")
    assert refused.value.detail == "answer too large"
    with pytest.raises(NotAcknowledged) as refused:
        hostile.get_bytes("/files/announced")
    assert refused.value.detail == "answer too large"


def test_an_endless_json_answer_stops_at_the_cap(hostile):
    with pytest.raises(NotAcknowledged) as refused:
        hostile.get_json(f"{API_PREFIX}/endless")
    assert refused.value.detail == "answer too large"
    # The client hung up soon after the cap: the server could not send it all.
    sent = Hostile.sent.get(f"{API_PREFIX}/endless")
    assert sent is None or sent < 4 * MAX_FILE_BYTES


def test_an_endless_file_stops_at_the_file_cap(hostile):
    with pytest.raises(NotAcknowledged) as refused:
        hostile.get_bytes("/files/endless")
    assert refused.value.detail == "answer too large"
    assert MAX_ANSWER_BYTES < MAX_FILE_BYTES
