"""The closing record's public page (issue 30) in a real browser (Debian's chromium through
Playwright), served by a real hub over HTTP: a meeting's closing in French on a phone and in
Italian on a laptop, verified, its figures and mismatches readable, the language switched
without losing the record. Screenshots in build/screenshots/closing/."""
from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from app.bundle import load_bundle
from app.paths import DEMO_BUNDLE_DIR
from tests.browser import submit

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "closing"
CHROMIUM = "/usr/bin/chromium"
# The elements of the page whose content is wider than what they show (a sideways scroll).
WIDER_THAN_SHOWN = """[...document.querySelectorAll('main *')]
    .filter(e => e.scrollWidth > e.clientWidth + 1 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
    .map(e => e.tagName + '.' + e.className)"""


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_the_closing_page_reads_in_french_and_italian(tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    import uvicorn

    from server import closing
    from server.api import create_app
    from server.hub import Hub
    from server.settings import Settings
    from tests.unit.conftest import enroll_tablet, push_pending
    from tests.unit.test_closing import MEETING, meeting_played

    hub = Hub(Settings.from_env({}, data_dir=tmp_path / "hub"))
    hub.import_bundle(DEMO_BUNDLE_DIR)
    meeting_played(hub, load_bundle(DEMO_BUNDLE_DIR), enroll_tablet, push_pending)
    row = closing.make_for(hub, meeting_id=MEETING)
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
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-background-networking",
                "--disable-component-update", "--disable-gpu"])
            try:
                phone = browser.new_page(viewport={"width": 390, "height": 844})
                phone.goto(f"http://127.0.0.1:{port}/closing/{row['id']}?lang=fr")
                text = phone.inner_text("main")
                # The late tablet said by its sync, not by its alias (a code nobody can match
                # to a tablet: "La tablette « heemrydxrs3g4ls2 »", "Saisi par : zrcrjzom…").
                for words in ("Procès-verbal de clôture", "Vérifié", "Bulletins par canal",
                              "Une tablette de ce lieu ne s'est jamais synchronisée"):
                    assert words in text, words
                assert "\nune tablette\n" in text       # "Saisi par" is the cell's ::before
                # A batch by its kind, cards and hour, not by its ID (on no card, no sheet).
                batches = json.loads(row["document"])["record"]["cards"]["batches"]
                assert batches and "Lots de cartes\u00a0: Imprimées, 6 (" in text
                assert not [b for b in batches if b["batch"][:8] in text]
                codes = [d[key] for d in hub.devices() for key in ("alias", "id") if d[key]]
                assert not [code for code in codes if code[:8] in text.split("Empreinte")[0]]
                assert phone.locator(".card svg").count() == 1
                # Nothing wider than the phone's screen, nothing to scroll sideways inside it
                # either (the counts' six columns used to scroll in a box of their own).
                assert phone.evaluate("document.documentElement.scrollWidth") <= 390
                assert phone.evaluate(WIDER_THAN_SHOWN) == []
                # A count read in the sheet's words: abstentions, not "Je m'abstiens".
                assert "Abstentions\u00a0: 0" in text and "abstiens" not in text
                phone.screenshot(path=str(SHOTS / "closing-fr-390.png"), full_page=True)
                submit(phone, "nav.langs a[lang=it]")
                text = phone.inner_text("main")
                assert "Verbale di chiusura" in text and "Astensioni: 0" in text
                assert phone.evaluate(WIDER_THAN_SHOWN) == []
                phone.screenshot(path=str(SHOTS / "closing-it-390.png"), full_page=True)
                laptop = browser.new_page(viewport={"width": 1280, "height": 900})
                laptop.goto(f"http://127.0.0.1:{port}/closing/{row['id']}?lang=it")
                assert "Schede per canale" in laptop.inner_text("main")
                laptop.screenshot(path=str(SHOTS / "closing-it-1280.png"), full_page=True)
                # The dashboard names the meeting by its title and time, not its ID.
                laptop.goto(f"http://127.0.0.1:{port}/dashboard?lang=fr")
                laptop.fill("#token", hub.settings.admin_token)
                submit(laptop, "main form button[type=submit]")
                meeting = next(m for m in load_bundle(DEMO_BUNDLE_DIR).meetings
                               if m.id == MEETING)
                for lang in ("fr", "it"):
                    laptop.goto(f"http://127.0.0.1:{port}/dashboard?lang={lang}")
                    board = laptop.inner_text("main")
                    assert meeting.title[lang] in board and MEETING not in board
                    laptop.screenshot(path=str(SHOTS / f"dashboard-{lang}-1280.png"),
                                      full_page=True)
                # An officer on their phone: the participation and cards tables read one block
                # per row, nothing to scroll sideways (the figures were off the screen's edge).
                laptop.set_viewport_size({"width": 390, "height": 844})
                for lang in ("fr", "it"):
                    laptop.goto(f"http://127.0.0.1:{port}/dashboard?lang={lang}")
                    assert laptop.evaluate("document.documentElement.scrollWidth") <= 390
                    assert laptop.evaluate(WIDER_THAN_SHOWN) == []
                    assert laptop.locator("table.stack").count() == 2
                    assert laptop.evaluate("getComputedStyle(document.querySelector("
                                           "'table.stack tbody tr')).display") == "block"
                    laptop.screenshot(path=str(SHOTS / f"dashboard-{lang}-390.png"),
                                      full_page=True)
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(30)
        hub.close()
    assert (SHOTS / "closing-fr-390.png").stat().st_size > 10_000
