"""Issue 26's leftovers over real HTTP: an enrolled tablet whose hub was restored from an old
backup (it serves version 1 of a consultation the tablet holds at version 3). The tablet keeps
version 3, tells the facilitator in plain words why the consultation was refused — not "a login
page" — keeps sending its votes at once, and asks for the content again on its own backoff, not
with every push. Two real hub processes; the way to the old one through
tests/integration/faultproxy.py, which counts the requests."""
from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from app.bundle import load_bundle
from app.paths import DEMO_BUNDLE_DIR
from app.store import Store
from server.admin import main as admin_main
from sync import protocol as p
from sync.enroll import enroll
from sync.service import SyncService
from sync.status import ADVICE, CONTENT_REFUSED

from .conftest import HubProcess, record_votes, start_hub
from .faultproxy import FaultProxy
from .test_sync_hub import wait_for

pytestmark = pytest.mark.process


def demo_at(version: int, folder) -> str:
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    data = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    data["consultation"]["version"] = version
    (folder / "bundle.json").write_text(json.dumps(data), encoding="utf-8")
    return str(folder)


def test_a_hub_restored_from_an_old_backup_puts_no_tablet_back(tmp_path, demo):
    newer = HubProcess(tmp_path / "newer")
    for folder in (str(DEMO_BUNDLE_DIR), demo_at(3, tmp_path / "v3")):
        assert admin_main(["--data-dir", str(newer.data_dir), "import-bundle", folder]) == 0
    newer.start()
    older = proxy = service = None
    store = Store.open(tmp_path / "t")
    installed = tmp_path / "t" / "bundles" / demo.id
    try:
        enroll(store, newer.url, newer.code())
        service = SyncService(tmp_path / "t", push_delay=0.1, poll_interval=600.0)
        service.start()
        assert wait_for(lambda: (installed / "bundle.json").is_file()
                        and load_bundle(installed, check_images=False).version == 3)
        service.stop()
        newer.stop()

        older = start_hub(tmp_path / "older")           # the backup: version 1 only
        enroll(store, older.url, older.code())
        proxy = FaultProxy(older.port)
        store.set_setting(p.HUB_URL, proxy.url)
        proxy.chaos(1.0, ("pass",))                     # every request counted in faults_done
        service = SyncService(tmp_path / "t", push_delay=0.1, poll_interval=600.0)
        service.start()
        assert wait_for(lambda: service.status().state == CONTENT_REFUSED)
        status = service.status()
        assert status.problem == p.ContentRefused.REASONS["not_newer"]
        assert "login page" not in status.problem and status.advice == ADVICE[CONTENT_REFUSED]
        assert load_bundle(installed, check_images=False).version == 3     # kept

        before = len(proxy.faults_done)
        late = []
        for n in range(10):
            sent = time.monotonic()
            record_votes(store, demo, 1, seed=n, with_changes=False)
            assert wait_for(lambda: store.outbox_counts()["pending"] == 0, timeout=30)
            late.append(time.monotonic() - sent)
            time.sleep(0.2)
        requests_made = len(proxy.faults_done) - before
        print(f"10 votes reached the restored hub after {[round(x, 2) for x in late]} s; "
              f"{requests_made} requests; load {os.getloadavg()[0]:.1f}")
        assert older.device_events(store.device_id) == store.outbox_counts()["acknowledged"]
        # One request per push; the content (answers, cards, bundle index: 3 requests, the
        # bundle itself never: the index's version is refused before) on its own backoff.
        assert requests_made <= 10 + 3 * 3
        # Still said after those pushes went well: until a content pull goes well.
        assert service.status().state == CONTENT_REFUSED
        assert load_bundle(installed, check_images=False).version == 3
    finally:
        if service is not None:
            service.stop()
        if proxy is not None:
            proxy.close()
        store.close()
        newer.stop()
        if older is not None:
            older.stop()
