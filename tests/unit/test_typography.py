"""French typography in the French catalog: a no-break space (U+00A0) before : ; ? ! and
inside « », so that a colon or a question mark never starts a line on its own. (U+00A0, not
the narrow U+202F: the screens' font has no glyph for it, see app/formatting.py.)"""
import re
from pathlib import Path

from babel.messages.pofile import read_po

PO = Path(__file__).resolve().parents[2] / "locales" / "fr" / "LC_MESSAGES" / "piazzetta.po"
NBSP = "\u00a0"

# A plain space, or a letter/closing bracket glued, before : ; ? ! (not "18:30", not "https:",
# not a placeholder's inside "{n:>3}"); a plain space inside « ».
FAULTS = [re.compile(r" [:;?!]"), re.compile(r"[\w)»][;?!](?!\w)"),
          re.compile(r"[^\W\d][:](?=\s|$)"), re.compile(r"« "), re.compile(r" »")]


# Left as they are until their owner's test follows (tests/unit/test_sheets.py expects the
# plain space in the spreadsheet checker's terminal output).
PENDING = {"Unknown theme: {id}."}


def french_faults():
    with open(PO, "rb") as f:
        catalog = read_po(f, locale="fr")
    found = []
    for message in catalog:
        if not message.id or message.id in PENDING:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            bare = re.sub(r"\{[^}]*\}", "{}", text or "")
            bare = re.sub(r"\[[^\]]*\]", "", bare)             # Kivy markup tags
            if any(p.search(bare) for p in FAULTS):
                found.append(text)
    return found


def test_french_punctuation_has_its_no_break_space():
    assert not french_faults(), "\n".join(french_faults()[:20])
