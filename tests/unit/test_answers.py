"""Every question kind validates its answers, with the field at fault on refusal."""
import pytest

from app.answers import validate_answer
from app.errors import ValidationError


def check(demo, question_id, value):
    return validate_answer(demo, demo.question(question_id), value)


def refused(demo, question_id, value):
    with pytest.raises(ValidationError) as info:
        check(demo, question_id, value)
    assert info.value.field and info.value.field.startswith(question_id)
    return info.value


def test_demo_has_every_question_kind(demo):
    from app.model import QUESTION_KINDS
    assert {q.kind for q in demo.questions} == set(QUESTION_KINDS)


def test_colour_normalises_to_question_order(demo):
    assert check(demo, "q-colour", {"p-services": "red", "p-bus": "green"}) == {
        "p-bus": "green", "p-services": "red"}


@pytest.mark.parametrize("value", [{}, None, "green", {"p-bus": "blue"}, {"nope": "green"},
                                   {"p-bus": ["green"]}])
def test_colour_refuses(demo, value):
    refused(demo, "q-colour", value)


def test_yes_no_with_abstain(demo):
    for value in ("yes", "no", "abstain"):
        assert check(demo, "q-ticket", value) == value
    for value in ("YES", "", None, 1, True):
        refused(demo, "q-ticket", value)


def test_scale_bounds(demo):
    assert check(demo, "q-cooperation", 1) == 1
    assert check(demo, "q-cooperation", 5) == 5
    for value in (0, 6, 2.5, "3", True, None):
        refused(demo, "q-cooperation", value)


def test_choice_multiple_with_maximum(demo):
    assert check(demo, "q-themes", ["health", "economy"]) == ["economy", "health"]
    assert check(demo, "q-themes", "health") == ["health"]
    error = refused(demo, "q-themes", ["health", "economy", "services"])
    assert error.params == {"max": 2}
    refused(demo, "q-themes", [])
    refused(demo, "q-themes", ["health", "health"])
    refused(demo, "q-themes", ["unknown"])
    refused(demo, "q-themes", [1])


def test_choice_single(demo):
    from dataclasses import replace
    question = replace(demo.question("q-themes"), multiple=False)
    assert validate_answer(demo, question, ["health"]) == ["health"]
    with pytest.raises(ValidationError):
        validate_answer(demo, question, ["health", "economy"])


def test_ranking(demo):
    assert check(demo, "q-services", ["s-internet", "s-doctor"]) == ["s-internet", "s-doctor"]
    refused(demo, "q-services", ["s-doctor", "s-doctor"])          # duplicate rank
    refused(demo, "q-services", ["s-doctor", "s-internet", "s-transport", "s-postoffice"])
    refused(demo, "q-services", [])
    refused(demo, "q-services", ["s-nothing"])


def test_budget(demo):
    assert check(demo, "q-budget", {"p-market": 60000, "p-bus": 200000, "p-bike": 0}) == {
        "p-bus": 200000, "p-market": 60000}
    error = refused(demo, "q-budget", {"p-bus": 240000, "p-telehealth": 150000,
                                       "p-coworking": 120000})
    assert error.params == {"spent": 510000, "total": 500000}
    refused(demo, "q-budget", {"p-market": 70000})     # more than the project costs
    refused(demo, "q-budget", {"p-market": 5000})      # not a step of 10,000
    refused(demo, "q-budget", {"p-market": -10000})
    refused(demo, "q-budget", {"p-market": 0})         # nothing allocated
    refused(demo, "q-budget", {"ghost": 10000})
    refused(demo, "q-budget", [10000])


def test_open_text_cleaned_and_limited(demo):
    assert check(demo, "q-missing", "Un bus\r\nle soir \x07🚌") == "Un bus\nle soir 🚌"
    assert check(demo, "q-missing", "'; DROP TABLE answers; --") == "'; DROP TABLE answers; --"
    refused(demo, "q-missing", "x" * 501)
    refused(demo, "q-missing", "   \n ")
    refused(demo, "q-missing", 42)


def test_error_messages_translate(demo):
    from app.i18n import gettext_for
    error = refused(demo, "q-themes", ["health", "economy", "services"])
    assert error.describe(gettext_for("fr")) == "Choisissez au plus 2 options."
    assert error.describe(gettext_for("it")) == "Scelga al massimo 2 opzioni."
    assert error.describe() == "Choose at most 2 options."
