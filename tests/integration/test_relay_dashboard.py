"""The central hub's dashboard after a room hub forwarded: its "Room hubs" section in French and
Italian, seen in Debian's chromium (screenshots under build/screenshots/relays/), and the code
form that makes a room's laptop its enrollment code."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.store import Store
from sync.enroll import enroll

from .conftest import SITE, record_votes, start_hub
from .test_relay_hub import push_all, query, relay_code, room_hub, wait_for, waiting
from tests.browser import submit

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "relays"
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_the_room_hubs_section_shows_what_arrived_in_french_and_italian(tmp_path, demo):
    playwright_api = pytest.importorskip("playwright.sync_api")
    central = start_hub(tmp_path / "central")
    room = room_hub(tmp_path / "room").start()
    try:
        enrolled = room.cli("upstream", "enroll", "--url", central.url, "--code",
                            relay_code(central), "--name", "Salle du conseil, Menton")
        assert enrolled.returncode == 0, enrolled.stderr
        wait_for(lambda: query(room, "SELECT count(*) FROM consultations")[0][0] == 1, 60,
                 "the room to pull the consultation")
        store = Store.open(tmp_path / "tablet")
        enroll(store, room.url, room.code(SITE))
        record_votes(store, demo, 12, seed=3)
        push_all(store)
        wait_for(lambda: waiting(room) == 0 and query(
            central, "SELECT count(*) FROM relay_batches")[0][0] > 0, 120,
            "the room to forward")
        SHOTS.mkdir(parents=True, exist_ok=True)
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-background-networking",
                "--disable-component-update", "--disable-gpu"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{central.url}/dashboard?lang=fr")
                page.fill("#token", central.admin_token)
                submit(page, "button[type=submit]")
                for lang, heading in (("fr", "Serveurs de salle"), ("it", "Server di sala")):
                    page.goto(f"{central.url}/dashboard?lang={lang}#relays")
                    section = page.locator("#relays")
                    text = section.inner_text()
                    assert "Salle du conseil, Menton" in text, text
                    assert heading in text, text
                    # Each date and time on one line ("06/12/2026 · 14:03"), never "06/12/2026 ·"
                    # above "14:03": the lines a cell's text lies on, counted by their tops.
                    lines = section.locator("td.when").evaluate_all("""cells => cells.map(c => {
                        const range = document.createRange(); range.selectNodeContents(c);
                        return new Set([...range.getClientRects()].map(r => r.top)).size; })""")
                    assert lines == [1, 1, 1], lines
                    assert "·" in section.locator("td.when").first.inner_text()
                    section.screenshot(path=str(SHOTS / f"room-hubs-{lang}.png"))
                    # On an officer's phone: one block per room hub, nothing to scroll sideways.
                    page.set_viewport_size({"width": 390, "height": 844})
                    assert page.evaluate("document.documentElement.scrollWidth") <= 390
                    assert page.evaluate("""[...document.querySelectorAll('#relays *')].filter(
                        e => e.scrollWidth > e.clientWidth + 1).filter(e => ['auto', 'scroll']
                        .includes(getComputedStyle(e).overflowX)).length""") == 0
                    # The tablet's field as big as the others (it had no type: the text fields'
                    # style missed it, a 20 px box).
                    assert page.locator("#move-device").bounding_box()["height"] >= 44
                    section.screenshot(path=str(SHOTS / f"room-hubs-{lang}-390.png"))
                    page.set_viewport_size({"width": 1280, "height": 900})
                # The code form makes a code for a room's laptop (shown once on the page).
                page.goto(f"{central.url}/dashboard?lang=fr#relays")
                submit(page, "#relays form button[type=submit]")
                page.screenshot(path=str(SHOTS / "room-code-fr.png"), full_page=True)
                assert page.locator("text=/[A-Z0-9]{4}-[A-Z0-9]{4}/").count() >= 1
            finally:
                browser.close()
    finally:
        room.stop()
        central.stop()
