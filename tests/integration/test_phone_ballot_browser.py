"""Residents' phones answering the question on screen (issue 29), in Debian's chromium at 390x844
against real hub processes: the room kit over its own TLS (the phone trusts that one
certificate, as docs/protocol.md says), and the central hub. Every question kind through its
page, in FR and IT, in open mode (one answer per phone and question) and card mode (a printed
card's code; the same card on a tablet and a phone counts once). Screenshots under
build/screenshots/phones/."""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
import requests

from app.bundle import load_bundle
from app.paths import DEMO_BUNDLE_DIR

from .conftest import SITE, start_hub
from .roomkit import RoomKit
from .test_card_privacy import CONSULTATION, printed_cards, push, tablet, vote
from tests.browser import submit

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "phones"
CHROMIUM = "/usr/bin/chromium"
KINDS_IN_ORDER = ["q-colour", "q-ticket", "q-cooperation", "q-themes", "q-services", "q-budget",
                  "q-missing", "q-place"]
DONE = {"fr": "Votre réponse est comptée", "it": "La Sua risposta è contata"}
USED = {"fr": "Déjà utilisée", "it": "Già usata"}
ANSWERED = {"fr": "Déjà répondu", "it": "Già risposto"}
CLOSED = {"fr": "Cette question est fermée", "it": "Questa domanda è chiusa"}

pytestmark = [pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="Debian's chromium is not installed")]


def spki_pin(cert_path: str) -> str:
    """The certificate's public key hash as chromium's --ignore-certificate-errors-spki-list
    takes it: what a phone told to trust this room's certificate (and no other) trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def open_to_phones(hub, questions, cards: bool, verify=True) -> None:
    answer = requests.put(f"{hub.url}/api/v1/consultations/{CONSULTATION}/display",
                          json={"phones": questions, "phones_cards": cards,
                                "phones_site": SITE},
                          headers={"Authorization": f"Bearer {hub.admin_token}"},
                          timeout=30, verify=verify)
    assert answer.status_code == 200, answer.text


def browser_for(p, cert: str | None = None):
    args = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
            "--disable-gpu"]
    if cert:
        args.append("--ignore-certificate-errors-spki-list=" + spki_pin(cert))
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


@pytest.fixture(scope="module")
def playwright():
    """One Playwright driver for the module's phones (each test its own browser contexts)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def module_browser(playwright):
    """One chromium for the tests whose phones trust no room certificate (the same launch
    arguments each): a launch less per test."""
    browser = browser_for(playwright)
    yield browser
    browser.close()


@pytest.fixture
def browser(module_browser):
    """The module's chromium; this test's phones (browser contexts) closed after it."""
    yield module_browser
    for context in module_browser.contexts:
        context.close()


def phone(browser, lang: str):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale=lang,
                                  extra_http_headers={"Accept-Language": lang},
                                  java_script_enabled=False)
    return context.new_page()


def answer_page(page, question) -> None:
    """Fill a question's page as a resident would, by its labels."""
    kind = question.kind
    if kind in ("yes_no", "scale", "place") or (kind == "choice" and not question.multiple):
        page.locator("label.opt").nth(1).click()
    elif kind == "choice":
        page.locator("label.opt").nth(0).click()
        page.locator("label.opt").nth(2).click()
    elif kind == "colour":
        for i, fieldset in enumerate(page.locator("fieldset.project").all()):
            fieldset.locator("label.opt").nth(i % 3).click()
    elif kind == "ranking":
        selects = page.locator("select").all()
        for rank, select in enumerate(selects[:question.ranking_length], start=1):
            select.select_option(str(rank))
    elif kind == "budget":
        page.locator("input.amount").nth(0).fill("200 000")
        page.locator("input.amount").nth(2).fill("60000")
    elif kind == "open":
        page.locator("textarea").fill("Un banc à l'ombre près de l'arrêt")


def every_kind(page, base: str, demo, lang: str, shots: str, card: str | None = None) -> None:
    """One phone through every question kind: each page, then its "counted" page."""
    page.goto(f"{base}/v/{CONSULTATION}?lang={lang}")
    for index, question_id in enumerate(KINDS_IN_ORDER):
        question = demo.question(question_id)
        if card and index == 0:
            page.fill("#card", card)
        answer_page(page, question)
        page.screenshot(path=str(SHOTS / f"{shots}-{question.kind}-{lang}.png"), full_page=True)
        submit(page, "main > form button[type=submit]")
        assert DONE[lang] in page.inner_text("main"), (question_id, page.inner_text("main"))
        if index == len(KINDS_IN_ORDER) - 1:
            page.screenshot(path=str(SHOTS / f"{shots}-counted-{lang}.png"), full_page=True)
            assert page.locator("main form").count() == 0
        else:
            submit(page, "main > form button[type=submit]")       # "Next question"


def test_phones_at_the_room_hub_over_its_own_tls(tmp_path, playwright):
    demo = load_bundle(DEMO_BUNDLE_DIR)
    room = RoomKit(tmp_path / "room")
    room.start()
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        cards = printed_cards(room, tmp_path, 2, "fr")
        open_to_phones(room, KINDS_IN_ORDER, cards=False, verify=room.cert)
        browser = browser_for(playwright, room.cert)
        try:
            # Open mode: a phone in Italian through every kind, then once more: refused.
            page = phone(browser, "it")
            every_kind(page, room.url, demo, "it", "room-open")
            page.goto(f"{room.url}/v/{CONSULTATION}/q-ticket?lang=it")
            answer_page(page, demo.question("q-ticket"))
            submit(page, "main > form button[type=submit]")
            assert ANSWERED["it"] in page.inner_text("main")
            page.screenshot(path=str(SHOTS / "room-answered-it.png"), full_page=True)
            # Card mode: a phone in French types a printed card's code, every kind.
            open_to_phones(room, KINDS_IN_ORDER, cards=True, verify=room.cert)
            page = phone(browser, "fr")
            code = cards[0].split(".")[1]
            every_kind(page, room.url, demo, "fr", "room-card", card=code)
            # Another phone with the same card: "already used", and nothing more.
            other = phone(browser, "fr")
            other.goto(f"{room.url}/v/{CONSULTATION}?lang=fr")
            other.fill("#card", code)
            answer_page(other, demo.question("q-colour"))
            submit(other, "main > form button[type=submit]")
            assert USED["fr"] in other.inner_text("main")
            other.screenshot(path=str(SHOTS / "room-card-used-fr.png"), full_page=True)
            # Closed: a late answer is refused clearly.
            open_to_phones(room, [], cards=True, verify=room.cert)
            other.goto(f"{room.url}/v/{CONSULTATION}/q-ticket?lang=fr")
            assert CLOSED["fr"] in other.inner_text("main")
            other.screenshot(path=str(SHOTS / "room-closed-fr.png"), full_page=True)
        finally:
            browser.close()
        results = requests.get(f"{room.url}/api/v1/consultations/{CONSULTATION}/results",
                               timeout=30, verify=room.cert).json()
        assert results["channels"] == {"phone": 2}
        for question_id in KINDS_IN_ORDER:
            assert results["questions"][question_id]["channels"]["phone"]["ballots"] == 2
    finally:
        room.stop()


def test_phones_at_the_central_hub_and_a_card_used_on_a_tablet(tmp_path, browser):
    demo = load_bundle(DEMO_BUNDLE_DIR)
    hub = start_hub(tmp_path / "hub")
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        cards = printed_cards(hub, tmp_path, 2, "it")
        # A resident votes on a tablet with the first card.
        store = tablet(hub, tmp_path / "t", tmp_path / "bundles")
        vote(store, demo, cards[0], {"q-ticket": "yes"})
        assert push(store)["stored"] > 0
        open_to_phones(hub, ["q-ticket", "q-cooperation"], cards=True)
        page = phone(browser, "it")
        page.goto(f"{hub.url}/v/{CONSULTATION}")
        page.fill("#card", cards[0].split(".")[1])
        answer_page(page, demo.question("q-ticket"))
        page.screenshot(path=str(SHOTS / "central-card-it.png"), full_page=True)
        submit(page, "main > form button[type=submit]")
        assert USED["it"] in page.inner_text("main")
        page.screenshot(path=str(SHOTS / "central-card-used-it.png"), full_page=True)
        # The second card: both questions, the series keeping the card.
        page.goto(f"{hub.url}/v/{CONSULTATION}")
        page.fill("#card", cards[1].split(".")[1])
        answer_page(page, demo.question("q-ticket"))
        submit(page, "main > form button[type=submit]")
        assert DONE["it"] in page.inner_text("main")
        submit(page, "main > form button[type=submit]")
        answer_page(page, demo.question("q-cooperation"))
        submit(page, "main > form button[type=submit]")
        assert DONE["it"] in page.inner_text("main")
        # Open mode in French: one answer per phone.
        open_to_phones(hub, ["q-ticket"], cards=False)
        page = phone(browser, "fr")
        page.goto(f"{hub.url}/v/{CONSULTATION}")
        answer_page(page, demo.question("q-ticket"))
        submit(page, "main > form button[type=submit]")
        assert DONE["fr"] in page.inner_text("main")
        page.screenshot(path=str(SHOTS / "central-counted-fr.png"), full_page=True)
        ticket = hub.results()["questions"]["q-ticket"]
        assert ticket["channels"]["tablet"]["ballots"] == 1
        assert ticket["channels"]["phone"]["ballots"] == 2
        assert ticket["ballots"] == 3
    finally:
        hub.stop()


REHEARSAL_BAND = {"fr": "RÉPÉTITION\u00a0: ces réponses ne comptent pas",
                  "it": "PROVA: queste risposte non contano"}
REHEARSAL_RECEIVED = {"fr": "Réponse de répétition reçue", "it": "Risposta di prova ricevuta"}


def test_phones_in_a_rehearsal_carry_the_band_and_count_nowhere(tmp_path, browser):
    """A tablet of the site rehearses (over HTTP): phones in FR and IT see the kiosk's band
    on every page and their answers reach only the rehearsal's tally; the session opens and
    the same phone's answer counts for real."""
    from app.kiosk import KioskSession
    demo = load_bundle(DEMO_BUNDLE_DIR)
    hub = start_hub(tmp_path / "hub")
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        store = tablet(hub, tmp_path / "t", tmp_path / "bundles")
        session = KioskSession(store, demo)
        session.start_rehearsal()
        assert push(store)["stored"] > 0
        open_to_phones(hub, ["q-ticket", "q-cooperation"], cards=False)
        phones = {}
        for lang in ("fr", "it"):
            page = phones[lang] = phone(browser, lang)
            page.goto(f"{hub.url}/v/{CONSULTATION}")
            assert REHEARSAL_BAND[lang] in page.inner_text("main")
            answer_page(page, demo.question("q-ticket"))
            page.screenshot(path=str(SHOTS / f"rehearsal-question-{lang}.png"),
                            full_page=True)
            submit(page, "main > form button[type=submit]")
            shown = page.inner_text("main")
            assert REHEARSAL_BAND[lang] in shown and REHEARSAL_RECEIVED[lang] in shown
            assert DONE[lang] not in shown
            page.screenshot(path=str(SHOTS / f"rehearsal-received-{lang}.png"),
                            full_page=True)
        kept = requests.get(f"{hub.url}/api/v1/consultations/{CONSULTATION}"
                            "/rehearsal/results", timeout=30).json()
        assert kept["channels"] == {"phone": 2}
        assert kept["questions"]["q-ticket"]["ballots"] == 2
        assert hub.results()["ballots"] == 0
        # The session opens: no band, the rehearsal's answers gone, a real answer.
        session.open_session()
        assert push(store)["stored"] > 0
        page = phones["fr"]
        page.goto(f"{hub.url}/v/{CONSULTATION}/q-ticket")
        assert REHEARSAL_BAND["fr"] not in page.inner_text("main")
        answer_page(page, demo.question("q-ticket"))
        submit(page, "main > form button[type=submit]")
        assert DONE["fr"] in page.inner_text("main")
        kept = requests.get(f"{hub.url}/api/v1/consultations/{CONSULTATION}"
                            "/rehearsal/results", timeout=30).json()
        assert kept["ballots"] == 0
        real = hub.results()
        assert real["channels"] == {"phone": 1}
        assert real["questions"]["q-ticket"]["channels"]["phone"]["ballots"] == 1
    finally:
        hub.stop()


def test_every_question_page_zoomed_to_200_percent_stays_within_the_phone(tmp_path, browser):
    """A resident who zooms their 390 px phone to 200 % (195 CSS px wide) reads every question
    kind's page top to bottom, FR and IT, with nothing running off the side to scroll to: an
    amount or a rank goes under its label, a long word breaks."""
    import socket
    import threading
    import time

    import uvicorn

    from server import display_controls
    from server.api import create_app
    from server.hub import Hub
    from server.settings import Settings

    hub = Hub(Settings.from_env({}, data_dir=tmp_path / "hub"))
    hub.import_bundle(DEMO_BUNDLE_DIR)
    display_controls.set_display(hub, CONSULTATION, {"phones": KINDS_IN_ORDER,
                                                     "phones_cards": True}, "test", None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(hub=hub), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    wide = []
    try:
        context = browser.new_context(viewport={"width": 195, "height": 422},
                                      device_scale_factor=2,
                                      java_script_enabled=False)
        page = context.new_page()
        for lang in ("fr", "it"):
            for question_id in KINDS_IN_ORDER:
                page.goto(f"http://127.0.0.1:{port}/v/{CONSULTATION}/{question_id}"
                          f"?lang={lang}")
                assert page.locator("button[type=submit]").count() == 1
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > 195:
                    wide.append((lang, question_id, width))
        page.goto(f"http://127.0.0.1:{port}/v/{CONSULTATION}/q-budget?lang=it")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "zoom200-budget-it.png"), full_page=True)
    finally:
        server.should_exit = True
        thread.join(30)
        hub.close()
    assert wide == []
