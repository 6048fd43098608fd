"""Printed participation cards, handed out at the door (`python -m server cards print`).

A PDF of A4 pages, eight cards a page with cut marks; each card has its QR (the signed
`PZC3.…` text), its typed code in large type, the consultation's title and a short instruction
for the resident in French or Italian. Drawn with Pillow at 300 dpi (no other dependency), in
pure black and white so that QR codes and type stay sharp on any printer. The cards are issued
(server.issued_cards.IssuedCards.issue_cards) before they are drawn; the PDF is the only
place their secrets exist: print it, hand the cards out, then delete the file.
"""
from __future__ import annotations

import io
from pathlib import Path

from app.i18n import gettext_for
from app.model import localized
from app.qr import qr_matrix

from .errors import HubError

DPI = 300
MM = DPI / 25.4
PAGE = (round(210 * MM), round(297 * MM))          # A4 portrait
COLUMNS, ROWS = 2, 4
MARGIN = round(12 * MM)
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu",
             "/usr/share/fonts/TTF", "/usr/local/share/fonts", "/Library/Fonts",
             str(Path.home() / ".fonts"))


def _font(name: str, size: int):
    from PIL import ImageFont
    for folder in FONT_DIRS:
        path = Path(folder) / name
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    # Pillow's own font has no accents: install fonts-dejavu-core (the container does).
    return ImageFont.load_default(size=size)


def _wrap(draw, text: str, font, width: int) -> list[str]:
    """The text in lines no wider than `width` pixels."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        words, line = paragraph.split(" "), ""
        for word in words:
            candidate = f"{line} {word}".strip() if line else word
            if draw.textlength(candidate, font=font) <= width or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def card_texts(lang: str, consultation) -> dict[str, str]:
    _ = gettext_for(lang)
    return {
        "title": _("Participation card"),
        "consultation": localized(consultation.title, lang) if consultation else "",
        # A phone's camera shows the QR's `PZC3.…` text, not a page: the phone opens the
        # ballot from the screen's QR, and the resident types the code (docs/protocol.md).
        "how": _("Tablet: show this QR code or type the code. Phone: scan the QR code on the "
                 "screen, then type the code."),
        "secret": _("This card bears no name: nobody can tell how you voted. Keep it to "
                    "yourself: whoever has it can vote in your place."),
    }


def draw_card(image, box: tuple[int, int, int, int], qr_text: str, typed: str,
              texts: dict[str, str]) -> int:
    """One card in `box` (left, top, right, bottom) of a 300 dpi page; the y where its last
    line ends (within the box, tests/unit/test_card_sheet.py)."""
    from PIL import ImageDraw
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = box
    pad = round(4 * MM)
    matrix = qr_matrix(qr_text, border=0)
    side = round(40 * MM)
    module = max(1, side // len(matrix))
    qx, qy = left + pad, top + pad
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                draw.rectangle((qx + x * module, qy + y * module,
                                qx + (x + 1) * module - 1, qy + (y + 1) * module - 1), fill=0)
    qr_side = module * len(matrix)
    text_left = qx + qr_side + round(4 * MM)
    text_width = right - pad - text_left
    y = top + pad
    bold = _font("DejaVuSans-Bold.ttf", 46)
    regular = _font("DejaVuSans.ttf", 34)
    small = _font("DejaVuSans.ttf", 31)
    for line in _wrap(draw, texts["title"], bold, text_width):
        draw.text((text_left, y), line, font=bold, fill=0)
        y += 56
    if texts["consultation"]:
        for line in _wrap(draw, texts["consultation"], regular, text_width)[:3]:
            draw.text((text_left, y), line, font=regular, fill=0)
            y += 42
    y += 14
    for line in _wrap(draw, texts["how"], small, text_width):
        draw.text((text_left, y), line, font=small, fill=0)
        y += 38
    y = max(y, qy + qr_side) + round(4 * MM)
    code_font = _font("DejaVuSansMono-Bold.ttf", 80)
    width = draw.textlength(typed, font=code_font)
    draw.text((left + (right - left - width) / 2, y), typed, font=code_font, fill=0)
    y += 110
    for line in _wrap(draw, texts["secret"], small, right - left - 2 * pad):
        draw.text((left + pad, y), line, font=small, fill=0)
        y += 38
    return y


def draw_cut_marks(image, xs: list[int], ys: list[int]) -> None:
    """Marks on the page's margins along every cut line, and small crosses where lines meet."""
    from PIL import ImageDraw
    draw = ImageDraw.Draw(image)
    tick, gap, arm = round(6 * MM), round(2 * MM), round(2.5 * MM)
    for x in xs:
        draw.line((x, ys[0] - gap - tick, x, ys[0] - gap), fill=0, width=2)
        draw.line((x, ys[-1] + gap, x, ys[-1] + gap + tick), fill=0, width=2)
    for y in ys:
        draw.line((xs[0] - gap - tick, y, xs[0] - gap, y), fill=0, width=2)
        draw.line((xs[-1] + gap, y, xs[-1] + gap + tick, y), fill=0, width=2)
    for x in xs[1:-1]:
        for y in ys[1:-1]:
            draw.line((x - arm, y, x + arm, y), fill=0, width=2)
            draw.line((x, y - arm, x, y + arm), fill=0, width=2)


def render_pages(cards: list[tuple[str, str]], texts: dict[str, str]) -> list:
    """Pages (Pillow images, mode "1", 300 dpi) for cards given as (QR text, typed code)."""
    from PIL import Image
    cell_w = (PAGE[0] - 2 * MARGIN) // COLUMNS
    cell_h = (PAGE[1] - 2 * MARGIN) // ROWS
    xs = [MARGIN + i * cell_w for i in range(COLUMNS + 1)]
    ys = [MARGIN + i * cell_h for i in range(ROWS + 1)]
    per_page = COLUMNS * ROWS
    pages = []
    for start in range(0, len(cards), per_page):
        page = Image.new("L", PAGE, 255)
        for i, (qr_text, typed) in enumerate(cards[start:start + per_page]):
            col, row = i % COLUMNS, i // COLUMNS
            draw_card(page, (xs[col], ys[row], xs[col + 1], ys[row + 1]), qr_text, typed,
                      texts)
        draw_cut_marks(page, xs, ys)
        pages.append(page.point(lambda p: 255 if p > 150 else 0, mode="1"))
    return pages


def save_pdf(pages: list, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    pages[0].save(buffer, "PDF", save_all=True, append_images=pages[1:], resolution=DPI,
                  title="Piazzetta", producer="Piazzetta")
    path.write_bytes(buffer.getvalue())


def print_cards(hub, consultation_id: str, count: int, lang: str, path: Path) -> int:
    """Issue `count` cards for the consultation and write their PDF; the number of pages."""
    from app.errors import N_
    consultation = hub.consultation(consultation_id)
    if consultation is None:
        raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
    parts = hub.participation
    cards = parts.issue_cards(consultation_id, count)
    pages = render_pages([(parts.card_text(c), c.typed) for c in cards],
                         card_texts(lang, consultation))
    save_pdf(pages, path)
    return len(pages)


__all__ = ["print_cards", "render_pages", "save_pdf", "card_texts"]
