"""End to end: a real hub subprocess, a tablet enrolled with it, the follow-up panel (sign-up QR
and idea receipt QR) drawn on a real Kivy window and saved as a PNG; zxing-cpp reads the QR
from that image; Debian's Chromium, driven by Playwright at phone size, opens the link, fills
in the form and sends it; the hub counts the sign-up for the tablet's site and meeting; the
confirmation link shows the participation card once. The
hub's log is read for personal data. Screenshots go to build/screenshots/signup/."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import requests

from app.proposals import idea_url
from app.tablet import kiosk_signup_url
from app.store import Store
from screens.followup import FollowUpPanel
from sync.enroll import enroll
from tests.ui.conftest import step
from tests.browser import submit

zxingcpp = pytest.importorskip("zxingcpp")
playwright_api = pytest.importorskip("playwright.sync_api")

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "signup"
CHROMIUM = "/usr/bin/chromium"
SITE = "menton-mediatheque"
MEETING = "m-menton-1203"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    from tests.integration.conftest import start_hub
    process = start_hub(tmp_path_factory.mktemp("hub"))
    yield process
    process.stop()


def confirmation_link(hub, signup_key: str) -> str:
    """The link the hub would email (no mail server here): made with the hub's key."""
    from server import signing
    secret = (hub.data_dir / "secret-key").read_text().strip()
    token = signing.sign({"purpose": "confirm-card", "signup": signup_key}, secret, 7200)
    return f"{hub.url}/signup/confirm?t={token}"


def decode_qr_texts(path: Path) -> list[str]:
    from PIL import Image
    with Image.open(path) as image:
        return [r.text for r in zxingcpp.read_barcodes(image.convert("L"))]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_qr_from_the_screen_to_a_signup_counted_for_the_site(hub, tmp_path):
    from kivy.core.window import Window

    SHOTS.mkdir(parents=True, exist_ok=True)
    store = Store.open(tmp_path / "tablet")
    enroll(store, hub.url, hub.code(SITE))
    url = kiosk_signup_url(store, consultation_id="alpimed-2030", site_id=SITE,
                           meeting_id=MEETING)
    assert url.startswith(hub.url + "/signup?t=")
    assert kiosk_signup_url(Store.memory(), consultation_id="alpimed-2030", site_id=SITE,
                            meeting_id=None) == ""      # not enrolled: no QR at all

    # The panel as the thanks screen shows it, on the real window.
    panel = FollowUpPanel(signup_url=url, idea_url=idea_url(hub.url, "K7PQ2M"),
                          idea_code="K7PQ2M", size_hint=(None, None))
    Window.add_widget(panel)
    try:
        panel.size = (Window.width, 420)
        panel.pos = (0, 0)
        step(6)
        shot = SHOTS / "kiosk-followup.png"
        panel.export_to_png(str(shot))
    finally:
        Window.remove_widget(panel)
    texts = decode_qr_texts(shot)
    assert url in texts and idea_url(hub.url, "K7PQ2M") in texts

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update",
            "--disable-gpu"])
        try:
            for lang in ("fr", "it"):
                context = browser.new_context(viewport={"width": 390, "height": 844},
                                              locale={"fr": "fr-FR", "it": "it-IT"}[lang],
                                              java_script_enabled=False)
                page = context.new_page()
                page.goto(url, wait_until="load")
                assert page.locator("html").get_attribute("lang") == lang
                page.screenshot(path=str(SHOTS / f"form-{lang}.png"), full_page=True)
                if lang == "it":
                    # Sending the form empty: clear errors, nothing recorded.
                    submit(page, "main form button[type=submit]")
                    assert page.locator("[role=alert]").count() == 1
                    page.screenshot(path=str(SHOTS / "form-errors-it.png"), full_page=True)
                    page.fill("#name", "Giulia R.")
                    page.fill("#contact", "giulia.r@example.it")
                else:
                    page.fill("#name", "Zoé Martin")
                    page.fill("#contact", "zoe.martin@example.org")
                key = page.locator("input[name=k]").get_attribute("value")
                page.check("#consent")
                submit(page, "main form button[type=submit]")
                page.wait_for_selector("h1")
                # No card on the form's answer: it goes to the confirmed address, once.
                assert page.locator(".code").count() == 0
                page.screenshot(path=str(SHOTS / f"signed-up-{lang}.png"), full_page=True)
                link = confirmation_link(hub, key) + f"&lang={lang}"
                page.goto(link, wait_until="load")      # one button: a GET shows nothing
                assert page.locator(".code").count() == 0
                submit(page, "main form button[type=submit]")
                page.wait_for_selector(".code")
                code = page.locator(".code").inner_text()
                assert len(code.replace("-", "")) == 17
                page.screenshot(path=str(SHOTS / f"card-{lang}.png"), full_page=True)
                # A phone reads the card's QR from the page too.
                page.locator(".card svg").screenshot(path=str(tmp_path / "card-qr.png"))
                assert any(t.startswith("PZC3.") for t in decode_qr_texts(tmp_path /
                                                                           "card-qr.png"))
                # Shown once: the same link again shows no card.
                page.goto(link, wait_until="load")
                submit(page, "main form button[type=submit]")
                page.wait_for_selector("h1")
                assert page.locator(".code").count() == 0 and code not in page.content()
                page.screenshot(path=str(SHOTS / f"card-again-{lang}.png"), full_page=True)
                context.close()
        finally:
            browser.close()

    figures = requests.get(hub.url + "/dashboard/figures.json", timeout=30, headers={
        "Authorization": f"Bearer {hub.admin_token}"}).json()["figures"]
    mine = [f for f in figures if f["site_id"] == SITE and f["meeting_id"] == MEETING]
    assert len(mine) == 1 and mine[0]["signups"] == 2, figures
    # Personal data never reaches the hub's log, nor the confirmation link (no SMTP here: the
    # log says it could not be sent).
    log = hub.log.read_text(errors="replace")
    assert "/signup/confirm" not in log and "not sent" in log
    for personal in ("zoe.martin", "Zoé", "Martin", "giulia.r", "Giulia"):
        assert personal not in log
    shutil.copy(shot, SHOTS / "kiosk-followup-decoded.png")
