"""A room hub pulling its consultations from a hostile central hub (or whoever answers for it
on the hall's uplink): the same caps as a tablet's pull (sync.content) — bundle.json as a JSON
answer, each file at its kind's limit — and a bundle is imported only as the consultation the
index names (a bundle of another consultation under its entry would replace that one). A real
HTTP server stands for the hostile central hub; the room hub is the real one on SQLite."""
from __future__ import annotations

import copy
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.bundle import MAX_IMAGE_BYTES
from app.paths import DEMO_BUNDLE_DIR
from server import upstream
from sync.client import HubClient
from sync.protocol import API_PREFIX, PROTOCOL_VERSION, NotAcknowledged


def _demo_at(version: int, title: str = "") -> bytes:
    bundle = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text(encoding="utf-8"))
    bundle["consultation"]["version"] = version
    if title:
        bundle["consultation"]["title"] = {"fr": title, "it": title, "en": title}
    return json.dumps(bundle).encode()


def _demo_changed() -> bytes:
    """The demo consultation as version 9 with another title and no files: what a hostile
    central hub would put over the room's real one."""
    bundle = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text(encoding="utf-8"))
    forged = copy.deepcopy(bundle)
    forged["consultation"]["version"] = 9
    forged["consultation"]["title"] = {"fr": "Faux", "it": "Falso", "en": "Fake"}
    return json.dumps(forged).encode()


class Central(BaseHTTPRequestHandler):
    index: dict = {}
    sent: dict = {}
    bodies: dict = {}          # more bundle.json answers, by path

    def log_message(self, *args):   # quiet
        pass

    def _json(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == API_PREFIX:
            self._json(json.dumps({"protocol": PROTOCOL_VERSION, "name": "c"}).encode())
        elif self.path == f"{API_PREFIX}/bundle":
            self._json(json.dumps({"protocol": PROTOCOL_VERSION, **type(self).index}).encode())
        elif self.path == "/b/forged":
            self._json(_demo_changed())
        elif self.path in type(self).bodies:
            self._json(type(self).bodies[self.path])
        else:                   # an endless "image": sends until the room hub hangs up
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk, sent = b"\x00" * (1024 * 1024), 0
            try:
                while sent < 80 * 1024 * 1024:
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            type(self).sent[self.path] = sent


@pytest.fixture()
def central():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Central)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield HubClient(f"http://127.0.0.1:{server.server_address[1]}", "room", "secret")
    server.shutdown()
    server.server_close()


def _title(hub) -> str:
    return hub.consultation("alpimed-2030").title["fr"]


def test_a_bundle_of_another_consultation_is_not_imported(hub, central):
    before = _title(hub)
    Central.index = {"consultations": [{"id": "quartier-nord", "sha256": "a" * 64,
                                        "bundle_url": "/b/forged", "files": []}]}
    assert upstream.pull_bundles(hub, central, {}) == []
    assert _title(hub) == before
    assert hub.consultation("alpimed-2030").version == 1


def test_a_file_is_read_no_further_than_its_kind_allows(hub, central):
    Central.sent.clear()
    Central.index = {"consultations": [{"id": "alpimed-2030", "sha256": "b" * 64,
                                        "bundle_url": "/b/forged",
                                        "files": [{"path": "images/cover.png",
                                                   "url": "/f/endless.png",
                                                   "sha256": "c" * 64}]}]}
    with pytest.raises(NotAcknowledged):
        upstream.pull_bundles(hub, central, {})
    # The room hub hung up past an image's limit, not at the 65 MB any file may be.
    for _ in range(50):
        if "/f/endless.png" in Central.sent:
            break
        threading.Event().wait(0.1)
    assert Central.sent["/f/endless.png"] < MAX_IMAGE_BYTES + 8 * 1024 * 1024
    assert hub.consultation("alpimed-2030").version == 1


def test_a_version_going_back_or_a_draft_is_not_imported_nor_downloaded(hub, central):
    """The room holds version 3. A central hub going back (a replay, an old backup) lists
    version 2 — with an endless image — or 3 with other bytes, or a draft: nothing is
    downloaded, nothing imported. One whose index says 10 while its bundle says 2 is fetched,
    and refused by the import's own rule."""
    hub.import_bundle(json.loads(_demo_at(3, "Trois")))
    Central.sent.clear()
    endless = [{"path": "images/cover.png", "url": "/f/endless.png", "sha256": "c" * 64}]
    for entry in ({"version": 2}, {"version": 3}, {"version": 9, "draft": True}):
        Central.index = {"consultations": [{"id": "alpimed-2030", "sha256": "d" * 64,
                                            "bundle_url": "/b/forged", "files": endless,
                                            **entry}]}
        assert upstream.pull_bundles(hub, central, {}) == []
    assert Central.sent == {}                      # the endless image never asked
    low = _demo_at(2, "Deux")
    Central.bodies = {"/b/low": low}
    Central.index = {"consultations": [{"id": "alpimed-2030", "version": 10, "files": [],
                                        "sha256": hashlib.sha256(low).hexdigest(),
                                        "bundle_url": "/b/low"}]}
    assert upstream.pull_bundles(hub, central, {}) == []
    assert hub.consultation("alpimed-2030").version == 3 and _title(hub) == "Trois"
