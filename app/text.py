"""Free text from residents: length limits, control characters removed, otherwise kept as typed.
Escaping is the display's job, never the store's."""
from __future__ import annotations

import json

import unicodedata

from .errors import N_, ValidationError

# Bidirectional controls (embeddings, overrides, isolates, marks): in a resident's text they can
# turn what staff read around (an idea whose title reads backwards in the export, a file name
# that hides its extension). Removed wherever text comes in.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                          "\u200e\u200f\u061c")
# Format characters (category Cf) are invisible: bidi controls, zero-width spaces, the BOM, soft
# hyphens, tag characters (U+E0000–U+E007F, which can spell hidden text). All are removed but
# the zero-width non-joiner and joiner, which scripts (Persian, Indic) and emoji sequences need.
KEPT_FORMAT = frozenset("\u200c\u200d")
# Line and paragraph separators read as newlines.
NEWLINES = str.maketrans({"\u2028": "\n", "\u2029": "\n"})


def _kept(ch: str) -> bool:
    if ch == "\n" or ch in KEPT_FORMAT:
        return True
    if ch in BIDI_CONTROLS or "\U000e0000" <= ch <= "\U000e007f":
        return False
    return unicodedata.category(ch) not in ("Cc", "Cs", "Cf")


def clean_text(value: object, *, field: str, max_length: int, required: bool = False) -> str:
    """Return `value` with control characters (other than newlines), invisible format
    characters (category Cf, BIDI_CONTROLS and tag characters among them; not ZWNJ/ZWJ) and
    lone surrogates removed; CR, CRLF, U+2028 and U+2029 become newlines.

    Raises ValidationError when it is not text, is empty but required, or is longer than
    `max_length` characters after cleaning.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(N_("This field expects text."), field)
    value = value.replace("\r\n", "\n").replace("\r", "\n").translate(NEWLINES)
    cleaned = "".join(ch for ch in value if _kept(ch))
    if required and not cleaned.strip():
        raise ValidationError(N_("This field is required."), field)
    if len(cleaned) > max_length:
        raise ValidationError(
            N_("This text is too long: {length} characters, at most {max} allowed."),
            field, length=len(cleaned), max=max_length)
    return cleaned


def has_lone_surrogate(value: object) -> bool:
    """Whether a decoded JSON value holds, in any string (keys included), a lone surrogate
    (`"\\ud800"` is valid JSON, not valid Unicode: it cannot be written as UTF-8)."""
    try:
        # The common case in one pass of the C encoder (a hub's ingest asks for each event).
        json.dumps(value, ensure_ascii=False, check_circular=False).encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True
    except (TypeError, ValueError, RecursionError):
        pass              # not JSON-shaped: walked below
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False
