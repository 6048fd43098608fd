"""The printed participation card (server/card_sheet.py): it tells a resident how to use it on a
tablet and on a phone (a phone's camera shows the card's QR as text, so the phone opens the
ballot from the screen's QR and the code is typed), in French and Italian, and everything it
prints stays inside its cut lines, even with the longest title it takes."""
from __future__ import annotations

import pytest
from PIL import Image

from app.bundle import load_bundle
from app.cards import CARD_PREFIX
from app.paths import DEMO_BUNDLE_DIR
from server import card_sheet

PHONE = {"fr": "Téléphone", "it": "Telefono", "en": "Phone"}
QR_TEXT = f"{CARD_PREFIX}.ABCDEFGHJKMNPQRST." + "A" * 86       # as long as a real card's
TYPED = "ABCD-EFGHJ-KMNP-QRST"


@pytest.mark.parametrize("lang", ["fr", "it", "en"])
def test_a_card_says_how_to_vote_on_a_phone_and_stays_within_its_cut_lines(lang):
    demo = load_bundle(DEMO_BUNDLE_DIR)
    texts = card_sheet.card_texts(lang, demo)
    assert PHONE[lang] in texts["how"] and "QR" in texts["how"]
    # The longest title a card prints (three lines, cut after that).
    long_title = dict(texts, consultation=" ".join([texts["consultation"]] * 4))
    cell_w = (card_sheet.PAGE[0] - 2 * card_sheet.MARGIN) // card_sheet.COLUMNS
    cell_h = (card_sheet.PAGE[1] - 2 * card_sheet.MARGIN) // card_sheet.ROWS
    for shown in (texts, long_title):
        page = Image.new("L", card_sheet.PAGE, 255)
        box = (card_sheet.MARGIN, card_sheet.MARGIN, card_sheet.MARGIN + cell_w,
               card_sheet.MARGIN + cell_h)
        bottom = card_sheet.draw_card(page, box, QR_TEXT, TYPED, shown)
        assert box[1] < bottom <= box[3], (lang, bottom, box)
        # Nothing drawn below the cell's bottom (the next card's space).
        below = page.crop((0, box[3] + 1, card_sheet.PAGE[0], box[3] + cell_h))
        assert below.getextrema() == (255, 255)
