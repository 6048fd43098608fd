"""Characters the kiosk cannot draw (issue 27). Its labels use Kivy's Roboto, and a Kivy label
draws its whole text in one font (no per-character fallback), so an emoji or a pictograph in a
consultation's text shows as an empty box on every tablet. Rather than ship a second font and
split every label's text into runs, the spreadsheet build warns: the author replaces it with
words. With Kivy's Roboto at hand, a character counts as drawable when the font has a glyph
for it; without (a hub without the tablet's packages), symbols and emoji (Unicode categories So
and Sk, and the emoji variation selector) count as not drawable."""
from __future__ import annotations

import importlib.util
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

KIOSK_FONT = "Roboto-Regular.ttf"
# Bundle fields that are not text shown to residents.
_NOT_TEXT = frozenset({"id", "image", "tiles", "geometry", "starts_at", "opens_on",
                       "closes_on", "kind", "status", "site", "theme", "parent", "question",
                       "scale_kind", "default_mode", "languages", "proposed_by", "colour"})


@lru_cache(maxsize=1)
def _font():
    spec = importlib.util.find_spec("kivy")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "fonts" / KIOSK_FONT
    if not path.is_file():
        return None
    from PIL import ImageFont
    font = ImageFont.truetype(str(path), 24)
    return font, _signature(font, "\ue000")             # a private-use point: no glyph


def _signature(font, ch: str):
    mask = font.getmask(ch)
    return mask.size, bytes(mask)


@lru_cache(maxsize=4096)
def drawable(ch: str) -> bool:
    """Whether the kiosk's font draws `ch` (spaces, controls and joiners count as drawn)."""
    category = unicodedata.category(ch)
    if ch.isspace() or category in ("Cc", "Cf") or ch < "\u0250":
        return True
    found = _font()
    if found is None:
        return category not in ("So", "Sk") and ch != "\ufe0f"
    font, missing = found
    return _signature(font, ch) != missing


# A font with emoji and symbols (monochrome), for the runs of a text that Roboto lacks (issue
# 31): the one shipped with the app (the Android build copies it into assets/fonts, see
# buildspec/buildozer.spec), else the system's (Debian's fonts-symbola, installed on Linux
# kiosks by tools/install-system-packages.sh).
EMOJI_FONTS = ("assets/fonts/Symbola.ttf",
               "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",
               "/usr/share/fonts/truetype/noto/NotoEmoji-Regular.ttf")


@lru_cache(maxsize=1)
def emoji_font() -> str | None:
    """The path of the fallback font for emoji and symbols on this machine, or None."""
    from .paths import resource_root
    for name in EMOJI_FONTS:
        path = Path(name) if name.startswith("/") else resource_root() / name
        if path.is_file():
            return str(path)
    return None


@lru_cache(maxsize=1)
def _fallback_font():
    path = emoji_font()
    if path is None:
        return None
    from PIL import ImageFont
    font = ImageFont.truetype(path, 24)
    return font, _signature(font, "\ue000")


@lru_cache(maxsize=4096)
def fallback_draws(ch: str) -> bool:
    """Whether the fallback font (emoji_font) has a glyph for `ch`."""
    found = _fallback_font()
    if found is None:
        return False
    font, missing = found
    return _signature(font, ch) != missing


def may_need_fallback(text: str) -> bool:
    """A cheap first look, with no font opened: whether `text` holds a symbol or an emoji at
    all (Unicode categories So, Sk and Sm, the emoji variation selector). Dashes, quotes and
    currency signs, which Roboto draws, do not count."""
    return not text.isascii() and any(
        ch > "\u024f" and (ch == "\ufe0f" or unicodedata.category(ch) in ("So", "Sk", "Sm"))
        for ch in text)


def fallback_runs(text: str) -> list[tuple[str, bool]]:
    """`text` cut into runs: (run, True) for the runs the kiosk's font cannot draw and the
    fallback font can (an emoji and its joiners and modifiers), (run, False) for the rest.
    One run (text, False) when nothing needs the fallback."""
    if text.isascii():
        return [(text, False)]
    runs: list[tuple[str, bool]] = []
    for ch in text:
        # Joiners and variation selectors stay with the emoji they join.
        if ch in "\u200d\ufe0f\ufe0e" and runs and runs[-1][1]:
            emoji = True
        else:
            emoji = not drawable(ch) and fallback_draws(ch)
        if runs and runs[-1][1] == emoji:
            runs[-1] = (runs[-1][0] + ch, emoji)
        else:
            runs.append((ch, emoji))
    return runs or [(text, False)]


def undrawable(text: str) -> str:
    """The characters of `text` the kiosk cannot draw, each once, in order."""
    seen: list[str] = []
    for ch in text:
        if ch not in seen and not drawable(ch):
            seen.append(ch)
    return "".join(seen)


def undrawable_texts(bundle: dict) -> list[tuple[str, str]]:
    """(field, characters) for each text of a bundle (bundle.json's data) holding characters
    the kiosk cannot draw, in the bundle's order."""
    return [(field, chars) for field, text in _texts(bundle, "")
            if (chars := undrawable(text))]


def _texts(value: Any, field: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield field, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _NOT_TEXT:
                yield from _texts(item, f"{field}.{key}" if field else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _texts(item, f"{field}[{i}]")
