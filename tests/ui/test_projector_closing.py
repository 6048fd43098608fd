"""The closing record's QR on the projector (issue 30), on a real window at 1920×1080 and
1280×720 in French and Italian: the display control `closing` covers every view with the
record's QR (read back from the screenshot), large enough to scan from the back of the room,
its words at the projector's type floor; the `c` key takes it off; an address that is not a
closing record's is refused and changes nothing. Screenshots in build/screenshots/projector/."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.test_projector import (ResultsPoll, demo_results, frames,  # noqa: F401
                                     labels, make_projector, plain, window)

zxingcpp = pytest.importorskip("zxingcpp")

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "projector"
URL = "https://participation.example.org/closing/" + "3f" * 16
WORDS = {"fr": "La réunion est close", "it": "La riunione è chiusa"}


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)], ids=lambda s: f"{s[1]}p")
@pytest.mark.parametrize("lang", ["fr", "it"])
def test_the_closing_qr_covers_the_views_until_cleared(make_projector, demo_results, size,
                                                        lang):
    from PIL import Image
    projector = make_projector(size, lang=lang)
    projector.receive(ResultsPoll(True, demo_results))
    assert projector.apply_control({"closing": URL}) is None
    frames(6)
    text = "\n".join(plain(label.text) for label in labels(projector.root))
    assert WORDS[lang] in text
    floor = 40 * size[1] / 1080 - 0.5
    assert all(label.font_size >= floor for label in labels(projector.root))
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"closing-{lang}-{size[0]}x{size[1]}.png"
    projector.root.export_to_png(str(path))
    image = Image.open(path).convert("L")
    found = [r for r in zxingcpp.read_barcodes(image)
             if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert [r.text for r in found] == [URL]
    height = max(p.y for p in (found[0].position.top_left, found[0].position.bottom_left,
                               found[0].position.top_right, found[0].position.bottom_right)) \
        - min(p.y for p in (found[0].position.top_left, found[0].position.top_right))
    assert height >= 0.4 * size[1], height
    # Another view asked for: the QR stays until the closing is cleared.
    projector.apply_control({"view": "ideas"})
    frames(3)
    assert WORDS[lang] in "\n".join(plain(label.text) for label in labels(projector.root))
    from app.display import control_for_key
    projector.apply_control(control_for_key(projector.state, "c"))
    frames(3)
    assert projector.state.closing == "" and projector.state.view == "ideas"
    assert WORDS[lang] not in "\n".join(plain(label.text) for label in labels(projector.root))


@pytest.mark.parametrize("address", ["javascript:alert(1)", "https://evil.example/x",
                                     URL + "/../../admin", 42])
def test_an_address_that_is_not_a_closing_record_is_refused(make_projector, address):
    projector = make_projector()
    before = projector.state
    reason = projector.apply_control({"closing": address})
    assert reason and projector.state == before
