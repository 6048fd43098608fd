"""QR codes as PNG bytes (qrcode + Pillow, both pure enough for the tablet): the sign-up link,
an idea's receipt. The screens turn the bytes into a texture; nothing here knows the window."""
from __future__ import annotations

import io


def qr_png(text: str, *, box_size: int = 10, border: int = 4) -> bytes:
    """A black-on-white QR of `text` with a quiet zone of `border` modules (4 is the standard's
    minimum: less and phone cameras struggle from afar)."""
    import qrcode
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size,
                       border=border)
    qr.add_data(text)
    qr.make(fit=True)
    image = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
