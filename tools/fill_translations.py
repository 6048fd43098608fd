"""Write translations into the catalogs: `python tools/fill_translations.py FILE.json`.

FILE.json maps each msgid to its translations, `{"Vote": {"fr": "Voter", "it": "Votare"}}`.
Run `make messages` first so that the msgids are in the catalogs; a msgid the catalogs lack
is reported. Catalogs stay the source of truth; this only saves typing them by hand.
"""
import fcntl
import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

LOCALES = Path(__file__).resolve().parent.parent / "locales"


def fill(translations: dict, langs=("fr", "it", "en")) -> list[str]:
    missing = []
    with open(LOCALES / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for lang in langs:
            path = LOCALES / lang / "LC_MESSAGES" / "piazzetta.po"
            with open(path, "rb") as f:
                catalog = read_po(f, locale=lang)
            for msgid, by_lang in translations.items():
                if lang not in by_lang:
                    continue
                message = catalog.get(msgid)
                if message is None:
                    if lang == "fr":
                        missing.append(msgid)
                    continue
                message.string = by_lang[lang]
                message.flags.discard("fuzzy")
            with open(path, "wb") as f:
                write_po(f, catalog, width=100, omit_header=False, no_location=True,
                         sort_output=True)
    return missing


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    for msgid in fill(data):
        print(f"not in the catalogs (run make messages): {msgid!r}", file=sys.stderr)
