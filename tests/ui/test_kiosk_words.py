"""Issue 27's kiosk fixes on a real window: the welcome screen lists the meetings not yet over,
soonest first; a scale without label rows shows the tablet's own words for its kind, in the
resident's language. Screenshots build/screenshots/kiosk/<lang>/04-scale-tablet-words.png."""
from dataclasses import replace
from datetime import datetime

import pytest

from tests.ui.conftest import step
from tests.ui.test_resident import start


def test_the_welcome_screen_lists_the_meetings_not_yet_over(kiosk):
    welcome = kiosk.root.welcome
    titles = [m.id for m in welcome.consultation.meetings]
    assert len(titles) == 2
    welcome.clock = lambda: datetime(2026, 12, 1, 9, 0)          # before both
    assert len(welcome.meetings) == 2
    welcome.clock = lambda: datetime(2026, 12, 6, 9, 0)          # the 3rd is over
    assert [m["title"] for m in welcome.meetings] == [
        "Réunion publique : santé et services"]
    assert "10/12/2026" in welcome.meetings[0]["when"]
    welcome.clock = lambda: datetime(2026, 12, 11, 9, 0)         # both over
    assert welcome.meetings == []
    step(3)
    assert welcome.ids.start.disabled is False


@pytest.mark.parametrize("lang, kind, first, last", [
    ("fr", "agreement", "Pas du tout d'accord", "Tout à fait d'accord"),
    ("it", "agreement", "Per niente d'accordo", "Del tutto d'accordo"),
    ("it", "importance", "Per niente importante", "Molto importante")])
def test_a_scale_without_labels_shows_the_tablets_words(kiosk_factory, demo, lang, kind,
                                                        first, last):
    questions = tuple(replace(q, scale_labels=(), scale_kind=kind) if q.kind == "scale" else q
                      for q in demo.questions)
    k = kiosk_factory(lang=lang, consultation=replace(demo, questions=questions))
    start(k)
    k.session.index = [q.kind for q in questions].index("scale")
    k.root.question.show()
    step(4)
    captions = {c.value: c.caption for c in k.body().ids.grid.children}
    assert (captions[1], captions[5]) == (first, last)
    assert all(captions.values())
    if kind == "agreement":
        k.shot("04-scale-tablet-words", lang)
