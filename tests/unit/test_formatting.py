"""One way to write numbers (CONVENTIONS 13): a whole number, a decimal, a percentage and an
amount read the same on the kiosk, the facilitator screen and the projector, in French and
Italian, because the three write them through app/formatting.py. No window is opened."""
from types import SimpleNamespace

import pytest

from app import formatting
from app.formatting import decimal, money, number, percent

NBSP = "\u00a0"
EXPECTED = {
    "fr": {"number": f"12{NBSP}345", "decimal": "3,5", "percent": f"45{NBSP}%",
           "money": f"1{NBSP}500{NBSP}€", "budget": f"500{NBSP}000{NBSP}€"},
    "it": {"number": "12.345", "decimal": "3,5", "percent": "45%",
           "money": f"1.500{NBSP}€", "budget": f"500.000{NBSP}€"},
    "en": {"number": "12,345", "decimal": "3.5", "percent": "45%",
           "money": "€1,500", "budget": "€500,000"},
}


@pytest.mark.parametrize("lang", ["fr", "it", "en"])
def test_each_language_writes_numbers_its_own_way(lang):
    expected = EXPECTED[lang]
    assert number(12345, lang) == expected["number"]
    assert decimal(3.5, lang) == expected["decimal"]
    assert percent(0.45, lang) == expected["percent"]
    assert money(1500, lang) == expected["money"]
    assert money(500_000, lang, "EUR") == expected["budget"]


def test_french_groups_with_the_no_break_space_the_screens_can_draw():
    # CLDR says U+202F; Kivy's Roboto has no glyph for it, so every figure uses U+00A0.
    assert formatting.GROUP_SEPARATOR_FR == NBSP
    written = [number(1234567, "fr"), decimal(1234.5, "fr"), money(240000, "fr"),
               percent(0.5, "fr"), money(-500, "fr", "CHF")]
    assert not any("\u202f" in text for text in written)
    assert written[:3] == [f"1{NBSP}234{NBSP}567", f"1{NBSP}234,5", f"240{NBSP}000{NBSP}€"]


def test_rounding_halves_up_and_odd_values_give_nothing():
    assert percent(0.625, "fr") == f"63{NBSP}%" and percent(0.455, "it") == "46%"
    assert decimal(2.45, "it") == "2,5" and decimal(4, "fr", 0) == "4"
    assert number(1234.5, "it") == "1.235" and number(-2, "fr") == "-2"
    assert money(-1500, "fr") == f"-1{NBSP}500{NBSP}€" and money(-1500, "en") == "-€1,500"
    for odd in (None, "", "abc", float("nan"), float("inf"), {}):
        assert number(odd, "fr") == decimal(odd, "fr") == percent(odd, "fr") == \
            money(odd, "fr") == ""


def test_kiosk_facilitator_and_projector_write_through_the_same_functions():
    import screens.facilitator.counts as counts
    import screens.facilitator.figures as figures
    import screens.facilitator.sync as sync_page
    import screens.kinds.budget as budget_kind
    import screens.kinds.colour as colour_kind
    import screens.kinds.scale as scale_kind
    import screens.projector.app as projector_app
    import screens.projector.base as base
    import screens.projector.budget as budget
    import screens.projector.scale as scale
    import screens.projector.style as style
    import screens.vote_budget as vote_budget
    # The facilitator's figures of each kind are written by the kind (screens/kinds/).
    uses = {vote_budget: ["money"], figures: ["number"], scale_kind: ["number", "decimal"],
            budget_kind: ["money"], colour_kind: ["number"],
            counts: ["number"], sync_page: ["number"], base: ["number", "percent"],
            scale: ["number", "decimal"], budget: ["money"], style: ["number"],
            projector_app: ["number"]}
    for module, names in uses.items():
        for name in names:
            assert getattr(module, name) is getattr(formatting, name), (module.__name__, name)
    # No second way left behind.
    import app.kiosk
    assert not hasattr(app.kiosk, "format_amount")
    assert not {"decimal", "percent", "money"} & set(vars(style))


def tallied(demo, question_id, **figures):
    """A question's result with no answer (as JSON), with `figures` in place of its own."""
    from dataclasses import replace

    from app.kinds import kind_of
    question = demo.question(question_id)
    return replace(kind_of(question).empty_result(demo, question), **figures).to_json()


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_the_same_figures_read_the_same_on_every_screen(demo, lang):
    from app.i18n import gettext_for
    from screens.facilitator.figures import summarize
    from screens.i18n import tr
    from screens.projector.base import PjResultView
    from screens.projector.style import say_n
    from screens.vote_budget import BudgetBody
    expected = EXPECTED[lang]
    _ = gettext_for(lang)

    # The kiosk: the budget question's amounts.
    previous, tr.lang = tr.lang, lang
    try:
        kiosk_money = BudgetBody.money(SimpleNamespace(question=demo.question("q-budget")), 1500)
    finally:
        tr.lang = previous
    # The facilitator: the tallies on its figures page.
    facilitator_scale = summarize(demo, demo.question("q-cooperation"),
                                  tallied(demo, "q-cooperation", mean=3.5, total=12345), lang, _)
    facilitator_yes_no = summarize(demo, demo.question("q-ticket"), tallied(
        demo, "q-ticket", counts={"yes": 12345, "no": 0, "abstain": 0}), lang, _)
    nothing = tallied(demo, "q-budget")
    allocated = dict(nothing, order=["p-bus"], projects={
        "p-bus": dict(nothing["projects"]["p-bus"], allocated=1500)})
    facilitator_budget = summarize(demo, demo.question("q-budget"), allocated, lang, _)
    # The projector: its bars' percentages and its counted phrases.
    projector_percent = PjResultView.percent(SimpleNamespace(lang=lang), 0.45)
    projector_votes = say_n([lang], "{n} vote", "{n} votes", 12345)

    assert kiosk_money == expected["money"]
    assert expected["money"] in facilitator_budget
    assert expected["decimal"] in facilitator_scale and expected["number"] in facilitator_scale
    assert expected["number"] in facilitator_yes_no
    assert projector_percent == expected["percent"]
    assert projector_votes.startswith(expected["number"] + " ")


def test_whole_percents_always_total_100():
    from app.formatting import whole_percents
    assert whole_percents([1, 1, 1]) == [34, 33, 33]       # rounding each gives 99
    assert whole_percents([1, 1, 1, 1, 1, 1]) == [17, 17, 17, 17, 16, 16]  # 102
    assert whole_percents([0, 0, 0]) == [0, 0, 0]
    assert whole_percents([7]) == [100]
    for counts in ([3, 3, 1], [5, 9, 13], [1, 2, 3, 4, 5, 6, 7], [333, 333, 334]):
        shares = whole_percents(counts)
        assert sum(shares) == 100
        assert all(abs(s - 100 * c / sum(counts)) < 1 for s, c in zip(shares, counts))


def test_one_date_format_everywhere():
    from app.formatting import day, day_and_time
    assert day("2026-12-03", "fr") == day("2026-12-03T18:30", "it") == "03/12/2026"
    assert day_and_time("2026-12-03T18:30", "fr") == "03/12/2026 · 18:30"
    assert day_and_time("2026-12-03", "fr") == "03/12/2026"
    assert day("", "fr") == "" and day("soon", "fr") == ""


def test_a_utc_moment_is_written_in_the_devices_time_zone(monkeypatch):
    """The sync page's "last successful sync": the worker writes UTC, a facilitator in Paris
    reads Paris time, in the screens' one date format."""
    import time
    from app.formatting import local_day_and_time
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    try:
        assert local_day_and_time("2026-12-06T19:30:05+00:00", "fr") == "06/12/2026 · 20:30"
        assert local_day_and_time("2026-07-01T22:15:00+00:00", "it") == "02/07/2026 · 00:15"
        assert local_day_and_time("2026-12-06T19:30:05+00:00", "en") == "12/06/2026 · 20:30"
        assert local_day_and_time("not a date", "fr") == ""
        assert local_day_and_time(None, "fr") == ""
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
