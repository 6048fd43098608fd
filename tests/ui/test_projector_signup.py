"""The projector's participation view with the sign-up QR, on a real window at 1920×1080 and
1280×720 in French and Italian: the QR is read back from the screenshot (zxing-cpp), is at
least 40 % of the screen's height (scanned from five metres), and is not there at all when the
projector knows no sign-up link. Screenshots in build/screenshots/projector/."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.paths import DEMO_BUNDLE_DIR
from app.signup import device_signup_key, verify_signup_token
from app.tablet import SignupLink
from app.store import Store
from screens.projector.app import build_projector
from sync.results_source import LocalResultsSource
from tests.ui.conftest import step

zxingcpp = pytest.importorskip("zxingcpp")

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "projector"
SECRET = "hub-secret-for-projector-tests"
HUB = "https://participation.example.org"


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory, demo):
    folder = tmp_path_factory.mktemp("projector-signup")
    store = Store.open(folder)
    for answer in ("yes", "no", "yes"):
        ballot = store.start_ballot(demo)
        store.record_answer(demo, ballot, "q-ticket", answer)
        store.close_ballot(ballot)
    store.close()
    source = LocalResultsSource(folder, demo)
    poll = source.poll()
    source.close()
    return poll


ALIAS = "a7Qk2mZp9xW3LcV8"      # what the hub gives at enrollment instead of showing device IDs


@pytest.fixture
def enrolled(tmp_path):
    store = Store.open(tmp_path / "projector")
    store.set_setting("sync.hub_url", HUB)
    store.set_setting("sync.signup_alias", ALIAS)
    store.set_setting("sync.signup_key", device_signup_key(SECRET, ALIAS))
    yield store
    store.close()


def show(window, demo, poll, size, lang, link):
    projector = build_projector(demo, None, lang=lang, bundle_dir=DEMO_BUNDLE_DIR,
                                signup_link=link)
    root = projector.root
    root.size_hint = (None, None)
    root.size = size
    window.add_widget(root)
    projector.receive(poll)
    projector.apply_control({"view": "participation"})
    step(10)
    return projector


def decode(path):
    from PIL import Image
    with Image.open(path) as image:
        return [r.text for r in zxingcpp.read_barcodes(image.convert("L"))]


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("lang", ["fr", "it"])
def test_the_participation_view_shows_a_large_signup_qr(window, demo, snapshot, enrolled,
                                                        size, lang):
    link = SignupLink(enrolled, consultation_id=demo.id, site_id="menton-mediatheque")
    projector = show(window, demo, snapshot, size, lang, link)
    try:
        view = projector.views["participation"]
        qr = view.signup.ids.qr
        assert qr.height >= 0.4 * size[1] and qr.width == qr.height, qr.size
        assert qr.right <= size[0] and qr.y >= 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"participation-signup-{lang}-{size[0]}x{size[1]}.png"
        projector.root.export_to_png(str(path))
        urls = [t for t in decode(path) if t.startswith(HUB + "/signup?t=")]
        assert len(urls) == 1 and len(urls[0]) < 150, urls
        claims = verify_signup_token(urls[0].split("t=", 1)[1], SECRET)
        assert (claims["consultation"], claims["site"], claims["device"]) == \
            (demo.id, "menton-mediatheque", ALIAS)
        assert enrolled.device_id not in urls[0]
        assert str(snapshot.snapshot.contributions) in view.big.figure
    finally:
        projector.stop()
        window.remove_widget(projector.root)


def test_no_link_no_qr(window, demo, snapshot, tmp_path):
    store = Store.open(tmp_path / "not-enrolled")
    link = SignupLink(store, consultation_id=demo.id)
    assert link() == ""
    projector = show(window, demo, snapshot, (1280, 720), "fr", link)
    try:
        panel = projector.views["participation"].signup
        assert panel.width == 0 and panel.opacity == 0
    finally:
        projector.stop()
        window.remove_widget(projector.root)
        store.close()


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_a_question_without_votes_says_to_vote_on_the_tablets(window, demo, snapshot, enrolled,
                                                              lang):
    """No wall of empty bars: what to do, and the sign-up QR (only yes/no has votes here)."""
    from tests.ui.test_projector import all_text
    link = SignupLink(enrolled, consultation_id=demo.id, site_id="menton-mediatheque")
    projector = show(window, demo, snapshot, (1920, 1080), lang, link)
    try:
        projector.apply_control({"view": "q-colour"})
        step(10)
        text = all_text(projector.root)
        assert {"fr": "Votez sur les tablettes", "it": "Votate sui tablet"}[lang] in text
        assert "0 %" not in text and "0\u00a0%" not in text
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"empty-question-{lang}-1920x1080.png"
        projector.root.export_to_png(str(path))
        assert [t for t in decode(path) if t.startswith(HUB + "/signup?t=")]
        projector.apply_control({"view": "q-ticket"})       # votes: the bars, no call
        step(10)
        text = all_text(projector.root)
        assert "Votez sur les tablettes" not in text and "Votate sui tablet" not in text
    finally:
        projector.stop()
        window.remove_widget(projector.root)
