"""Issue 26's last leftover on a real window, with a real hub process and a real sync service:
the kiosk runs on the consultation sync installed (`<data dir>/bundles/<id>/`), and version 2 —
other pictures under the same file names — is pulled while a resident is mid-ballot. Kivy
reads a project's picture from its path only when it is shown: the resident's next project
must still show version 1's picture (version 2 waits beside the folder the kiosk reads), the
next resident version 2's (and not Kivy's cached copy of version 1's). No old folder is left.

No time is asserted: every wait is for a state, with a generous limit."""
import json
import shutil

from kivy.core.window import Window
from PIL import Image as PILImage

from app.bundle import load_bundle
from app.bundle_folders import waiting_folder
from app.paths import DEMO_BUNDLE_DIR
from screens.app import PiazzettaApp
from screens.i18n import tr
from screens.widgets import FittedImage
from sync.content import pull_bundles
from sync.enroll import client_for
from sync.service import SyncService
from tests.ui.conftest import Kiosk, step
from tests.ui.test_live_push import FAR, device, first_cycle_done, hub, wait_for  # noqa: F401
from tests.ui.test_resident import start

V1_SIZE = PILImage.open(DEMO_BUNDLE_DIR / "images" / "p-bike.png").size
V2_SIZE = (600, 200)          # version 2's pictures: another shape, another colour


def import_version_2(hub, tmp_path):
    """Staff import version 2 of the demo at the hub, its project pictures redrawn."""
    from server.admin import main as admin_main
    folder = tmp_path / "demo-v2"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    for name in ("p-bus", "p-bike"):
        PILImage.new("RGB", V2_SIZE, (200, 40, 40)).save(folder / "images" / f"{name}.png")
    data = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    data["consultation"]["version"] = 2
    (folder / "bundle.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert admin_main(["--data-dir", str(hub.data_dir), "import-bundle", str(folder)]) == 0


def picture(k):
    """(project on screen, the size of the picture drawn for it)."""
    body = k.body()
    step(2)
    image = next(w for w in body.walk(restrict=True) if isinstance(w, FittedImage))
    return body.project.id, tuple(image.texture_size)


def test_a_resident_mid_ballot_keeps_the_pictures_of_their_version(window, tmp_path, demo,
                                                                    hub):
    data_dir, store = device(tmp_path, hub, "tablet")
    bundles = data_dir / "bundles"
    folder = bundles / demo.id
    client = client_for(store)
    try:
        assert pull_bundles(store, client, bundles) == [demo.id]       # version 1, installed
    finally:
        client.close()
    application = PiazzettaApp(role="kiosk", consultation=load_bundle(folder, check_images=False),
                               store=store, bundle_dir=folder, lang="fr")
    service = SyncService(data_dir, on_content=application.content_arrived, poll_interval=FAR,
                          content_interval=FAR)
    application.sync = service
    root = application.build()
    application.root = root
    Window.add_widget(root)
    service.start()
    step(4)
    try:
        wait_for(lambda: first_cycle_done(service), what="the first sync cycle")
        k = Kiosk(root, store, root.session)
        start(k)
        assert picture(k) == ("p-bus", V1_SIZE)

        import_version_2(hub, tmp_path)
        service.sync_now()
        wait_for(lambda: (waiting_folder(folder) / "bundle.json").is_file(),
                 what="version 2 pulled, waiting beside version 1")
        assert load_bundle(waiting_folder(folder), check_images=False).version == 2
        for _ in range(10):
            step(1)
        # The resident's next project: version 1's picture, read from disk only now.
        k.tap(k.body().ids.green)
        assert picture(k) == ("p-bike", V1_SIZE)
        assert application.kiosk is root and k.session.consultation.version == 1
        k.shot("live_pictures_mid_ballot", "fr")
        tr.lang = "it"
        k.shot("live_pictures_mid_ballot", "it")
        tr.lang = "fr"

        while k.root.current == "question":
            k.tap(k.root.question.ids.skip)
        k.tap(k.root.thanks.ids.finish)
        new_root = wait_for(lambda: application.kiosk if application.kiosk is not root
                            else None, what="the kiosk's version 2 after the resident")
        step(4)
        assert new_root.session.consultation.version == 2
        assert load_bundle(folder, check_images=False).version == 2
        # Version 1's folder is gone: the version shown is kept (and the kiosk's lock file).
        assert sorted(f.name for f in bundles.iterdir()) == sorted([demo.id, f".{demo.id}.lock"])

        k2 = Kiosk(new_root, store, new_root.session)
        start(k2)
        assert picture(k2) == ("p-bus", V2_SIZE)
        k2.tap(k2.body().ids.green)
        assert picture(k2) == ("p-bike", V2_SIZE)
        k2.shot("live_pictures_next_resident", "fr")
        tr.lang = "it"
        k2.shot("live_pictures_next_resident", "it")
    finally:
        tr.lang = "fr"
        service.stop()
        application.kiosk.dispose()
        Window.remove_widget(application.kiosk)
        application.on_stop()
        store.close()
