"""Every interface string has a non-empty French and Italian translation (invariant 6)."""
import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"


METHOD_MAP = [("app/**.py", "python"), ("screens/**.py", "python"), ("sync/**.py", "python"),
              ("server/**.py", "python"), ("screens/**.kv", "python"), ("main.py", "python"),
              ("server/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


@functools.cache
def _extracted() -> tuple[tuple[str, object], ...]:
    """(file, message) for every message in the code, kv and template files, extracted as
    `make messages` does: once per test process (the files do not change during a run;
    test_plurals.py and test_vocabulary.py read the same extraction)."""
    return tuple((filename.replace(os.sep, "/"), message)
                 for filename, _line, message, _comments, _context
                 in extract_from_dir(str(ROOT), METHOD_MAP, keywords=KEYWORDS))


def extracted_messages(*, tablet_only: bool = False) -> list:
    """The messages (a str, or a (singular, plural) tuple), in the order found; `tablet_only`:
    those of the tablet's code (app/, screens/, sync/, main.py), not the hub's (server/)."""
    return [message for filename, message in _extracted()
            if not (tablet_only and filename.startswith("server/"))]


def source_msgids():
    """The msgids in the code and kv files right now, extracted as `make messages` does."""
    return {message if isinstance(message, str) else message[0]
            for message in extracted_messages()}


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


def catalog_files():
    return sorted(LOCALES.glob("*/LC_MESSAGES/piazzetta.po"))


@pytest.mark.parametrize("path", catalog_files(), ids=lambda p: p.parts[-3])
def test_gnu_msgfmt_accepts_the_catalog(path, tmp_path):
    """Translators compile with Poedit, which runs GNU msgfmt: it must accept every catalog
    (no duplicate definitions, formats and headers it can read)."""
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "GNU gettext's msgfmt is missing: `make setup` installs Debian's gettext"
    result = subprocess.run([msgfmt, "--check", "-o", str(tmp_path / "out.mo"), str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.mo").stat().st_size > 0
    assert "error" not in result.stderr, result.stderr


@pytest.mark.parametrize("path", catalog_files(), ids=lambda p: p.parts[-3])
def test_catalogs_keep_no_obsolete_entries(path):
    """`make messages` drops obsolete entries (`#~`): they repeat live msgids after a string
    comes back, which msgfmt refuses as duplicates."""
    with open(path, "rb") as f:
        assert len(read_po(f).obsolete) == 0
    assert not re.search(r"^#~ ", path.read_text(encoding="utf-8"), re.M)


def test_msgfmt_check_catches_a_duplicate(tmp_path):
    """The check above is not vacuous: a catalog with a repeated msgid fails it."""
    msgfmt = shutil.which("msgfmt")
    assert msgfmt
    broken = tmp_path / "broken.po"
    broken.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                      'msgid "Vote"\nmsgstr "Voter"\n\nmsgid "Vote"\nmsgstr "Votez"\n',
                      encoding="utf-8")
    result = subprocess.run([msgfmt, "--check", "-o", "/dev/null", str(broken)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "duplicate" in result.stderr
