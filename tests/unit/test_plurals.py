"""A count shown to people agrees with its number: "0 réponse", "1 réponse", "2 réponses",
"1 risposta", "2 risposte". Every msgid that writes a number before a counted noun is a plural
entry (ngettext) with both forms translated, and the catalogs follow each language's rule
(French: 0 and 1 take the singular)."""
import re

import pytest

from tests.unit.test_i18n import catalog, extracted_messages

# Nouns that follow a count on the screens (English msgids).
COUNTED = ("answers", "ballots", "votes", "ideas", "projects", "records", "problems", "points",
           "participants", "contributions", "cards", "sign-ups", "people", "tablets", "words")
# Counts that are never 0 or 1, so the plural is always right: a ranking has two options at
# least (first place's points), a paper count's limit is in the thousands.
ALWAYS_SEVERAL = {"A first place earns {n} points, the next one less · {answers}",
                  "At most {max} votes can be counted for one answer."}
COUNT_BEFORE_NOUN = re.compile(r"\{\w+\}(?:\s+\w+)?\s+(?:" + "|".join(COUNTED) + r")\b")


def extracted():
    return extracted_messages()


def test_every_count_before_a_noun_is_a_plural_entry():
    singular_only = sorted({m for m in extracted()
                            if isinstance(m, str) and COUNT_BEFORE_NOUN.search(m)
                            and m not in ALWAYS_SEVERAL})
    assert not singular_only, "use ngettext for: " + "; ".join(singular_only)


def test_the_check_finds_a_count_written_without_ngettext():
    assert COUNT_BEFORE_NOUN.search("{n} answers · the words that several answers share")
    assert COUNT_BEFORE_NOUN.search("Last count: {n} ballots")
    assert not COUNT_BEFORE_NOUN.search("Question {number} of {total}")


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_plural_entries_have_both_forms(lang):
    plurals = [m for m in catalog(lang) if m.id and m.pluralizable]
    assert plurals
    for message in plurals:
        assert len(message.string) == 2 and all(s.strip() for s in message.string), message.id
        for form in message.string:
            assert set(re.findall(r"\{\w*\}", form)) <= set(
                re.findall(r"\{\w*\}", message.id[1])), (message.id, form)


def test_counts_agree_with_their_number():
    from app.i18n import ngettext_for
    fr, it = ngettext_for("fr"), ngettext_for("it")
    assert [fr("{n} answer", "{n} answers", n) for n in (0, 1, 2)] == [
        "{n} réponse", "{n} réponse", "{n} réponses"]
    assert [it("{n} answer", "{n} answers", n) for n in (0, 1, 2)] == [
        "{n} risposte", "{n} risposta", "{n} risposte"]
    assert fr("{n} vote", "{n} votes", 1) == "{n} vote"
    assert it("{n} vote", "{n} votes", 1) == "{n} voto"


def test_fill_translations_writes_plural_forms(tmp_path):
    import shutil
    from tools.fill_translations import LOCALES, fill
    for lang in ("fr", "it", "en"):
        (tmp_path / lang / "LC_MESSAGES").mkdir(parents=True)
        shutil.copy(LOCALES / lang / "LC_MESSAGES" / "piazzetta.po",
                    tmp_path / lang / "LC_MESSAGES")
    problems = fill({
        "{n} vote": {"plural": "{n} votes", "fr": ["{n} voix", "{n} voix"],
                     "it": ["{n} voto", "{n} voti"]},
        "{n} point": {"fr": "{n} point"},                      # not a list: refused
        "{n} approved idea": {"it": ["{n} idea approvata"]},   # one form short: refused
        "{n} idea": {"plural": "{n} thoughts", "fr": ["a", "b"]},  # not the catalog's plural
    }, locales=tmp_path)
    assert len(problems) == 3, problems
    from babel.messages.pofile import read_po
    with open(tmp_path / "fr" / "LC_MESSAGES" / "piazzetta.po", "rb") as f:
        fr = read_po(f, locale="fr")
    assert fr.get("{n} vote").string == ("{n} voix", "{n} voix")
    assert fr.get("{n} point").string == ("{n} point", "{n} points")
