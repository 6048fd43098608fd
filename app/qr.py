"""QR codes, made in this one place (qrcode + Pillow, both pure enough for the tablet): as PNG
bytes (the sign-up link, an idea's receipt, an enrollment code), as an image to draw on, as a
matrix of modules (the printed cards), as SVG (the hub's card page) and as text for a terminal
(the admin CLI, the room hub's kit). Every one is error-correction level M. The screens turn
the bytes into a texture; nothing here knows the window."""
from __future__ import annotations

import io


def _code(text: str, *, box_size: int = 10, border: int = 4, image_factory=None):
    import qrcode
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size,
                       border=border, image_factory=image_factory)
    qr.add_data(text)
    qr.make(fit=True)
    return qr


def qr_image(text: str, *, box_size: int = 10, border: int = 4):
    """A black-on-white QR of `text` as a Pillow image (mode "L"), with a quiet zone of
    `border` modules (4 is the standard's minimum: less and phone cameras struggle from
    afar)."""
    qr = _code(text, box_size=box_size, border=border)
    return qr.make_image(fill_color="black", back_color="white").get_image().convert("L")


def qr_png(text: str, *, box_size: int = 10, border: int = 4) -> bytes:
    """qr_image as PNG bytes."""
    out = io.BytesIO()
    qr_image(text, box_size=box_size, border=border).save(out, format="PNG")
    return out.getvalue()


def qr_matrix(text: str, *, border: int = 0) -> list[list[bool]]:
    """The QR's modules, rows of booleans (True: dark), `border` light modules around."""
    return _code(text, border=border).get_matrix()


def qr_svg(text: str, *, box_size: int = 10, border: int = 2) -> str:
    """The QR as an SVG element (`<svg …>…</svg>`, no XML declaration), one path: no image
    library needed to show it."""
    import qrcode.image.svg
    image = _code(text, box_size=box_size, border=border,
                  image_factory=qrcode.image.svg.SvgPathImage).make_image()
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg"):]


def qr_ascii(text: str, *, border: int = 1) -> str:
    """The QR as text for a terminal (light on dark, as phones read a terminal's screen)."""
    out = io.StringIO()
    _code(text, border=border).print_ascii(out=out, invert=True)
    return out.getvalue()
