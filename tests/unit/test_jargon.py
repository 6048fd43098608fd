"""Words residents never see. The messages the kiosk's resident screens and the projector
show (the msgids of screens/*.kv|py outside screens/facilitator/, of screens/widgets/ and of
screens/projector/) are read in French and Italian, and none may use a word of the trade:
what the facilitator's pages call the hub, a sync or a token, the resident never reads.
A word written "=Word" is matched with its case: "Invio" is the Enter key, "invio" a sending."""
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}

JARGON = {
    "fr": ["hub", "sync", "synchronis", "plateforme", "token", "jeton", "QR", "Borda",
           "médiane", "suffrages exprimés", "coworking", "capture d'écran", "screenshot",
           "serveur", "enrôl", "=Entrée"],
    "it": ["hub", "sync", "sincronizz", "piattaforma", "token", "QR", "Borda", "mediana",
           "voti validi", "coworking", "screenshot", "server", "=Invio"],
}


def resident_files():
    screens = ROOT / "screens"
    files = [p for p in screens.glob("*.kv")] + [p for p in screens.glob("*.py")]
    for folder in ("widgets", "projector"):
        files += list((screens / folder).glob("*.kv")) + list((screens / folder).glob("*.py"))
    return sorted(files)


def resident_msgids():
    ids = set()
    for path in resident_files():
        for _line, message, _comments, _context in extract_from_file(
                "python", str(path), keywords=KEYWORDS):
            for msgid in (message if isinstance(message, tuple) else (message,)):
                if msgid:
                    ids.add(msgid)
    return ids


def catalog(lang):
    with open(ROOT / "locales" / lang / "LC_MESSAGES" / "piazzetta.po", "rb") as f:
        return read_po(f, locale=lang)


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_resident_messages_use_plain_words(lang):
    messages = catalog(lang)
    ids = resident_msgids()
    assert len(ids) > 100                       # the extraction found the screens' words
    found = []
    for msgid in sorted(ids):
        message = messages.get(msgid)
        if message is None:
            continue
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in texts:
            for word in JARGON[lang]:
                flags = 0 if word.startswith("=") else re.IGNORECASE
                if re.search(r"(?<!\w)" + re.escape(word.lstrip("=")), text or "", flags):
                    found.append((word, text))
    assert not found, "\n".join(f"{w!r}: {t}" for w, t in found)
