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


# A city officer uploading a spreadsheet on the dashboard is not a developer either: the upload
# page and the sheet checks speak of the server, a spreadsheet, a consultation — never of the
# hub, a bundle, a parser, an ETag or a token. English counts too (the EN dashboard), except for
# "bundle", the name of the staff's own command (`python -m server bundle build`).
OFFICER_JARGON = ["hub", "bundle", "parser", "ETag", "token", "jeton", "openpyxl", "XML"]
OFFICER_FILES = {"python": ["server/sheets.py", "server/uploads.py", "server/ods.py"],
                 "jinja2": ["server/templates/upload.html"]}


def officer_msgids():
    ids = set()
    for method, paths in OFFICER_FILES.items():
        for path in paths:
            for _line, message, _comments, _context in extract_from_file(
                    method, str(ROOT / path), keywords=KEYWORDS):
                for msgid in (message if isinstance(message, tuple) else (message,)):
                    if msgid:
                        ids.add(msgid)
    return ids


@pytest.mark.parametrize("lang", ["fr", "it", "en"])
def test_the_upload_page_and_sheet_checks_use_the_officers_words(lang):
    messages = catalog(lang)
    ids = officer_msgids()
    assert len(ids) > 100                       # the page's and the checks' words were found
    words = [w for w in OFFICER_JARGON if not (lang == "en" and w == "bundle")]
    found = []
    for msgid in sorted(ids):
        message = messages.get(msgid)
        assert message is not None, f"{lang}: no entry for {msgid!r}"
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in texts:
            text = text or msgid                # an empty EN msgstr shows the msgid
            for word in words:
                if re.search(r"(?<!\w)" + re.escape(word), text, re.IGNORECASE):
                    found.append((word, text))
    assert not found, "\n".join(f"{w!r}: {t}" for w, t in found)


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_no_french_or_italian_message_says_hub(lang):
    """Staff, facilitators and residents alike read "serveur" / "server": the word "hub" (the
    code's name for it) appears in no French or Italian message, but as a placeholder."""
    found = []
    for message in catalog(lang):
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in texts:
            if text and re.search(r"\bhubs?\b", re.sub(r"\{[a-z_]+\}", "", text), re.I):
                found.append(text)
    assert found == []


# A resident's own phone in the room (issue 29) reads the same plain words as the kiosk: the
# ballot pages, the "counted" page and the refusals.
PHONE_FILES = {"python": ["server/routes/phone.py", "server/phone_ballot.py"],
               "jinja2": ["server/templates/phone.html", "server/templates/phone_counted.html",
                          "server/templates/phone_message.html",
                          "server/templates/_phone_style.html"]}


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_the_phone_pages_use_a_residents_words(lang):
    messages = catalog(lang)
    ids = set()
    for method, paths in PHONE_FILES.items():
        for path in paths:
            for _line, message, _comments, _context in extract_from_file(
                    method, str(ROOT / path), keywords=KEYWORDS):
                ids.update(m for m in (message if isinstance(message, tuple) else (message,))
                           if m)
    assert len(ids) > 15                        # the pages' words were found
    found = []
    for msgid in sorted(ids):
        message = messages.get(msgid)
        assert message is not None and message.string, f"{lang}: no entry for {msgid!r}"
        for word in JARGON[lang]:
            flags = 0 if word.startswith("=") else re.IGNORECASE
            if re.search(r"(?<!\w)" + re.escape(word.lstrip("=")), message.string, flags):
                found.append((word, message.string))
    assert not found, "\n".join(f"{w!r}: {t}" for w, t in found)
