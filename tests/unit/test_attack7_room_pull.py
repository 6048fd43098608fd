"""Attack review of issue 26's leftovers, a room hub's pull from a central hub whose index is
malformed: an entry whose ID is not a string, or whose files are not a list of objects, raised
TypeError/AttributeError out of the pull — not the SyncError its loop step backs off on — so
the step failed as a bug at every cycle, never due later, and the cards and answers pulled
after it in the same loop never came. A real HTTP server stands for the central hub
(tests/unit/test_upstream_caps.py's), the room hub is the real one on SQLite; a tablet's pull
of such files is a SyncError too."""
from __future__ import annotations

import hashlib

import pytest

from app.bundle import load_bundle

from server import upstream
from sync.protocol import NotAcknowledged, SyncError
from tests.unit.test_tablet_version_rule import bundle, tablet  # noqa: F401
from tests.unit.test_upstream_caps import Central, _demo_at, central  # noqa: F401


@pytest.mark.parametrize("bad", [
    {"id": ["alpimed-2030"]}, {"id": {"a": 1}},
    {"id": "quartier-nord", "files": ["images/cover.png"]},
    {"id": "quartier-nord", "files": 5}, {"id": "quartier-nord", "files": "images"},
    {"id": "quartier-nord", "files": [None]}])
def test_a_malformed_entry_is_a_sync_error_and_the_others_still_come(hub, central, bad):
    good = _demo_at(2, "Deux")
    Central.bodies = {"/b/good": good}
    Central.sent.clear()
    Central.index = {"consultations": [
        {"sha256": "e" * 64, "bundle_url": "/b/forged", "version": 7, **bad},
        {"id": "alpimed-2030", "version": 2, "files": [], "bundle_url": "/b/good",
         "sha256": hashlib.sha256(good).hexdigest()}]}
    try:
        imported = upstream.pull_bundles(hub, central, {})
    except SyncError as exc:           # the step's own failure: it backs off, the next run
        assert isinstance(exc, NotAcknowledged)
    else:
        assert imported == ["alpimed-2030"]
    assert hub.consultation("alpimed-2030").version == 2
    assert Central.sent == {}                   # nothing fetched for the malformed entry


@pytest.mark.parametrize("files", [5, 2.5, True, "images", {"images/cover.png": 1}])
def test_a_tablet_refuses_files_that_are_not_a_list_as_a_sync_error(tablet, files):
    """The tablet's pull (sync.content): `"files": 5` was a TypeError ("unexpected error")."""
    tablet(2)
    body = bundle(3)
    with pytest.raises(NotAcknowledged):
        tablet.raw(body, {"version": 3, "sha256": hashlib.sha256(body).hexdigest(),
                          "files": files})
    assert load_bundle(tablet.folder, check_images=False).version == 2
