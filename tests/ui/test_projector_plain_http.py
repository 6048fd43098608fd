"""The projector on a real window, given a hub's plain http:// address on another machine
(issue 26's leftover: anyone on the hall's Wi-Fi could answer for the hub and show forged
results): it asks nothing and says why in its corner, in the room's language. A real HTTP
server on this machine's network address stands for the hub and counts what reaches it.
Screenshots in build/screenshots/projector/."""
import time

import pytest

import screens.projector.app as projector_app
from app.paths import DEMO_BUNDLE_DIR
from sync.display import projector_results
from tests.ui.test_projector import SHOTS, all_text, frames, window  # noqa: F401
from tests.unit.test_attack26_public_bundle import this_machine_on_the_network
from tests.unit.test_results_plain_http import Counting, port  # noqa: F401

WORDS = {"fr": "Résultats non lus en http://\u00a0: utilisez https://",
         "it": "Risultati non letti in http://: usate https://"}


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_results_over_plain_http_from_another_machine_are_refused_on_screen(window, demo,
                                                                            port, lang):
    address = f"http://{this_machine_on_the_network()}:{port}"
    projector = projector_app.build_projector(demo, projector_results(demo, hub_url=address),
                                              lang=lang, bundle_dir=DEMO_BUNDLE_DIR)
    root = projector.root
    root.size_hint = (None, None)
    root.size = (1280, 720)
    window.add_widget(root)
    try:
        projector.start()
        deadline = time.monotonic() + 30
        while projector.problem is None and time.monotonic() < deadline:
            time.sleep(0.02)
            frames(1)
        frames(6)
        assert root.ids.status.text == WORDS[lang]       # whole: no "last results" shown
        assert Counting.asked == []                     # not one request
        SHOTS.mkdir(parents=True, exist_ok=True)
        root.export_to_png(str(SHOTS / f"plain-http-refused-{lang}-1280x720.png"))
    finally:
        projector.stop()
        window.remove_widget(root)
