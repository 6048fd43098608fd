"""Every question kind validates its answers, with the field at fault on refusal."""
import json

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
    """`place` joins the demo with its map (a separate change, while screens learn it)."""
    from app.kinds import QUESTION_KINDS
    kinds = {q.kind for q in demo.questions}
    assert kinds - {"place"} == set(QUESTION_KINDS) - {"place"}
    assert ("place" in kinds) == (demo.map is not None)


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


# -- places on the map --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mapped():
    """The demo consultation with the demo map and a place question (q-place)."""
    from app.bundle import parse_bundle
    from app.paths import DEMO_BUNDLE_DIR
    data = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text(encoding="utf-8"))
    consultation = data["consultation"]
    consultation["map"] = json.loads((DEMO_BUNDLE_DIR / "map" / "map.json").read_text(
        encoding="utf-8"))
    if not any(q["kind"] == "place" for q in consultation["questions"]):
        consultation["questions"].append({"id": "q-place", "kind": "place",
                                          "prompt": {"fr": "Où ?", "it": "Dove?",
                                                     "en": "Where?"}})
    return parse_bundle(data)


def test_a_point_in_the_perimeter_records_its_area(mapped):
    answer = check(mapped, "q-place", {"lon": 7.497512345, "lat": 43.774498765})
    assert answer == {"lon": 7.49751, "lat": 43.7745, "area": "menton"}
    assert check(mapped, "q-place", answer) == answer                  # a normal form stays
    assert check(mapped, "q-place", {"lon": 7.6075, "lat": 43.7905}) == {
        "lon": 7.6075, "lat": 43.7905, "area": "ventimiglia"}
    # An area sent with a point is recomputed from the point.
    assert check(mapped, "q-place", {"lon": 7.6075, "lat": 43.7905, "area": "tende"})[
        "area"] == "ventimiglia"


def test_an_area_chosen_from_the_list(mapped):
    assert check(mapped, "q-place", {"area": "tende"}) == {"area": "tende"}
    assert check(mapped, "q-place", {"area": "ventimiglia"}) == {"area": "ventimiglia"}


@pytest.mark.parametrize("point", [
    {"lon": 7.2620, "lat": 43.7034},          # Nice
    {"lon": 7.55, "lat": 43.70},              # the sea off Menton
    {"lon": 7.90, "lat": 43.95},              # Imperia's hinterland, past the perimeter
    {"lon": 0, "lat": 0},
    {"lon": 180, "lat": -90},
])
def test_a_place_outside_the_perimeter_is_refused(mapped, point):
    error = refused(mapped, "q-place", point)
    assert error.message.startswith("This place is outside the area of the consultation.")


@pytest.mark.parametrize("value", [
    {"lon": float("nan"), "lat": 43.8}, {"lon": 7.5, "lat": float("nan")},
    {"lon": float("inf"), "lat": 43.8}, {"lon": 7.5, "lat": -float("inf")},
    {"lon": 10 ** 400, "lat": 43.8}, {"lon": 7.5, "lat": 1e308}, {"lon": -1e308, "lat": 43.8},
    {"lon": "7.5", "lat": "43.8"}, {"lon": True, "lat": 43.8}, {"lon": None, "lat": 43.8},
    {"lon": [7.5], "lat": 43.8}, {"lon": 7.5, "lat": 95}, {"lon": 181, "lat": 43.8},
])
def test_invalid_coordinates_are_refused(mapped, value):
    error = refused(mapped, "q-place", value)
    assert "longitude" in error.message


@pytest.mark.parametrize("value", [
    None, "menton", 7.5, [7.5, 43.8], {}, {"lon": 7.5}, {"lat": 43.8},
    {"lon": 7.5, "lat": 43.8, "note": "chez moi"}, {"lon": 7.5, "lat": 43.8, "area": 3},
    {"area": "menton", "note": "x"}, {"area": "menton", "lon": 7.5},
    {"x": 7.5, "y": 43.8},
])
def test_wrong_shapes_are_refused(mapped, value):
    refused(mapped, "q-place", value)


@pytest.mark.parametrize("area", ["nice", "", "MENTON", 3, None, ["menton"]])
def test_an_area_not_in_the_perimeter_is_refused(mapped, area):
    error = refused(mapped, "q-place", {"area": area})
    assert error.message == "Unknown place: choose one from the list."


def test_a_point_in_a_sliver_between_two_countries_data_counts_in_the_nearest(mapped):
    """The French and Italian boundaries do not quite meet: a tap between them, on the drawn
    border line, is within the map's snap_metres of a commune and counts there."""
    from app.geo import area_of
    strict = [(a.id, a.shape) for a in mapped.map.areas]
    assert area_of(strict, 7.511, 43.882) is None
    assert check(mapped, "q-place", {"lon": 7.511, "lat": 43.882})["area"] == "breil-sur-roya"
    assert check(mapped, "q-place", {"lon": 7.512, "lat": 43.882})["area"] == \
        "olivetta-san-michele"


def test_a_place_needs_the_consultations_map(mapped):
    from dataclasses import replace
    from app.answers import validate_place
    with pytest.raises(ValidationError) as info:
        validate_place(replace(mapped, map=None), {"area": "menton"}, "place")
    assert info.value.message == "This consultation has no map." and info.value.field == "place"


def test_an_idea_may_carry_a_place(mapped):
    from dataclasses import replace
    from app.proposals import validate_proposal
    idea = dict(title="Un banc", text="Un banc face à la mer")
    assert validate_proposal(mapped, **idea).place is None
    draft = validate_proposal(mapped, **idea, place={"lon": 7.4975, "lat": 43.7745})
    assert draft.place == {"lon": 7.4975, "lat": 43.7745, "area": "menton"}
    assert validate_proposal(mapped, **idea, place={"area": "pigna"}).place == {"area": "pigna"}
    for place in ({"lon": 7.2620, "lat": 43.7034}, {"area": "nice"}, "Menton", {}):
        with pytest.raises(ValidationError) as info:
            validate_proposal(mapped, **idea, place=place)
        assert info.value.field == "place"
    with pytest.raises(ValidationError):
        validate_proposal(replace(mapped, map=None), **idea, place={"area": "menton"})
