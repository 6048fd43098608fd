"""Attack review of issue 26's leftovers, a draft on a tablet that is not rehearsing: the hub is
restored from a backup taken while the tablet tried a draft in rehearsal. The restored hub
still believes the tablet rehearses (the tablet's `rehearsal_ended` went to the hub of after
the backup) and lists the draft in its index again — a tablet whose session is open took it,
and its residents voted on questions the hub refuses. A real hub process, stopped, copied and
started again from the copy on the same port."""
from __future__ import annotations

import json
import shutil

import pytest

from app.bundle import load_bundle
from app.paths import DEMO_BUNDLE_DIR
from app.store import Store
from sync import protocol as p
from sync.content import installed_version, pull_bundles
from sync.enroll import client_for, enroll
from sync.worker import push_pending

from .conftest import HubProcess, start_hub

pytestmark = pytest.mark.process


def test_a_hub_restored_from_a_rehearsal_backup_gets_no_draft_into_an_open_session(tmp_path):
    hub = start_hub(tmp_path / "hub")
    restored = None
    store = Store.memory()
    folder = tmp_path / "bundles"
    installed = folder / "alpimed-2030"
    try:
        enroll(store, hub.url, hub.code())
        draft = tmp_path / "draft"
        shutil.copytree(DEMO_BUNDLE_DIR, draft)
        data = json.loads((draft / "bundle.json").read_text(encoding="utf-8"))
        data["consultation"]["version"] = 2
        (draft / "bundle.json").write_text(json.dumps(data), encoding="utf-8")
        assert hub.cli("draft", "upload", str(draft), "--device", store.device_id).returncode == 0
        client = client_for(store)
        store.start_rehearsal()
        push_pending(store, client)
        assert pull_bundles(store, client, folder) == ["alpimed-2030"]
        assert load_bundle(installed).version == 2              # the draft, in rehearsal
        hub.stop()
        shutil.copytree(hub.data_dir, tmp_path / "backup")       # the backup, mid-rehearsal
        hub.start()

        store.open_session()
        push_pending(store, client)
        assert pull_bundles(store, client, folder) == ["alpimed-2030"]
        published = installed_version(installed)
        assert load_bundle(installed).version == 1              # the session: published
        hub.stop()

        restored = HubProcess(tmp_path / "backup", port=hub.port).start()
        client.close()
        client = client_for(store)
        push_pending(store, client)
        with pytest.raises(p.ContentRefused) as refused:
            pull_bundles(store, client, folder)
        assert refused.value.reason == "draft_in_session"
        assert "version in use is kept" in refused.value.message
        assert installed_version(installed) == published and load_bundle(installed).version == 1
        client.close()
    finally:
        store.close()
        hub.stop()
        if restored is not None:
            restored.stop()
