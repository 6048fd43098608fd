"""An enrolled tablet's pull (sync.content.pull_bundles) under the version rule the public
follow and the hub's import already kept (issue 26's leftovers): never below the highest
PUBLISHED version this tablet installed, nor that version with other bytes — while a draft
tried in rehearsal (issue 30, the index entry's `"draft": true`) may be replaced by the
published version, lower than it. Every refusal is a ContentRefused with its reason (not "a
login page"), and the version in use stays. A real HTTP server stands for a hub that lies (the
real hub never serves a version going back: tests/integration/test_live_refusals.py has the
real one restored from an old backup)."""
from __future__ import annotations

import copy
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.bundle import MAX_IMAGE_BYTES, load_bundle
from app.paths import DEMO_BUNDLE_DIR
from app.store import Store
from sync import protocol as p
from sync.client import HubClient
from sync.content import highest_published, installed_version, pull_bundles

DEMO_JSON = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text(encoding="utf-8"))
CID = DEMO_JSON["consultation"]["id"]


def bundle(version: int, title: str = "", cid: str = CID) -> bytes:
    data = copy.deepcopy(DEMO_JSON)
    data["consultation"]["version"] = version
    data["consultation"]["id"] = cid
    if title:
        data["consultation"]["title"] = {"fr": title, "it": title, "en": title}
    return json.dumps(data).encode()


class StandIn(BaseHTTPRequestHandler):
    """The hub's three routes a pull reads: the card index (empty), the bundle index (one
    entry: `entry`, with the hash of `body` unless it names one) and the bundle."""
    entry: dict = {}
    body: bytes = b""
    bundle_gets = 0

    def log_message(self, *args):
        pass

    def _json(self, data: dict) -> None:
        raw = json.dumps({"protocol": p.PROTOCOL_VERSION, **data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        cls = type(self)
        if self.path == f"{p.API_PREFIX}/cards":
            self._json({"keys": {}})
        elif self.path == f"{p.API_PREFIX}/bundle":
            self._json({"consultations": [{
                "id": CID, "sha256": hashlib.sha256(cls.body).hexdigest(),
                "bundle_url": "/b/bundle.json", "files": [], **cls.entry}]})
        elif self.path == "/f/huge.png":      # announces more than any image may hold
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(MAX_IMAGE_BYTES + 1))
            self.end_headers()
        elif self.path == "/b/bundle.json":
            cls.bundle_gets += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(cls.body)))
            self.end_headers()
            self.wfile.write(cls.body)
        else:
            self.send_error(404)


@pytest.fixture()
def tablet(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    StandIn.bundle_gets = 0
    store = Store.memory()
    client = HubClient(f"http://127.0.0.1:{server.server_address[1]}", "tab", "secret")
    folder = tmp_path / "bundles"

    def pull(version: int, *, draft: bool = False, title: str = "", **entry):
        StandIn.body = bundle(version, title, entry.pop("cid", CID))
        StandIn.entry = {"version": version, **({"draft": True} if draft else {}), **entry}
        return pull_bundles(store, client, folder)

    def raw(body: bytes, entry: dict):
        """What the stand-in serves, exactly: `body` under the index entry `entry`."""
        StandIn.body, StandIn.entry = body, entry
        return pull_bundles(store, client, folder)

    pull.raw = raw
    pull.folder = folder / CID
    pull.store = store
    yield pull
    client.close()
    store.close()
    server.shutdown()
    server.server_close()


def shown(folder) -> tuple[int, str]:
    consultation = load_bundle(folder, check_images=False)
    return consultation.version, consultation.title["fr"]


def refused(pull, *args, **kwargs) -> p.ContentRefused:
    with pytest.raises(p.ContentRefused) as caught:
        pull(*args, **kwargs)
    return caught.value


def test_a_lower_published_version_or_the_same_one_changed_is_refused(tablet):
    assert tablet(2, title="Deux") == [CID]
    kept = installed_version(tablet.folder)
    before = StandIn.bundle_gets
    exc = refused(tablet, 1, title="Une")
    assert exc.reason == "not_newer" and "version in use is kept" in exc.message
    assert StandIn.bundle_gets == before       # the index's version: nothing downloaded
    exc = refused(tablet, 2, title="Autre")     # the same version, other bytes
    assert exc.reason == "not_newer"
    assert installed_version(tablet.folder) == kept and shown(tablet.folder) == (2, "Deux")
    assert tablet(3, title="Trois") == [CID]
    assert shown(tablet.folder) == (3, "Trois")


def test_the_bundle_own_version_counts_not_the_index(tablet):
    """An index announcing version 5 for a bundle that says 1: refused once read."""
    tablet(2, title="Deux")
    with pytest.raises(p.ContentRefused) as caught:
        tablet.raw(bundle(1, "Une"), {"version": 5})
    assert caught.value.reason == "not_newer"
    assert shown(tablet.folder) == (2, "Deux")


def test_a_draft_goes_back_to_the_published_version_never_below_it(tablet):
    """Rehearsal: the published version 2, a draft 3 on this tablet, the published 2 again when
    the session opens (its very bytes); never a published 1, nor a draft at or below 2."""
    tablet(2, title="Publiée")
    tablet.store.start_rehearsal()
    assert tablet(3, draft=True, title="Brouillon") == [CID]
    assert shown(tablet.folder) == (3, "Brouillon")
    assert highest_published(tablet.folder)[0] == 2         # a draft is not published
    assert refused(tablet, 1, title="Ancienne").reason == "not_newer"
    assert refused(tablet, 2, title="Autre").reason == "not_newer"    # 2, but not its bytes
    assert shown(tablet.folder) == (3, "Brouillon")
    tablet.store.open_session()
    assert tablet(2, title="Publiée") == [CID]                 # the session opens
    assert shown(tablet.folder) == (2, "Publiée")
    tablet.store.start_rehearsal()                              # the next version tried
    assert refused(tablet, 2, draft=True, title="Brouillon 2").reason == "not_newer"
    assert tablet(4, draft=True, title="Brouillon 4") == [CID]
    assert tablet(4, title="Publiée 4") == [CID]              # the draft published as 4
    assert highest_published(tablet.folder)[0] == 4
    assert refused(tablet, 3, title="Trois").reason == "not_newer"


def test_a_draft_is_refused_while_the_session_is_open_before_any_download(tablet):
    """The hub lists a draft for a tablet that does not rehearse (one restored from a backup
    made in rehearsal: tests/integration/test_attack7_restored_draft.py): refused, the
    published version kept; the same draft is taken once the tablet rehearses."""
    tablet(2, title="Publiée")
    before = StandIn.bundle_gets
    exc = refused(tablet, 3, draft=True, title="Brouillon")
    assert exc.reason == "draft_in_session" and "version in use is kept" in exc.message
    assert StandIn.bundle_gets == before and shown(tablet.folder) == (2, "Publiée")
    tablet.store.start_rehearsal()
    assert tablet(3, draft=True, title="Brouillon") == [CID]
    assert shown(tablet.folder) == (3, "Brouillon")


def test_each_install_failure_says_why_in_its_own_words(tablet):
    tablet(2)
    with pytest.raises(p.ContentRefused) as caught:
        tablet.raw(bundle(3), {"version": 3, "sha256": "0" * 64})
    assert caught.value.reason == "hash"
    assert refused(tablet, 3, cid="other-2031").reason == "other_consultation"
    with pytest.raises(p.ContentRefused) as caught:
        tablet.raw(b'{"consultation": {"id": "alpimed-2030", "version": 3}}', {"version": 3})
    assert caught.value.reason == "does_not_load"
    body = bundle(3)
    with pytest.raises(p.ContentRefused) as caught:
        tablet.raw(body, {"version": 3, "sha256": hashlib.sha256(body).hexdigest(),
                          "files": [{"path": "images/cover.png", "url": "/f/huge.png",
                                     "sha256": "e" * 64}]})
    assert caught.value.reason == "too_large" and caught.value.detail == "answer too large"
    assert shown(tablet.folder)[0] == 2
    messages = {reason: p.ContentRefused(reason).message for reason in p.ContentRefused.REASONS}
    assert len(set(messages.values())) == len(messages)
    for message in messages.values():
        assert "login" not in message and "hub" not in message
        assert message.endswith("The version in use is kept.")


def test_a_version_waiting_for_the_screens_counts_as_installed(tablet):
    """The kiosk reads version 2 (held): version 3 waits beside it. Version 3 again is not
    downloaded again, and 2 with other bytes or a lower one is refused against 3."""
    from app.bundle_folders import Hold, waiting_folder
    tablet(2, title="Deux")
    hold = Hold(tablet.folder)
    try:
        assert tablet(3, title="Trois") == [CID]
        assert shown(tablet.folder) == (2, "Deux")
        assert shown(waiting_folder(tablet.folder)) == (3, "Trois")
        before = StandIn.bundle_gets
        assert tablet(3, title="Trois") == []
        assert StandIn.bundle_gets == before
        assert refused(tablet, 2, title="Deux").reason == "not_newer"
    finally:
        hold.release()
    assert shown(tablet.folder) == (3, "Trois")
    assert not waiting_folder(tablet.folder).exists()
