"""Issue 26 under attack: a projector that follows a hub it is not enrolled with
(`SyncService.follow_public`, sync.content.pull_public_bundle) fed by a hostile hub on the
hall's Wi-Fi — a bundle for another consultation, a version going backwards, files far larger
than any bundle file may be, a redirect to another host. A real HTTP server stands for the
hostile hub (the real hub never serves these); the installed folder is read back as the
projector reads it at its next start (app.bundle.installed_bundles)."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.bundle import BUNDLE_FILE, MAX_IMAGE_BYTES, bundle_files, installed_bundles, load_bundle
from app.paths import DEMO_BUNDLE_DIR
from sync.client import MAX_ANSWER_BYTES, HubClient
from sync.content import MANIFEST, installed_version, pull_public_bundle
from sync.protocol import API_PREFIX, NotAcknowledged, SyncError

DEMO = load_bundle(DEMO_BUNDLE_DIR)
DEMO_JSON = json.loads((DEMO_BUNDLE_DIR / BUNDLE_FILE).read_text(encoding="utf-8"))


def bundle_bytes(**consultation) -> bytes:
    data = json.loads(json.dumps(DEMO_JSON))
    data["consultation"].update(consultation)
    return json.dumps(data).encode()


class HostileHub(BaseHTTPRequestHandler):
    """Serves the demo's public routes under any consultation ID, with what the test set:
    `bundle` (bundle.json's bytes), `huge` (a path whose file is sent endlessly),
    `redirect` (answers every request with a 302 to another host). Counts bytes sent."""
    bundle: bytes = b""
    huge: str | None = None
    redirect: str | None = None
    sent: dict = {}
    requests = 0
    trickle: str | None = None

    def log_message(self, *args):
        pass

    def _answer(self, body: bytes, etag: str | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if self.path.endswith("/bundle")
                         else "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", f'"{etag}"')
        self.end_headers()
        self.wfile.write(body)

    def _endless(self, name: str, chunk: bytes, most: int) -> None:
        """No length: `chunk` after `chunk` until `most` bytes or the client hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("ETag", '"' + "0" * 64 + '"')
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        try:
            while sent < most:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass
        type(self).sent[name] = sent

    def do_GET(self):
        cls = type(self)
        cls.requests += 1
        if cls.redirect:
            self.send_response(302)
            self.send_header("Location", cls.redirect + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        head = f"{API_PREFIX}/consultations/"
        if not self.path.startswith(head):
            self.send_error(404)
            return
        _cid, _, tail = self.path[len(head):].partition("/")
        if tail == "bundle" and cls.huge == BUNDLE_FILE:
            self._endless(BUNDLE_FILE, b" " * (1024 * 1024), 80 * 1024 * 1024)
        elif tail == "bundle":
            body = cls.bundle
            self._answer(body, hashlib.sha256(body).hexdigest())
        elif tail.startswith("files/"):
            rel = tail[len("files/"):]
            if rel == cls.huge:
                # A valid image's ETag, then bytes far past any image: the hash would not
                # match in the end, but only the size can stop it early.
                self._endless(rel, b"\x89PNG" * (256 * 1024), 60 * 1024 * 1024)
                return
            data = (DEMO_BUNDLE_DIR / rel).read_bytes()
            if rel == cls.trickle:          # half the file, then nothing for a long while
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                time.sleep(20)
                return
            self._answer(data, hashlib.sha256(data).hexdigest())
        else:
            self.send_error(404)


@pytest.fixture()
def hostile():
    HostileHub.bundle, HostileHub.huge, HostileHub.redirect = bundle_bytes(), None, None
    HostileHub.sent, HostileHub.requests, HostileHub.trickle = {}, 0, None
    server = ThreadingHTTPServer(("0.0.0.0", 0), HostileHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = HubClient(f"http://127.0.0.1:{server.server_address[1]}")
    yield client
    client.close()
    server.shutdown()
    server.server_close()


def installed(data_dir: Path) -> dict:
    return {c.id: (c.version, f.name) for c, f in installed_bundles(data_dir, DEMO_BUNDLE_DIR)}


def test_the_hostile_stand_in_serves_a_bundle_that_installs(hostile, tmp_path):
    """The stand-in itself is sound: the demo at version 2 installs and loads."""
    HostileHub.bundle = bundle_bytes(version=2)
    updated, _etag = pull_public_bundle(hostile, DEMO.id, tmp_path / "bundles")
    assert updated
    assert load_bundle(tmp_path / "bundles" / DEMO.id).version == 2


def test_a_bundle_for_another_consultation_is_refused(hostile, tmp_path):
    """Asked for alpimed-2030, the hub answers with another consultation's bundle: it would be
    installed in alpimed-2030's folder (the real one lost) and, being the newest folder, shadow
    the real `other-2031` at the next start."""
    HostileHub.bundle = bundle_bytes(id="other-2031", version=7)
    with pytest.raises(NotAcknowledged):
        pull_public_bundle(hostile, DEMO.id, tmp_path / "bundles")
    assert not (tmp_path / "bundles" / DEMO.id).exists()
    assert "other-2031" not in installed(tmp_path)


def test_a_version_going_backwards_is_refused(hostile, tmp_path):
    """Version 3 installed; the hub (a replay, a hub restored from an old backup) then serves
    version 2: the hub itself refuses to import a lower version, so the projector keeps 3."""
    bundles = tmp_path / "bundles"
    HostileHub.bundle = bundle_bytes(version=3)
    assert pull_public_bundle(hostile, DEMO.id, bundles)[0]
    kept = installed_version(bundles / DEMO.id)
    HostileHub.bundle = bundle_bytes(version=2, title={"fr": "Ancienne", "it": "Vecchia",
                                                       "en": "Old"})
    with pytest.raises(NotAcknowledged):
        pull_public_bundle(hostile, DEMO.id, bundles)
    assert installed_version(bundles / DEMO.id) == kept
    assert installed(tmp_path)[DEMO.id][0] == 3
    # The same version with other bytes is a new import of it nowhere: refused too.
    HostileHub.bundle = bundle_bytes(version=3, title={"fr": "Autre", "it": "Altra",
                                                       "en": "Other"})
    with pytest.raises(NotAcknowledged):
        pull_public_bundle(hostile, DEMO.id, bundles)
    assert installed_version(bundles / DEMO.id) == kept
    # A higher one still goes in.
    HostileHub.bundle = bundle_bytes(version=4)
    assert pull_public_bundle(hostile, DEMO.id, bundles)[0]
    assert installed(tmp_path)[DEMO.id][0] == 4


def test_an_image_far_larger_than_an_image_may_be_stops_at_the_image_cap(hostile, tmp_path):
    """A bundle's image is at most MAX_IMAGE_BYTES: the download of one stops there, not at the
    base map's 65 MB (a bundle listing hundreds of images filled the disk 65 MB at a time before
    the loader refused the first)."""
    HostileHub.bundle = bundle_bytes(version=2)
    HostileHub.huge = bundle_files(DEMO)[0]
    assert HostileHub.huge.endswith(".png")
    with pytest.raises(NotAcknowledged) as refused:
        pull_public_bundle(hostile, DEMO.id, tmp_path / "bundles")
    assert refused.value.detail == "answer too large"
    # The client hung up soon after the image cap (socket buffers aside).
    assert HostileHub.sent.get(HostileHub.huge, 0) < 4 * MAX_IMAGE_BYTES
    assert not (tmp_path / "bundles" / DEMO.id).exists()
    assert not [f for f in (tmp_path / "bundles").iterdir()], "a temporary folder left behind"


def test_a_redirect_to_another_host_is_not_followed(hostile, tmp_path):
    HostileHub.redirect = "http://192.0.2.1:9"
    with pytest.raises(SyncError):
        pull_public_bundle(hostile, DEMO.id, tmp_path / "bundles")
    assert not (tmp_path / "bundles" / DEMO.id).exists()


def test_a_file_whose_hash_does_not_match_is_refused(hostile, tmp_path):
    """A file other than the one its ETag names (a sniffer's substitution on plain http, a
    hub's disk going bad): nothing installed, the manifest never written."""
    HostileHub.bundle = bundle_bytes(version=2)
    rel = bundle_files(DEMO)[1]
    original = HostileHub._answer

    def swapped(self, body, etag=None):
        if self.path.endswith(rel):
            body = (DEMO_BUNDLE_DIR / bundle_files(DEMO)[2]).read_bytes()
        original(self, body, etag)
    HostileHub._answer = swapped
    try:
        with pytest.raises(NotAcknowledged):
            pull_public_bundle(hostile, DEMO.id, tmp_path / "bundles")
    finally:
        HostileHub._answer = original
    assert not (tmp_path / "bundles" / DEMO.id / MANIFEST).exists()


def test_an_endless_bundle_json_stops_at_the_json_cap(hostile, tmp_path):
    """bundle.json is JSON: read at most MAX_ANSWER_BYTES (32 MB) of it, not a file's 65 MB."""
    HostileHub.huge = BUNDLE_FILE
    with pytest.raises(NotAcknowledged) as refused:
        pull_public_bundle(hostile, DEMO.id, tmp_path / "bundles")
    assert refused.value.detail == "answer too large"
    assert HostileHub.sent.get(BUNDLE_FILE, 0) < MAX_ANSWER_BYTES + 16 * 1024 * 1024


def this_machine_on_the_network() -> str:
    """An address of this machine that is not loopback (what the hall's Wi-Fi reaches), or a
    documentation address when it has none (then nothing answers there: the check is the
    same, that no request is made)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))          # no packet is sent: picks the route's address
        address = probe.getsockname()[0]
    except OSError:
        address = "127.0.0.1"
    finally:
        probe.close()
    return "192.0.2.1" if address.startswith("127.") else address


def test_new_versions_are_not_followed_over_plain_http_to_another_machine(hostile, tmp_path):
    """Over plain http:// on the hall's Wi-Fi, anyone between the projector and the hub could
    answer with a consultation of their own, and the projector would install and show it:
    follow_public asks only over https:// (or on this machine, as the tests' hub)."""
    from sync.service import SyncService
    port = int(hostile.hub_url.rsplit(":", 1)[1])
    HostileHub.bundle = bundle_bytes(version=5)
    service = SyncService(tmp_path / "p")
    try:
        service.follow_public(f"http://{this_machine_on_the_network()}:{port}", DEMO.id, 0.1)
        time.sleep(0.5)
        assert service._public is None                                    # noqa: SLF001
        assert HostileHub.requests == 0
        assert not (tmp_path / "p" / "bundles" / DEMO.id).exists()
        # To this machine (`make run`, the tests' hub), plain http is followed.
        service.follow_public(hostile.hub_url, DEMO.id, 0.1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (tmp_path / "p" / "bundles" / DEMO.id
                                                   / MANIFEST).exists():
            time.sleep(0.05)
        assert load_bundle(tmp_path / "p" / "bundles" / DEMO.id).version == 5
    finally:
        service.stop()


PULL = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from sync.client import HubClient
from sync.content import pull_public_bundle
pull_public_bundle(HubClient({url!r}), {cid!r}, Path({bundles!r}))
"""


@pytest.mark.process
def test_what_a_process_killed_mid_download_left_is_cleared_later(hostile, tmp_path):
    """SIGKILL while the base map downloads: its download folder stays beside the bundles (up
    to a bundle's size at each kill, kept forever). The next install of that consultation
    removes such a folder once it is an hour old (a younger one may be another process's
    install in progress) and installs."""
    from sync.content import LEFTOVER_SECONDS
    bundles = tmp_path / "bundles"
    HostileHub.bundle = bundle_bytes(version=2)
    HostileHub.trickle = [f for f in bundle_files(DEMO) if f.endswith(".mbtiles")][0]
    root = str(Path(__file__).resolve().parents[2])
    puller = subprocess.Popen([sys.executable, "-c", PULL.format(
        root=root, url=hostile.hub_url, cid=DEMO.id, bundles=str(bundles))], cwd=root)
    try:
        deadline = time.monotonic() + 30
        left = []
        while time.monotonic() < deadline and not left:
            left = [f for f in bundles.glob(f".{DEMO.id}.*.tmp") if (f / "images").is_dir()
                    and len(list((f / "images").iterdir())) == 7]
            time.sleep(0.05)
        assert left, "the download never reached the map"
    finally:
        os.kill(puller.pid, signal.SIGKILL)
        puller.wait(30)
    assert left[0].exists()                        # the kill left it
    HostileHub.trickle = None
    young = bundles / f".{DEMO.id}.0badcafe.tmp"   # another install in progress: kept
    young.mkdir()
    old = time.time() - LEFTOVER_SECONDS - 60
    os.utime(left[0], (old, old))
    assert pull_public_bundle(hostile, DEMO.id, bundles)[0]
    assert not left[0].exists()
    assert young.exists()
    assert load_bundle(bundles / DEMO.id).version == 2


def test_a_bundle_that_never_installs_is_not_downloaded_again_and_again(hostile, tmp_path):
    """A version this projector cannot install (here a "picture" whose bytes match their hash
    but are no image; as well a full disk, a version refused): each check downloaded it whole
    again, every `interval`, for as long as the projector ran. The checks back off (×2 each
    failure, up to 10 minutes) and come back to the interval once one succeeds."""
    from sync.service import SyncService
    rel = bundle_files(DEMO)[1]
    original = HostileHub._answer

    def not_an_image(self, body, etag=None):
        if self.path.endswith(rel):
            body = b"not an image" * 1000
            etag = hashlib.sha256(body).hexdigest()
        original(self, body, etag)
    HostileHub._answer = not_an_image
    HostileHub.bundle = bundle_bytes(version=2)
    service = SyncService(tmp_path / "p")
    try:
        service.follow_public(hostile.hub_url, DEMO.id, 0.1)
        time.sleep(3.0)
        watch = service._public                                          # noqa: SLF001
        print(f"checks in 3 s: {watch.checks}, requests {HostileHub.requests}")
        # 0.1 s then 0.2, 0.4, 0.8, 1.6 s: 5 checks at most (30 at the interval)
        assert 1 <= watch.checks <= 5
        assert not (tmp_path / "p" / "bundles" / DEMO.id).exists()
        # The hub fixed: the next check installs it.
        HostileHub._answer = original
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (tmp_path / "p" / "bundles" / DEMO.id
                                                   / MANIFEST).exists():
            time.sleep(0.05)
        assert load_bundle(tmp_path / "p" / "bundles" / DEMO.id).version == 2
    finally:
        HostileHub._answer = original
        service.stop()
