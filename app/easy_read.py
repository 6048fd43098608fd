"""Easy-read texts (FALC, "facile à lire et à comprendre"; "lettura facile"): the rules of
the European easy-to-read standard that a program can check, in one place. The spreadsheet
build warns at the cell when an easy-read text breaks one (server/sheets.py); the author
decides. What no program can check (one idea per sentence, everyday words) stays the
author's and the proof-readers' work, as FALC asks."""
from __future__ import annotations

import re

from .errors import N_

MAX_WORDS_PER_SENTENCE = 15         # FALC: short sentences, about 10 to 15 words
MAX_SENTENCE_CHARS = 90             # one line or two on a tablet at a large text size
MAX_WORD_CHARS = 16                 # a long word is a hard word ("intercommunalité")

TOO_MANY_WORDS = N_("Easy-read: a sentence counts too many words ({count}, at most {max}): "
                    "cut it in two. “{sentence}”")
TOO_LONG = N_("Easy-read: a sentence of {count} characters (at most {max}): make it shorter. "
              "“{sentence}”")
LONG_WORD = N_("Easy-read: the word “{word}” is long ({count} letters, at most {max}): use a "
               "shorter, everyday word if there is one.")

_SENTENCE_END = re.compile(r"(?<=[.!?…;:])\s+|\n+")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text or "") if s.strip()]


def falc_breaks(text: str) -> list[tuple[str, dict]]:
    """(msgid, params) for each checkable easy-read rule `text` breaks, in reading order."""
    found = []
    for sentence in sentences(text):
        words = _WORD.findall(sentence)
        shown = sentence if len(sentence) <= 60 else sentence[:57] + "…"
        if len(words) > MAX_WORDS_PER_SENTENCE:
            found.append((TOO_MANY_WORDS, {"count": len(words), "max": MAX_WORDS_PER_SENTENCE,
                                           "sentence": shown}))
        elif len(sentence) > MAX_SENTENCE_CHARS:
            found.append((TOO_LONG, {"count": len(sentence), "max": MAX_SENTENCE_CHARS,
                                     "sentence": shown}))
        for word in words:
            # Hyphenated and apostrophed words count part by part (Vintimille-Menton).
            longest = max(re.split(r"['’-]", word), key=len)
            if len(longest) > MAX_WORD_CHARS:
                found.append((LONG_WORD, {"word": longest, "count": len(longest),
                                          "max": MAX_WORD_CHARS}))
    return found
