"""The identifier rules, in one place (CONVENTIONS.md, habit 16).

Two kinds, both 1 to 64 ASCII characters, the whole string (no trailing newline):

- a **content ID** names what a bundle declares — consultation, question, option, theme, site,
  meeting, neighbourhood — and the device alias a sign-up link names: letters, digits, `- _ .`;
- a **record ID** is made on a device for its own records and itself — event, ballot, sign-up,
  device: letters, digits, `- _` (no dot).

`CONTENT_ID` and `RECORD_ID` are the compiled patterns, for code that keeps `.match` (their
`\\Z` makes `.match` a full match); `RECORD_ID_FORM` is the record rule for an HTML form's
`pattern` attribute (server/pages.py).
"""
from __future__ import annotations

import re

MAX_ID = 64
_RECORD_CHARS = r"A-Za-z0-9_\-"
_CONTENT_CHARS = r"A-Za-z0-9_.\-"
CONTENT_ID = re.compile(rf"[{_CONTENT_CHARS}]{{1,{MAX_ID}}}\Z")
RECORD_ID = re.compile(rf"[{_RECORD_CHARS}]{{1,{MAX_ID}}}\Z")
RECORD_ID_FORM = rf"[{_RECORD_CHARS}]{{1,{MAX_ID}}}"


def is_content_id(value: object) -> bool:
    """Whether `value` is a content ID (letters, digits, - _ ., 1 to 64)."""
    return isinstance(value, str) and CONTENT_ID.match(value) is not None


def is_record_id(value: object, *, min_length: int = 1) -> bool:
    """Whether `value` is a record ID (letters, digits, - _, `min_length` to 64)."""
    return isinstance(value, str) and len(value) >= min_length \
        and RECORD_ID.match(value) is not None


def content_id_from(text: object) -> str:
    """A content ID made from a name or a code (a map's area from its commune's name): accents
    dropped, other characters as hyphens, lower case, at most MAX_ID characters."""
    import unicodedata
    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    slug = re.sub(rf"[^{_CONTENT_CHARS}]+", "-", plain).strip("-.").lower()
    return slug[:MAX_ID].strip("-.") or "area"
