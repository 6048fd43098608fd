"""The facilitator chooses which consultation the tablet shows, among the demo and those
pulled from the hub: the kiosk is rebuilt around it at once, and it is kept for the next start."""
import json
import shutil

from kivy.core.window import Window

import main
from app.paths import DEMO_BUNDLE_DIR
from app.security import FacilitatorPin
from app.store import Store
from screens.app import PiazzettaApp
from tests.ui.conftest import PIN, Kiosk, step
from tests.ui.test_facilitator import enter_facilitator


def pull_second_consultation(data_dir):
    """What sync leaves in the data folder after pulling another consultation."""
    folder = data_dir / "bundles" / "roya-2027"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    data = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    data["consultation"].update(id="roya-2027", version=3, title={
        "fr": "Vallée de la Roya 2027", "it": "Valle Roia 2027", "en": "Roya valley 2027"})
    (folder / "bundle.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


def test_facilitator_switches_the_consultation(window, tmp_path, demo):
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
        pull_second_consultation(data_dir)
        k = Kiosk(root, store, root.session)
        fac = enter_facilitator(k)
        page = fac.ids.pages.get_screen("session")
        cards = {card.text: card for card in page.ids.consultations.children}
        assert set(cards) == {"Vallée de la Roya 2027 (version 3)",
                              "Alpes-Méditerranée 2030 : votre avis compte (version 1)"}
        assert cards["Alpes-Méditerranée 2030 : votre avis compte (version 1)"].selected
        k.tap(cards["Vallée de la Roya 2027 (version 3)"])
        step(4)
        new_root = application.kiosk
        assert new_root is not root and new_root.session.consultation.id == "roya-2027"
        assert new_root.current == "facilitator"
        assert root.parent is None and new_root.parent is Window
        k2 = Kiosk(new_root, store, new_root.session)
        k2.tap(new_root.facilitator.ids.back)
        assert new_root.welcome.consultation.id == "roya-2027"
        # Kept for the next start: main.py opens the chosen consultation.
        assert main.choose_bundle(data_dir, "roya-2027").name == "roya-2027"
        from app.kiosk import KioskSettings
        assert KioskSettings(store).consultation_id == "roya-2027"
        assert application.switch("nowhere") is False
    finally:
        application.kiosk.dispose()
        Window.remove_widget(application.kiosk)
        store.close()
