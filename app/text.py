"""Free text from residents: length limits, control characters removed, otherwise kept as typed.
Escaping is the display's job, never the store's."""
from __future__ import annotations

import unicodedata

from .errors import N_, ValidationError

# Bidirectional controls (embeddings, overrides, isolates, marks): in a resident's text they can
# turn what staff read around (an idea whose title reads backwards in the export, a file name
# that hides its extension). Removed wherever text comes in.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                          "\u200e\u200f")


def clean_text(value: object, *, field: str, max_length: int, required: bool = False) -> str:
    """Return `value` with control characters (other than newlines), bidirectional controls
    (BIDI_CONTROLS) and lone surrogates removed.

    Raises ValidationError when it is not text, is empty but required, or is longer than
    `max_length` characters after cleaning.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(N_("This field expects text."), field)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    cleaned = "".join(
        ch for ch in value
        if ch == "\n" or (unicodedata.category(ch) not in ("Cc", "Cs")
                           and ch not in BIDI_CONTROLS)
    )
    if required and not cleaned.strip():
        raise ValidationError(N_("This field is required."), field)
    if len(cleaned) > max_length:
        raise ValidationError(
            N_("This text is too long: {length} characters, at most {max} allowed."),
            field, length=len(cleaned), max=max_length)
    return cleaned
