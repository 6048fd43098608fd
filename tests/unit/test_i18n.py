"""Every interface string has a non-empty French and Italian translation (invariant 6)."""
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"


def source_msgids():
    """The msgids in the code and kv files right now, extracted as `make messages` does."""
    method_map = [("app/**.py", "python"), ("screens/**.py", "python"),
                  ("sync/**.py", "python"), ("server/**.py", "python"),
                  ("screens/**.kv", "python"), ("main.py", "python"),
                  ("server/templates/**.html", "jinja2")]
    msgids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords={"_": None, "N_": None, "ngettext": (1, 2)}):
        msgids.add(message if isinstance(message, str) else message[0])
    return msgids


def catalog(lang):
    with open(LOCALES / lang / "LC_MESSAGES" / "piazzetta.po", "rb") as f:
        return read_po(f, locale=lang)


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_every_interface_string_is_translated(lang):
    entries = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog(lang) if m.id}
    missing = []
    for msgid in sorted(source_msgids()):
        message = entries.get(msgid)
        strings = [] if message is None else (
            list(message.string) if isinstance(message.string, tuple) else [message.string])
        if not strings or not all(s.strip() for s in strings) or (message and message.fuzzy):
            missing.append(msgid)
    assert not missing, f"{lang}: {len(missing)} untranslated: {missing[:10]}"


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_placeholders_survive_translation(lang):
    for message in catalog(lang):
        if not message.id or not isinstance(message.id, str) or not message.string:
            continue
        assert set(re.findall(r"\{\w*\}", message.id)) == set(
            re.findall(r"\{\w*\}", message.string)), message.id


def test_compiled_catalogs_switch_language():
    from app.i18n import gettext_for
    assert gettext_for("fr")("Themes of this consultation") == "Les thèmes de cette consultation"
    assert gettext_for("it")("Themes of this consultation") == "I temi di questa consultazione"
    assert gettext_for("en")("Themes of this consultation") == "Themes of this consultation"


def test_every_language_has_a_catalog():
    for lang in ("fr", "it", "en"):
        assert (LOCALES / lang / "LC_MESSAGES" / "piazzetta.po").is_file()
