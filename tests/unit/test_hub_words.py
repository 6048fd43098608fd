"""Words on the hub's pages (issue 29/30 leftovers): one msgid where the phone page and the
kiosk say the same thing, and words a city officer or a resident reads rather than internal
names."""
import re

from tests.unit.test_i18n import catalog, source_msgids


def test_the_phone_page_and_the_kiosk_share_one_question_n_of_n():
    """The phone page had its own "Question {n} of {total}" beside the kiosk's
    "Question {number} of {total}": two entries to keep in step in every language."""
    forms = sorted(m for m in source_msgids() if re.fullmatch(r"Question \{\w+\} of \{\w+\}", m))
    assert forms == ["Question {number} of {total}"]
    for lang, word in (("fr", "Question {number} sur {total}"),
                       ("it", "Domanda {number} di {total}")):
        assert catalog(lang).get(forms[0]).string == word
