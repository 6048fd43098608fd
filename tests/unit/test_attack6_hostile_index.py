"""A bundle index whose addresses leave the hub (attack6): a hostile central hub, or a room hub
answering its tablets, names a file at `http://elsewhere/…`. The client fetched it with the
session's `Authorization: Bearer device:secret` — to another host, over plain HTTP, where the
hall's Wi-Fi reads it. Now an address outside the hub's origin is refused before any request.
Real HTTP servers stand for the hostile hub and for the elsewhere; the room hub is the real one."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from server import upstream
from sync.client import HubClient
from sync.protocol import API_PREFIX, PROTOCOL_VERSION, NotAcknowledged


class Elsewhere(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Hostile(BaseHTTPRequestHandler):
    index: dict = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = json.dumps({"protocol": PROTOCOL_VERSION, **type(self).index}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture()
def servers():
    hostile, elsewhere = _serve(Hostile), _serve(Elsewhere)
    Elsewhere.seen = []
    yield hostile, f"http://127.0.0.1:{elsewhere.server_address[1]}"
    for server in (hostile, elsewhere):
        server.shutdown()
        server.server_close()


def test_a_room_hub_sends_no_credential_to_an_address_its_index_names_elsewhere(hub, servers):
    hostile, elsewhere = servers
    central = HubClient(f"http://127.0.0.1:{hostile.server_address[1]}", "room", "secret")
    Hostile.index = {"consultations": [{"id": "alpimed-2030", "sha256": "b" * 64,
                                        "bundle_url": f"{elsewhere}/bundle.json",
                                        "files": []}]}
    with pytest.raises(NotAcknowledged):
        upstream.pull_bundles(hub, central, {})
    Hostile.index = {"consultations": [{"id": "alpimed-2030", "sha256": "b" * 64,
                                        "bundle_url": "/b", "files": [
                                            {"path": "images/cover.png", "sha256": "c" * 64,
                                             "url": f"{elsewhere}/cover.png"}]}]}
    with pytest.raises(NotAcknowledged):
        upstream.pull_bundles(hub, central, {})
    assert Elsewhere.seen == []                  # no request, so no credential, left the hub
    assert hub.consultation("alpimed-2030").version == 1


def test_a_client_reaches_only_its_hub(servers):
    hostile, _elsewhere = servers
    base = f"http://127.0.0.1:{hostile.server_address[1]}"
    client = HubClient(base, "tablet", "secret")
    for outside in ("https://elsewhere.example/x", "http://127.0.0.1:9/x",
                    f"https://127.0.0.1:{hostile.server_address[1]}/x"):
        with pytest.raises(NotAcknowledged):
            client.url(outside)
    # "//host/…" and "/…" are paths on the hub, not other hosts.
    assert client.url("//elsewhere.example/x") == base + "/elsewhere.example/x"
    assert client.url(f"{base}/api/v1/bundle") == base + "/api/v1/bundle"


class Counting(Hostile):
    asked: list = []
    bundles: list = []

    def do_GET(self):
        if self.path == f"{API_PREFIX}/cards":          # a tablet asks its card checks first
            body = json.dumps({"protocol": PROTOCOL_VERSION, "keys": {}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path != f"{API_PREFIX}/bundle":
            type(self).asked.append(self.path)
            if self.path.startswith("/t/"):        # a valid bundle, spelt its own way
                body = type(self).bundles[int(self.path[3:])]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


def test_an_index_naming_one_consultation_many_times_is_fetched_once(hub):
    """attack6: the index (up to 32 MiB) may name one consultation 100,000 times, each with
    another hash: the room hub fetched its bundle once per entry, every pull."""
    server = _serve(Counting)
    Counting.asked = []
    Counting.index = {"consultations": [{"id": "alpimed-2030", "sha256": f"{n:064x}",
                                         "bundle_url": f"/b/{n}", "files": []}
                                        for n in range(200)]}
    try:
        central = HubClient(f"http://127.0.0.1:{server.server_address[1]}", "room", "secret")
        with pytest.raises(NotAcknowledged):
            upstream.pull_bundles(hub, central, {})
        assert Counting.asked == ["/b/0"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_tablet_fetches_a_consultation_named_many_times_once(tmp_path):
    """The same index from a hostile room hub to its tablets (sync.content.pull_bundles)."""
    from app.store import Store
    from sync.content import pull_bundles
    server = _serve(Counting)
    Counting.asked = []
    import hashlib

    from app.paths import DEMO_BUNDLE_DIR
    bundle = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text(encoding="utf-8"))
    Counting.bundles = [json.dumps(bundle, indent=n % 8).encode() + b" " * n
                        for n in range(20)]
    Counting.index = {"consultations": [
        {"id": "alpimed-2030", "sha256": hashlib.sha256(body).hexdigest(),
         "bundle_url": f"/t/{n}", "files": []} for n, body in enumerate(Counting.bundles)]}
    store = Store.memory()
    try:
        client = HubClient(f"http://127.0.0.1:{server.server_address[1]}", "tab", "secret")
        try:
            pull_bundles(store, client, tmp_path / "bundles")
        except NotAcknowledged:
            pass                     # the bundle's 404: what counts is how often it was asked
        assert [a for a in Counting.asked if a.startswith("/t/")] == ["/t/0"]
    finally:
        store.close()
        server.shutdown()
        server.server_close()
