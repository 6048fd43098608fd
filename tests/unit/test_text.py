import pytest

from app.errors import ValidationError
from app.text import clean_text


@pytest.mark.parametrize("raw,clean", [
    ("Bonjour", "Bonjour"),
    ("ligne 1\r\nligne 2\rligne 3", "ligne 1\nligne 2\nligne 3"),
    ("a\x00b\x1bc\x7fd\u0085e", "abcde"),
    ("tab\there", "tabhere"),
    ("emoji 👩‍👩‍👧 ok", "emoji 👩‍👩‍👧 ok"),           # joiners (Cf) are kept
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # escaping is the display's job
    ("\ud800lone surrogate", "lone surrogate"),
    ("  espaces  ", "  espaces  "),
    # Invisible characters (issue 23 review): Arabic letter mark, zero-width space, BOM, soft
    # hyphen, word joiner, tag characters (hidden text), bidi overrides; ZWNJ/ZWJ kept.
    ("a\u061cb\u200bc\ufeffd\u00ade\u2060f", "abcdef"),
    ("ok\U000e0041\U000e0042\U000e007f", "ok"),
    ("\u202eevil\u202c", "evil"),
    ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
    ("line 1\u2028line 2\u2029line 3", "line 1\nline 2\nline 3"),
])
def test_clean_text(raw, clean):
    assert clean_text(raw, field="f", max_length=100) == clean


def test_limits_and_required():
    assert clean_text("é" * 10, field="f", max_length=10) == "é" * 10
    with pytest.raises(ValidationError) as info:
        clean_text("é" * 11, field="title", max_length=10)
    assert info.value.field == "title" and info.value.params == {"length": 11, "max": 10}
    with pytest.raises(ValidationError):
        clean_text(" \n\x00 ", field="f", max_length=10, required=True)
    with pytest.raises(ValidationError):
        clean_text(["list"], field="f", max_length=10)
    assert clean_text(None, field="f", max_length=10) == ""
