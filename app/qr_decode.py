"""Reading QR codes from camera frames: the enrollment QR on the facilitator screen, the
participation card in the identified ballot mode. ZBar does the decoding, through pyzbar (a
ctypes binding; Debian's libzbar0 on a desktop, python-for-android's libzbar recipe on a tablet),
imported only when first needed so that a tablet without it still starts and offers typing.
Nothing here knows the window: the Kivy side hands over pixels and gets text back."""
from __future__ import annotations

import threading
from typing import Any

from app.errors import DomainError, N_

# Frames larger than this (longest side, in pixels) are scaled down before decoding: a QR held
# in front of a tablet fills a good part of the frame, and ZBar's time grows with the area.
MAX_SIDE = 1280
# A QR holds at most 2,953 bytes; anything longer did not come from one.
MAX_TEXT = 4096

_lock = threading.Lock()
_zbar: Any = None          # the pyzbar.pyzbar module once loaded, False when it cannot be


class QrDecoderUnavailable(DomainError):
    """This installation has no QR decoder (pyzbar or the ZBar library is missing)."""

    def __init__(self):
        super().__init__(N_("This device cannot read QR codes with its camera: "
                            "type the code instead."))


def _load():
    global _zbar
    with _lock:
        if _zbar is None:
            try:
                from pyzbar import pyzbar  # loads libzbar through ctypes: ImportError without it
                _zbar = pyzbar
            except Exception:  # ImportError, or OSError from a broken library
                _zbar = False
        return _zbar


def qr_decoder_available() -> bool:
    """Whether QR codes can be decoded here (pyzbar and the ZBar library load). Cached."""
    return bool(_load())


def image_from_pixels(pixels: bytes, size: tuple[int, int], *, bottom_up: bool = False,
                      max_side: int | None = MAX_SIDE):
    """A greyscale Pillow image from raw frame bytes: one byte a pixel (greyscale, or the Y
    plane that starts an NV21 camera buffer), or three (RGB) or four (RGBA) bytes a pixel,
    rows packed without padding. `bottom_up`: the rows come last-first, as OpenGL textures
    give them. Scaled down to `max_side` when larger."""
    from PIL import Image

    width, height = (int(v) for v in size)
    if width <= 0 or height <= 0:
        raise ValueError(f"bad frame size {size!r}")
    area = width * height
    length = len(pixels)
    if length == area * 4:
        image = Image.frombuffer("RGBA", (width, height), bytes(pixels), "raw", "RGBA", 0, 1)
    elif length == area * 3:
        image = Image.frombuffer("RGB", (width, height), bytes(pixels), "raw", "RGB", 0, 1)
    elif length >= area:    # greyscale, or an NV21/YUV420 buffer whose Y plane comes first
        image = Image.frombuffer("L", (width, height), bytes(pixels[:area]), "raw", "L", 0, 1)
    else:
        raise ValueError(f"{length} bytes do not make a {width}×{height} frame")
    image = image.convert("L")
    if bottom_up:
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    if max_side and max(width, height) > max_side:
        image.thumbnail((max_side, max_side))
    return image


def _text_of(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    text = text.strip("\x00\r\n\t ")
    if not text or len(text) > MAX_TEXT:
        return None
    return text


def decode_qr(image, size: tuple[int, int] | None = None, *, bottom_up: bool = False,
              try_mirrored: bool = True) -> list[str]:
    """The texts of the QR codes in `image`, in the order ZBar finds them, each once; [] when
    there is none. `image` is a Pillow image, or raw frame bytes with their `size` (see
    image_from_pixels).

    A frame is tried as it is, then lightly smoothed (ZBar misreads the grain of a camera in a
    dim room, and a 3×3 box blur costs about a millisecond), then mirrored when `try_mirrored`
    (a front camera shows the card mirrored, which older ZBar releases, such as Android's
    recipe, do not read); the first pass that finds something gives the answer.

    Raises QrDecoderUnavailable when this installation cannot decode QR codes."""
    zbar = _load()
    if not zbar:
        raise QrDecoderUnavailable()
    from PIL import Image, ImageFilter, ImageOps

    if isinstance(image, Image.Image):
        grey = image.convert("L")
        if bottom_up:
            grey = grey.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        if max(grey.size) > MAX_SIDE:
            grey.thumbnail((MAX_SIDE, MAX_SIDE))
    else:
        if size is None:
            raise ValueError("raw pixels need their size")
        grey = image_from_pixels(image, size, bottom_up=bottom_up)

    def passes():
        yield grey
        smooth = grey.filter(ImageFilter.BoxBlur(1))
        yield smooth
        if try_mirrored:
            yield ImageOps.mirror(smooth)

    for frame in passes():
        found = []
        for symbol in zbar.decode(frame, symbols=[zbar.ZBarSymbol.QRCODE]):
            text = _text_of(symbol.data)
            if text is not None and text not in found:
                found.append(text)
        if found:
            return found
    return []
