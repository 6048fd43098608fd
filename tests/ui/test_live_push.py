"""Issue 26 on a real window with a real hub process (HTTP on 127.0.0.1) and a real sync service:

- a tap in the middle of a ballot reaches the hub while the ballot goes on (the store announced
  the answer, the service pushed it; the worker's poll is put far away so it cannot be what
  sent it);
- a version 2 of the consultation, imported at the hub and pulled while a resident is
  mid-ballot, reaches the projector at once and the kiosk only after that resident: they finish
  on version 1 and their answers count, the next resident sees version 2; the facilitator's
  sync page says which version is live;
- a projector that follows a hub it was never enrolled with (`main.py projector --hub URL`)
  gets version 2 too, through the hub's public routes.

No time is asserted: every wait is for a state, with a generous limit."""
import json
import shutil
import time

import pytest
from kivy.core.window import Window

import main
from app.paths import DEMO_BUNDLE_DIR
from app.security import FacilitatorPin
from app.store import Store
from screens.app import PiazzettaApp
from screens.i18n import tr
from sync.enroll import enroll
from sync.results_source import HubResultsSource
from sync.service import SyncService
from tests.integration.conftest import start_hub
from tests.ui.conftest import PIN, Kiosk, step
from tests.ui.test_facilitator import enter_facilitator
from tests.ui.test_resident import start

FAR = 3600.0              # the worker's poll: never within a test
LIMIT = 60.0              # seconds a wait may take before the test gives up


@pytest.fixture
def hub(tmp_path):
    process = start_hub(tmp_path / "hub")
    yield process
    process.stop()


def wait_for(check, limit=LIMIT, what=""):
    """Pump the Kivy loop until `check()` is true (the UI thread must run for Clock hops)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        step(1)
        time.sleep(0.02)
    raise AssertionError(f"still waiting for {what or check}")


def hub_green_for_bus(hub, consultation_id):
    """The hub's count of green for the bus project (read over HTTP, as a projector does)."""
    source = HubResultsSource(hub.url, consultation_id)
    try:
        poll = source.poll()
    finally:
        source.close()
    assert poll.reachable, poll.problem
    question = poll.snapshot.questions.get("q-colour") if poll.snapshot else None
    return question["projects"]["p-bus"]["counts"]["green"] if question else 0


def device(tmp_path, hub, name):
    data_dir = tmp_path / name
    store = Store.open(data_dir)
    FacilitatorPin(store).set_pin(PIN)
    enroll(store, hub.url, hub.code())
    return data_dir, store


def kiosk_app(data_dir, store, demo):
    application = PiazzettaApp(role="kiosk", consultation=demo, store=store,
                               bundle_dir=DEMO_BUNDLE_DIR, lang="fr")
    service = SyncService(data_dir, on_content=application.content_arrived, poll_interval=FAR,
                          content_interval=FAR)
    application.sync = service
    root = application.build()
    application.root = root
    Window.add_widget(root)
    service.start()
    step(4)
    return application, service


def first_cycle_done(service):
    return service.status().last_success is not None


def import_version(hub, tmp_path, version):
    """Staff import a new version of the demo at the hub (the admin command)."""
    from server.admin import main as admin_main
    folder = tmp_path / f"demo-v{version}"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    data = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    data["consultation"]["version"] = version
    for lang in data["consultation"]["title"]:
        data["consultation"]["title"][lang] += f" (v{version})"
    (folder / "bundle.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert admin_main(["--data-dir", str(hub.data_dir), "import-bundle", str(folder)]) == 0
    return data["consultation"]["title"]


def test_a_tap_mid_ballot_reaches_the_hub_without_the_ballot_ending(window, tmp_path, demo, hub):
    data_dir, store = device(tmp_path, hub, "tablet")
    application, service = kiosk_app(data_dir, store, demo)
    try:
        wait_for(lambda: first_cycle_done(service), what="the first sync cycle")
        before = hub_green_for_bus(hub, demo.id)
        k = Kiosk(application.kiosk, store, application.kiosk.session)
        ballot = start(k)
        body = k.body()
        k.tap(body.ids.green)                       # p-bus: green, and nothing else
        assert store.answers_of(ballot) == {"q-colour": {"p-bus": "green"}}
        wait_for(lambda: hub_green_for_bus(hub, demo.id) == before + 1,
                 what="the hub to count the tap")
        # The ballot did not end for it: the resident is still on the question.
        assert k.root.current == "question" and k.session.ballot_id == ballot
        status = store.conn.execute("SELECT status FROM ballots WHERE id = ?",
                                    (ballot,)).fetchone()[0]
        assert status == "open"
        wait_for(lambda: service.status().pending == 0, what="nothing left to send")
    finally:
        service.stop()
        application.kiosk.dispose()
        Window.remove_widget(application.kiosk)
        store.close()


def test_a_new_version_reaches_the_projector_at_once_and_the_kiosk_after_the_resident(
        window, tmp_path, demo, hub):
    # The projector: a device enrolled with the hub, reading its results from the hub.
    pj_dir, pj_store = device(tmp_path, hub, "projector")
    projector_app = PiazzettaApp(role="projector", consultation=demo, store=pj_store,
                                 bundle_dir=DEMO_BUNDLE_DIR, lang="fr",
                                 projector_factory=main.projector_factory("projector", hub.url))
    pj_service = SyncService(pj_dir, on_content=projector_app.content_arrived,
                             poll_interval=FAR, content_interval=FAR)
    projector_app.sync = pj_service
    pj_root = projector_app.build()
    pj_root.size_hint = (None, None)
    pj_root.size = (1280, 720)
    Window.add_widget(pj_root)                      # under the kiosk, which takes the taps
    pj_service.start()
    # The kiosk.
    data_dir, store = device(tmp_path, hub, "tablet")
    application, service = kiosk_app(data_dir, store, demo)
    old_root = application.kiosk
    try:
        wait_for(lambda: first_cycle_done(service) and first_cycle_done(pj_service),
                 what="the first sync cycles")
        step(4)
        # The first pull brought version 1 again: nothing was rebuilt for it.
        assert application.kiosk is old_root and application.consultation.version == 1
        k = Kiosk(old_root, store, old_root.session)
        before = hub_green_for_bus(hub, demo.id)
        ballot = start(k)
        k.tap(k.body().ids.green)

        title = import_version(hub, tmp_path, 2)
        pj_service.sync_now()                       # instead of waiting for the content poll
        service.sync_now()

        # The projector shows version 2 as soon as it is installed.
        wait_for(lambda: projector_app.consultation.version == 2, what="the projector's v2")
        projector = projector_app.projector
        step(2)
        assert projector.consultation.version == 2
        assert title["fr"] in pj_root.title
        # The kiosk pulled it too, but the resident mid-ballot stays on version 1.
        wait_for(lambda: json.loads((data_dir / "bundles" / demo.id /
                                     ".piazzetta-bundle.json").read_text()).get("version") == 2
                 if (data_dir / "bundles" / demo.id / ".piazzetta-bundle.json").exists()
                 else False, what="the kiosk's pull of v2")
        for _ in range(10):
            step(1)
        assert application.kiosk is old_root and k.root.current == "question"
        assert k.session.consultation.version == 1 and k.session.ballot_id == ballot
        # The resident goes on to the end of their ballot, on version 1.
        while k.root.current == "question":
            k.tap(k.root.question.ids.skip)
        assert k.root.current == "thanks"
        assert application.kiosk is old_root
        k.tap(k.root.thanks.ids.finish)
        new_root = wait_for(lambda: application.kiosk if application.kiosk is not old_root
                            else None, what="the kiosk's v2 after the resident")
        step(4)
        assert new_root.parent is Window and old_root.parent is None
        assert new_root.current == "welcome" and new_root.session.consultation.version == 2
        assert new_root.welcome.consultation.title["fr"] == title["fr"]
        # The resident's answers counted (closed, and on the hub).
        assert store.answers_of(ballot) == {"q-colour": {"p-bus": "green"}}
        assert store.conn.execute("SELECT status FROM ballots WHERE id = ?",
                                  (ballot,)).fetchone()[0] != "open"
        wait_for(lambda: hub_green_for_bus(hub, demo.id) == before + 1, what="the vote counted")
        # The next resident sees version 2.
        k2 = Kiosk(new_root, store, new_root.session)
        start(k2)
        assert k2.session.consultation.version == 2
        k2.root.reset_resident()
        step(2)
        # The facilitator sees which version is live, in each language.
        fac = enter_facilitator(k2)
        k2.tap(fac.nav_buttons["sync"])
        page = fac.ids.pages.get_screen("sync")
        page.poll()
        step(2)
        assert "Consultation affichée\u00a0: version 2" in page.ids.status.text
        tr.lang = "it"
        page.poll()
        step(2)
        assert "Consultazione mostrata: versione 2" in page.ids.status.text
        k2.shot("live_version_sync_page", "it")
        tr.lang = "fr"
        page.poll()
        step(2)
        k2.shot("live_version_sync_page", "fr")
    finally:
        tr.lang = "fr"
        service.stop()
        pj_service.stop()
        if projector_app.projector is not None:
            projector_app.projector.stop()
        application.kiosk.dispose()
        Window.remove_widget(application.kiosk)
        Window.remove_widget(pj_root)
        store.close()
        pj_store.close()


def test_choosing_the_same_consultation_in_a_new_version_rebuilds_the_kiosk(window, tmp_path,
                                                                            demo):
    """Before issue 26, switching to the consultation already shown did nothing, whatever
    version was installed meanwhile."""
    data_dir = tmp_path / "tablet"
    store = Store.open(data_dir)
    FacilitatorPin(store).set_pin(PIN)
    application = PiazzettaApp(role="kiosk", consultation=demo, store=store,
                               bundle_dir=DEMO_BUNDLE_DIR, lang="fr")
    root = application.build()
    application.root = root
    Window.add_widget(root)
    step(4)
    try:
        assert application.switch(demo.id) is True and application.kiosk is root  # same: kept
        folder = data_dir / "bundles" / demo.id            # what sync installs
        shutil.copytree(DEMO_BUNDLE_DIR, folder)
        data = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
        data["consultation"]["version"] = 2
        (folder / "bundle.json").write_text(json.dumps(data, ensure_ascii=False),
                                            encoding="utf-8")
        assert application.switch(demo.id) is True
        step(2)
        assert application.kiosk is not root and root.parent is None
        assert application.kiosk.session.consultation.version == 2
        assert application.kiosk.current == "facilitator"   # the facilitator chose it there
    finally:
        application.kiosk.dispose()
        Window.remove_widget(application.kiosk)
        store.close()


def test_a_projector_never_enrolled_gets_new_versions_from_the_hub_it_follows(
        window, tmp_path, demo, hub):
    """`main.py projector --hub URL` on a device that was never enrolled: the sync service
    main.py makes does not run its worker (nothing to push, no credential), yet the projector
    shows version 2 once staff import it, through the hub's public bundle and file routes."""
    pj_dir = tmp_path / "projector"
    pj_store = Store.open(pj_dir)
    projector_app = PiazzettaApp(role="projector", consultation=demo, store=pj_store,
                                 bundle_dir=DEMO_BUNDLE_DIR, lang="fr",
                                 projector_factory=main.projector_factory("projector", hub.url))
    service = main.make_sync_service(pj_dir, pj_store,
                                     on_content=projector_app.content_arrived,
                                     public_hub=hub.url, consultation_id=demo.id,
                                     public_interval=0.3)
    projector_app.sync = service
    pj_root = projector_app.build()
    pj_root.size_hint = (None, None)
    pj_root.size = (1280, 720)
    Window.add_widget(pj_root)
    try:
        assert not service.status().enrolled and not service.running
        watch = service._public                                       # noqa: SLF001
        wait_for(lambda: watch.checks >= 1, what="the first check of the public bundle")
        step(2)
        # Version 1 installed from the hub: nothing was rebuilt for it.
        assert projector_app.consultation.version == 1
        title = import_version(hub, tmp_path, 2)
        wait_for(lambda: projector_app.consultation.version == 2, what="the projector's v2")
        step(2)
        assert projector_app.projector.consultation.version == 2
        assert title["fr"] in pj_root.title
        installed = json.loads((pj_dir / "bundles" / demo.id /
                                ".piazzetta-bundle.json").read_text(encoding="utf-8"))
        assert installed["version"] == 2
        # Its images came with it, each checked against the hub's hash.
        from app.bundle import bundle_files
        assert all((pj_dir / "bundles" / demo.id / path).is_file()
                   for path in bundle_files(projector_app.consultation))
    finally:
        service.stop()
        assert not watch.is_alive()
        projector = getattr(projector_app, "projector", None)
        if projector is not None:
            projector.stop()
        Window.remove_widget(pj_root)
        pj_store.close()
