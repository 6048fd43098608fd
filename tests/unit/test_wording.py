"""Wording a walk through the pages and screens found wrong (issue 25's leftovers): Italian
"fino al" before a date (fino alle is for an hour), the French no-break space before the colon
of the facilitator's budget summary."""
from __future__ import annotations

import re

from app.i18n import gettext_for
from app.kinds import typed_result
from app.tally import tally_answers
from server.pages import render

MADE = {"code": "ABCD-EFGH", "site_id": "menton-mediatheque",
        "expires_at": "2026-12-03T18:30:00+00:00"}


def relay_code_page(lang: str) -> str:
    page = render("relay_code.html", lang, made=MADE, url="https://hub.example",
                  site_name="Médiathèque")
    return page.body.decode()


def test_the_room_code_is_valid_until_a_date_in_every_language():
    italian, french = relay_code_page("it"), relay_code_page("fr")
    assert re.search(r"Valido fino al 03/12/2026 · 18:30 UTC", italian), italian
    assert "fino alle" not in italian
    assert re.search(r"Valable jusqu&#39;au 03/12/2026 · 18:30 UTC|Valable jusqu'au 03/12/2026",
                     french), french
    assert "Valid until" in relay_code_page("en")


def test_the_budget_summary_has_the_french_no_break_space_before_its_colon(demo):
    from screens.kinds.budget import KIND
    question = next(q for q in demo.questions if q.kind == "budget")
    result = typed_result(question, tally_answers(
        demo, question, [{"p-bus": 200000, "p-market": 60000}]), demo)
    lines = {lang: KIND.summary(demo, question, result, lang, gettext_for(lang)).splitlines()
             for lang in ("fr", "it", "en")}
    assert len(lines["fr"]) >= 2
    for line in lines["fr"]:
        assert "\u00a0: " in line and not re.search(r"(?<!\u00a0):", line), line
    assert lines["fr"][0].startswith("Bus transfrontalier")
    for line in lines["it"] + lines["en"]:
        assert re.search(r"\w: ", line), line
