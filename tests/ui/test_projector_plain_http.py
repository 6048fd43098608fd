"""The projector on a real window, given a hub's plain http:// address on another machine
(issue 26's leftover: anyone on the hall's Wi-Fi could answer for the hub and show forged
results): it asks nothing and says why in its corner, in the room's language. A real HTTP
server on this machine's network address stands for the hub and counts what reaches it.
Screenshots in build/screenshots/projector/."""
import time

import pytest
from kivy.core.text import Label as CoreLabel
from kivy.core.text.markup import MarkupLabel

import screens.projector.app as projector_app
from app.paths import DEMO_BUNDLE_DIR
from sync.display import projector_results
from sync.results_source import PLAIN_HTTP_RESULTS, ResultsPoll
from tests.ui.test_projector import (SHOTS, MODES, all_text, demo_results, frames,  # noqa: F401
                                     make_projector, plain, window)
from tests.unit.test_attack26_public_bundle import this_machine_on_the_network
from tests.unit.test_results_plain_http import Counting, port  # noqa: F401

WORDS = {"fr": "Résultats non affichés\u00a0: adresse https:// requise",
         "it": "Risultati non mostrati: serve un indirizzo del server https://"}


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


@pytest.mark.parametrize("mode", ["fr", "it", "bilingual"])
@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_the_corners_problem_reads_whole_from_the_back_of_the_hall(make_projector, demo_results,
                                                                    size, mode):
    """Someone at the back of the hall reads the corner: the plain-http refusal with no
    results yet, and a hub gone quiet with the last results shown, whole on one line."""
    projector = make_projector(size, **MODES[mode])
    status = projector.root.ids.status
    for name, polls in (("plain-http", [ResultsPoll(False, problem=PLAIN_HTTP_RESULTS)]),
                        ("unreachable", [ResultsPoll(True, demo_results),
                                         ResultsPoll(False, problem="Hub unreachable")])):
        for poll in polls:
            projector.receive(poll)
        frames(6)
        whole = (MarkupLabel if status.markup else CoreLabel)(
            text=status.text, font_size=status.font_size, font_name=status.font_name)
        whole.refresh()                 # the label shortens with "...": measure it unshortened
        assert plain(status.text) and whole.texture.size[0] <= status.width, status.text
        assert whole.texture.size[1] <= status.height + 1, (status.text, status.height)
        projector.root.export_to_png(str(SHOTS / f"corner-{name}-{mode}-{size[0]}x{size[1]}.png"))
