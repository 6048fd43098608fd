"""open: a text answer, up to `max_length` characters. The tally counts answers and the words
several answers share, for a word cloud. Not counted by hand."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from ..errors import N_
from ..text import clean_text
from .base import Kind, Result, Tally


@dataclass(frozen=True, kw_only=True)
class OpenResult(Result):
    total: int
    words: list         # [[word, n], …] most used first, each used by MIN_WORD_ANSWERS or more


_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)
WORD_MAX = 40            # longer runs of letters are not words anyone reads in a cloud

# A word is shown (word cloud, public results, exports) only once this many answers use it:
# a name or an address typed by one resident never leaves the count (invariant 5).
MIN_WORD_ANSWERS = 3
# The open-question word counts keep at most this many words (memory and time bounded however
# many answers arrive); when more come, the least used half is forgotten at once.
WORDS_KEPT = 2000


def word_key(word: str) -> str:
    """What an open answer's word is counted under: the same word in one language, whatever
    its case, its Unicode form or its number — transports and transport (French), trasporti
    and trasporto (Italian) — but never a word of the other language: transport and trasporti
    stay two words, and so do ville (town) and villa.

    Only endings that mark a plural in one language alone are folded: a final -s or -x
    (French and English; no Italian plural ends so), and Italian -i for -o (trasporti,
    mercati; French has almost no words in -o). The Italian -e of -a (piazze) is left alone:
    French words end in a mute -e (ville, porte) that would meet Italian words in -a."""
    return _fold(unicodedata.normalize("NFC", word).lower())


def _fold(word: str) -> str:
    """word_key of a word already in lower case and NFC."""
    if len(word) >= 5:
        if word[-1] in "sx" and word[-2] not in "sx":
            return word[:-1]
        if word[-1] == "i" and word[-2] not in "aeiou":
            return word[:-1] + "o"
    return word


class OpenTally(Tally):
    """Number of answers and the most frequent words (four letters or more, used by at least
    MIN_WORD_ANSWERS answers), for a word cloud. Variants of one word in one language count as
    one (`word_key`), shown in the form most answers used.

    The words are a bounded count: at most WORDS_KEPT words are kept. A word forgotten to make
    room starts again from nothing if it comes back, so a count never exceeds the number of
    answers that really use the word — the publication rule above still holds."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        self.words = Counter()
        self.forms: dict[str, Counter] = {}     # key -> how often each written form was used

    def _count(self, answer, weight):
        forms = {}
        for written in set(_WORD.findall(unicodedata.normalize("NFC", answer).lower())):
            if len(written) <= WORD_MAX:
                forms.setdefault(_fold(written), []).append(written)
        for key, written_forms in forms.items():
            if weight < 0 and key not in self.words:
                continue            # forgotten earlier: nothing to take away
            self.words[key] += weight
            used = self.forms.setdefault(key, Counter())
            for written in written_forms:
                used[written] += weight
                if used[written] <= 0:
                    del used[written]
            if self.words[key] <= 0:
                del self.words[key]
                self.forms.pop(key, None)
        if len(self.words) > WORDS_KEPT:
            self._forget_least_used()

    def most_used(self, limit: int) -> list[tuple[str, int]]:
        """The `limit` most used words, ties in alphabetical order: the same answers give the
        same words in the same order whatever order they arrived in (the projector's cloud
        does not reshuffle between two polls)."""
        return sorted(self.words.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def _forget_least_used(self):
        kept = self.most_used(WORDS_KEPT // 2)
        self.words = Counter(dict(kept))
        self.forms = {key: self.forms.get(key, Counter()) for key in self.words}

    def shown_form(self, key: str) -> str:
        """The written form most answers used (the shorter one, then the first in alphabetical
        order, on a tie)."""
        used = self.forms.get(key)
        if not used:
            return key
        return min(used.items(), key=lambda item: (-item[1], len(item[0]), item[0]))[0]

    def typed_result(self):
        shared = [[self.shown_form(w), n] for w, n in self.most_used(40)
                  if n >= MIN_WORD_ANSWERS]
        return OpenResult(**self._envelope(), total=self.ballots, words=shared)


# The longest answer a spreadsheet may ask for: as long as an idea's text (app.proposals.TEXT_MAX,
# which imports the kinds: a test keeps the two equal), the longest text the kiosk takes.
MAX_ANSWER_CHARS = 2000


class OpenKind(Kind):
    name = "open"
    order = 70
    tally = OpenTally
    result = OpenResult
    bundle_fields = frozenset({"max_length"})
    sheet_columns = ("maximum",)

    def parse(self, parser, q, field, projects, args):
        args["max_length"] = parser.int(q.get("max_length", 1000), f"{field}.max_length",
                                        minimum=1)

    def from_sheet(self, sheet, table, row, q, projects, options, path):
        maximum = sheet.integer(table, row, "maximum", minimum=1)
        if maximum is not None and maximum > MAX_ANSWER_CHARS:
            sheet.problem(table, row[0], "maximum", N_(
                "An answer is at most {max} characters, as long as an idea's text: "
                "{value} is too many."), max=MAX_ANSWER_CHARS, value=maximum)
            return
        sheet.set(q, "max_length", maximum)

    def validate(self, consultation, question, value):
        return clean_text(value, field=question.id, max_length=question.max_length,
                          required=True)


    web_form = "text"

    def form_fields(self, consultation, question, lang, gettext):
        return {"form": "text", "max": question.max_length}


KIND = OpenKind()
