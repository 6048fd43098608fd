"""The card page as a resident's phone shows it (issues 23 and 24), in Debian's chromium at
390 px: the emailed link opens a page with one button; the button shows the card; the page's
IT and EN links keep the card shown (they post it back); opening the link again shows none.
Screenshots under build/screenshots/cards/ (FR, IT)."""
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import start_hub
from .test_card_privacy import CODES, confirmation_link, sign_up, tablet
from tests.browser import submit

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "cards"
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_the_card_stays_shown_in_every_language_and_the_link_shows_it_once(tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    hub = start_hub(tmp_path / "hub")
    try:
        store = tablet(hub, tmp_path / "t", tmp_path / "bundles")
        key = sign_up(hub, store, "Léa", "lea@example.org")
        link = confirmation_link(hub, key) + "&lang=fr"
        SHOTS.mkdir(parents=True, exist_ok=True)
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-background-networking",
                "--disable-component-update", "--disable-gpu"])
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                page.goto(link)
                assert page.locator("svg").count() == 0
                # Another browser than the form's: the code shown after the form is asked for.
                page.fill("#code", CODES[key])
                page.screenshot(path=str(SHOTS / "confirm-fr.png"), full_page=True)
                submit(page, "main form button[type=submit]")
                code = page.locator(".code").inner_text()
                assert page.locator(".card svg").count() == 1
                page.screenshot(path=str(SHOTS / "card-fr.png"), full_page=True)
                for lang, words in (("it", "Tessera di partecipazione"),
                                    ("en", "participation card")):
                    submit(page, f"nav.langs button[lang={lang}]")
                    assert page.locator(".code").inner_text() == code
                    assert words.lower() in page.inner_text("main").lower()
                    if lang == "it":
                        page.screenshot(path=str(SHOTS / "card-it.png"), full_page=True)
                page.goto(link)
                page.fill("#code", CODES[key])
                submit(page, "main form button[type=submit]")
                assert page.locator(".code").count() == 0 and code not in page.content()
            finally:
                browser.close()
    finally:
        hub.stop()
    assert (SHOTS / "card-it.png").stat().st_size > 10_000
