"""Issue 30's draft versions over real HTTP: staff upload a draft for one tablet
(`python -m server draft upload`); that tablet, in rehearsal, pulls and installs it through its
ordinary content sync while another tablet and the public bundle keep the published version;
once the session opens the tablet installs the published version again."""
import json
import shutil

import requests

from app.bundle import load_bundle
from app.paths import DEMO_BUNDLE_DIR
from app.store import Store
from sync.content import installed_version, pull_bundles
from sync.enroll import client_for, enroll
from sync.worker import push_pending
from tests.integration.conftest import start_hub


def installed(folder):
    return load_bundle(folder).version


def test_a_draft_reaches_the_named_tablet_in_rehearsal_and_leaves_when_the_session_opens(
        tmp_path):
    hub = start_hub(tmp_path / "hub")
    try:
        named, other = Store.memory(), Store.memory()
        enroll(named, hub.url, hub.code())
        enroll(other, hub.url, hub.code())
        draft = tmp_path / "draft"
        shutil.copytree(DEMO_BUNDLE_DIR, draft)
        data = json.loads((draft / "bundle.json").read_text(encoding="utf-8"))
        data["consultation"]["version"] = 2
        data["consultation"]["title"]["fr"] = "Brouillon : " + data["consultation"]["title"]["fr"]
        (draft / "bundle.json").write_text(json.dumps(data), encoding="utf-8")
        made = hub.cli("draft", "upload", str(draft), "--device", named.device_id)
        assert made.returncode == 0, made.stderr

        mine, theirs = client_for(named), client_for(other)
        folder, other_folder = tmp_path / "named", tmp_path / "other"
        pull_bundles(named, mine, folder)
        assert installed(folder / "alpimed-2030") == 1          # not in rehearsal yet
        named.start_rehearsal()
        other.start_rehearsal()
        push_pending(named, mine)
        push_pending(other, theirs)
        assert pull_bundles(named, mine, folder) == ["alpimed-2030"]
        assert installed(folder / "alpimed-2030") == 2
        assert load_bundle(folder / "alpimed-2030").title["fr"].startswith("Brouillon")
        assert (folder / "alpimed-2030" / "images" / "cover.png").exists()
        pull_bundles(other, theirs, other_folder)
        assert installed(other_folder / "alpimed-2030") == 1    # not named
        public = requests.get(f"{hub.url}/api/v1/consultations/alpimed-2030/bundle", timeout=30)
        assert public.json()["consultation"]["version"] == 1     # published: untouched
        draft_sha = installed_version(folder / "alpimed-2030")

        named.open_session()
        push_pending(named, mine)
        assert pull_bundles(named, mine, folder) == ["alpimed-2030"]
        assert installed(folder / "alpimed-2030") == 1
        assert installed_version(folder / "alpimed-2030") != draft_sha
        mine.close()
        theirs.close()
    finally:
        hub.stop()
