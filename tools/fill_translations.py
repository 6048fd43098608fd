"""Write translations into the catalogs: `python tools/fill_translations.py FILE.json`.

FILE.json maps each msgid to its translations, `{"Vote": {"fr": "Voter", "it": "Votare"}}`.
A count shown to people is a plural entry (`ngettext("{n} answer", "{n} answers", n)` in the
code): key it by the singular msgid, give the English plural under "plural" and each language's
forms as a list, in the order of the catalog's Plural-Forms (French and Italian have two: one,
other):

    {"{n} answer": {"plural": "{n} answers",
                    "fr": ["{n} réponse", "{n} réponses"],
                    "it": ["{n} risposta", "{n} risposte"]}}

Run `make messages` first so that the msgids are in the catalogs; a msgid the catalogs lack,
or an entry whose shape does not match the catalog's (a plain string for a plural message, a
list of the wrong length, a "plural" that is not the catalog's), is reported and not written.
Catalogs stay the source of truth; this only saves typing them by hand.
"""
import fcntl
import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

LOCALES = Path(__file__).resolve().parent.parent / "locales"


def _fits(message, catalog, entry, lang) -> str | None:
    """Why `entry[lang]` cannot go into `message`, or None when it can."""
    value = entry[lang]
    if not message.pluralizable:
        if not isinstance(value, str):
            return "a single string is expected (the message has no plural)"
        return None
    if entry.get("plural") not in (None, message.id[1]):
        return f"plural {entry.get('plural')!r} is not the catalog's {message.id[1]!r}"
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return "a list of plural forms is expected"
    if len(value) != catalog.num_plurals:
        return f"{catalog.num_plurals} plural forms are expected, {len(value)} given"
    return None


def fill(translations: dict, langs=("fr", "it", "en"), locales: Path = LOCALES) -> list[str]:
    """Write `translations` into each language's catalog; returns the problems (msgids the
    catalogs lack, entries of the wrong shape), each as a line to show."""
    problems = []
    with open(locales / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for lang in langs:
            path = locales / lang / "LC_MESSAGES" / "piazzetta.po"
            with open(path, "rb") as f:
                catalog = read_po(f, locale=lang)
            for msgid, by_lang in translations.items():
                if lang not in by_lang:
                    continue
                message = catalog.get(msgid)
                if message is None:
                    if lang == "fr":
                        problems.append(f"not in the catalogs (run make messages): {msgid!r}")
                    continue
                why = _fits(message, catalog, by_lang, lang)
                if why:
                    problems.append(f"{lang}: {msgid!r}: {why}")
                    continue
                value = by_lang[lang]
                message.string = tuple(value) if message.pluralizable else value
                message.flags.discard("fuzzy")
            with open(path, "wb") as f:
                write_po(f, catalog, width=100, omit_header=False, no_location=True,
                         sort_output=True)
    return problems


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    for problem in fill(data):
        print(problem, file=sys.stderr)
