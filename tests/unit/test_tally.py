"""Tallies of every kind, and incremental add/remove giving the same as a fresh count."""
import json
import random

import pytest

from app.answers import validate_answer
from app.tally import new_tally, tally_answers, word_key


def result(demo, question_id, answers):
    return tally_answers(demo, demo.question(question_id), answers)


def test_colour_counts_per_project(demo):
    r = result(demo, "q-colour", [{"p-bus": "green", "p-bike": "red"}, {"p-bus": "green"},
                                  {"p-bus": "orange"}])
    assert r["ballots"] == 3
    assert r["projects"]["p-bus"]["counts"] == {"green": 2, "orange": 1, "red": 0}
    assert r["projects"]["p-bus"]["shares"]["green"] == pytest.approx(2 / 3, abs=1e-4)
    assert r["projects"]["p-bike"]["total"] == 1
    assert r["projects"]["p-market"]["total"] == 0


def test_yes_no_shares(demo):
    r = result(demo, "q-ticket", ["yes", "yes", "no", "abstain"])
    assert r["counts"] == {"yes": 2, "no": 1, "abstain": 1}
    assert r["shares"]["yes"] == 0.5
    assert r["yes_share_of_expressed"] == pytest.approx(0.6667, abs=1e-4)


def test_empty_tallies_do_not_divide_by_zero(demo):
    for question in demo.questions:
        r = tally_answers(demo, question, [])
        assert r["ballots"] == 0
    assert result(demo, "q-cooperation", [])["median"] is None
    assert result(demo, "q-cooperation", [])["mean"] is None


@pytest.mark.parametrize("answers,mean,median", [
    ([3], 3.0, 3.0),
    ([1, 5], 3.0, 3.0),
    ([1, 2, 2, 5], 2.5, 2.0),
    ([4, 4, 5, 5], 4.5, 4.5),
    ([1, 1, 1, 5, 5], 2.6, 1.0),
])
def test_scale_mean_and_median(demo, answers, mean, median):
    r = result(demo, "q-cooperation", answers)
    assert r["mean"] == pytest.approx(mean)
    assert r["median"] == median
    assert sum(r["distribution"].values()) == len(answers)


def test_choice_shares_are_of_ballots(demo):
    r = result(demo, "q-themes", [["health", "economy"], ["health"], ["services"]])
    assert r["counts"]["health"] == 2
    assert r["shares"]["health"] == pytest.approx(0.6667, abs=1e-4)
    assert r["order"][0] == "health"


def test_ranking_borda(demo):
    # 5 options: first = 5 points, second = 4, third = 3.
    r = result(demo, "q-services", [["s-doctor", "s-transport", "s-internet"],
                                    ["s-transport", "s-doctor"],
                                    ["s-internet"]])
    assert r["points"]["s-doctor"] == 5 + 4
    assert r["points"]["s-transport"] == 4 + 5
    assert r["points"]["s-internet"] == 3 + 5
    assert r["points"]["s-childcare"] == 0
    # Tie on points broken by first places, then by the question's order.
    assert r["order"][:3] == ["s-doctor", "s-transport", "s-internet"]
    assert r["max_points"] == 15


def test_budget_allocated_funding_and_funded(demo):
    r = result(demo, "q-budget", [{"p-bus": 240000, "p-market": 60000},
                                  {"p-bus": 200000, "p-telehealth": 150000},
                                  {"p-market": 60000}])
    projects = r["projects"]
    assert projects["p-bus"]["allocated"] == 440000
    assert projects["p-bus"]["funding_ballots"] == 2
    assert projects["p-market"]["funding_ballots"] == 2
    # Greedy by amount: bus (240k), telehealth (150k), market (60k) = 450k ≤ 500k.
    assert [p for p in r["order"] if projects[p]["funded"]] == ["p-bus", "p-telehealth",
                                                                 "p-market"]
    assert not projects["p-bike"]["funded"]


def test_open_word_counts(demo):
    r = result(demo, "q-missing", ["Des bus le soir", "Bus, bus et médecins", "médecins!",
                                   "Des médecins", "Appelez-moi : Giuseppe Verdi, via Roma"])
    words = dict(r["words"])
    assert r["total"] == 5
    assert words == {"médecins": 3}
    # Words of one or two answers (here a name and an address) are never published.
    assert "giuseppe" not in words and "verdi" not in words and "bus" not in words


def test_open_words_in_a_tie_come_in_one_order_whatever_order_the_answers_came_in(demo):
    """The projector draws the words in the result's order: two polls of the same answers
    (the hub's tally, rebuilt, or the tablet's) must not reshuffle a tie. Most used first,
    then alphabetical; and the cut at 40 words keeps the same ones."""
    answers = [f"{w} école" for w in ("zèbre", "arbre", "maison", "bateau") for _ in range(3)]
    answers += [" ".join(f"mot{chr(97 + i)}{chr(97 + j)}k" for j in range(26)) for i in range(2)
                for _ in range(3)]
    orders = set()
    for seed in range(6):
        shuffled = answers[:]
        random.Random(seed).shuffle(shuffled)
        orders.add(tuple(map(tuple, result(demo, "q-missing", shuffled)["words"])))
    assert len(orders) == 1
    words = list(orders.pop())
    assert words[0] == ("école", 12)
    assert words[1:5] == [("arbre", 3), ("bateau", 3), ("maison", 3), ("motaak", 3)]
    assert len(words) == 40 and words[-1] == ("motbjk", 3)     # 56 tied: the cut is stable too
    assert ("zèbre", 3) not in words


def test_open_words_merge_variants_of_one_language_never_two_languages(demo):
    answers = (["Plus de transports", "Les transports le soir", "transport scolaire",
                "Più trasporti", "trasporto pubblico", "I TRASPORTI", "Trasporti"]
               + ["une ville calme"] * 3 + ["una villa storica"] * 3
               + ["Les Transports et le transport"])     # one answer, both forms: counted once
    words = dict(result(demo, "q-missing", answers)["words"])
    assert words["transports"] == 4          # French: transports, transport; the form most used
    assert words["trasporti"] == 4           # Italian: trasporti, trasporto
    assert "transport" not in words and "trasporto" not in words
    assert words["ville"] == 3 and words["villa"] == 3     # not one word in two languages
    assert word_key("Trasporti") == word_key("trasporto") != word_key("transport")
    assert word_key("bureaux") == word_key("bureau")
    assert word_key("e\u0301cole") == word_key("\u00e9coles")    # decomposed é, plural
    assert word_key("piazze") != word_key("piazza") and word_key("ville") != word_key("villa")


def test_paper_counts_enter_with_a_weight(demo):
    tally = new_tally(demo, demo.question("q-ticket"))
    tally.add("yes", weight=30)
    tally.add("no")
    assert tally.result()["counts"]["yes"] == 30
    assert tally.result()["ballots"] == 31


def random_answer(demo, question, rng):
    kind = question.kind
    if kind == "colour":
        return {p: rng.choice(["green", "orange", "red"])
                for p in rng.sample(list(question.projects), rng.randint(1, 6))}
    if kind == "yes_no":
        return rng.choice(["yes", "no", "abstain"])
    if kind == "scale":
        return rng.randint(1, 5)
    if kind == "choice":
        return rng.sample(list(question.option_ids), rng.randint(1, question.max_choices))
    if kind == "ranking":
        return rng.sample(list(question.option_ids), rng.randint(1, question.ranking_length))
    if kind == "budget":
        project = rng.choice(list(question.projects))
        return {project: question.budget_step * rng.randint(1, 6)}
    if kind == "place":
        return random_place(demo, rng)
    return rng.choice(["Plus de trains", "Des médecins au village", "Internet rapide partout"])


def test_incremental_remove_equals_fresh_count(demo):
    rng = random.Random(7)
    for question in demo.questions:
        answers = [validate_answer(demo, question, random_answer(demo, question, rng))
                   for _ in range(60)]
        tally = new_tally(demo, question)
        for answer in answers:
            tally.add(answer)
        for answer in answers[40:]:
            tally.remove(answer)
        assert tally.result() == tally_answers(demo, question, answers[:40]), question.kind


def test_open_word_counts_stay_bounded_and_never_overcount(demo):
    """10,000 answers of words nobody repeats once grew the hub by 110 MB and slowed the first
    results read; the count now keeps at most WORDS_KEPT words and never credits a word with
    more answers than really use it."""
    from app.tally import MIN_WORD_ANSWERS, WORDS_KEPT
    tally = new_tally(demo, demo.question("q-missing"))
    letters = "abcdefghijklmnopqrstuvwxyz"

    def unique_word(n):
        word = ""
        for _ in range(4):
            n, rest = divmod(n, 26)
            word += letters[rest]
        return "zz" + word

    answers = []
    for n in range(10_000):
        answer = f"{unique_word(n)} médecins" if n % 10 == 0 else unique_word(n)
        answers.append(answer)
        tally.add(answer)
    assert len(tally.words) <= WORDS_KEPT
    words = dict(tally.result()["words"])
    assert words["médecins"] == 1_000           # a word many use keeps its exact count
    assert all(n <= 1 for w, n in tally.words.items() if w != word_key("médecins"))
    assert set(words) == {"médecins"}           # nothing typed once is ever published
    # Taking back answers whose words were forgotten changes nothing and never goes negative.
    for answer in answers[:500]:
        tally.remove(answer)
    assert tally.ballots == 9_500
    assert dict(tally.result()["words"])["médecins"] == 950
    assert all(n > 0 for n in tally.words.values())
    assert MIN_WORD_ANSWERS == 3


def test_open_word_counts_skip_runs_of_letters_too_long_to_be_words(demo):
    r = result(demo, "q-missing", ["a" * 2000, "a" * 2000, "a" * 2000])
    assert r["words"] == [] and r["total"] == 3


# -- places ---------------------------------------------------------------------------------------

def random_place(consultation, rng):
    """A point somewhere in the perimeter (three times in four) or an area from the list."""
    perimeter = consultation.map
    if rng.random() < 0.25:
        return {"area": rng.choice(perimeter.area_ids)}
    west, south, east, north = perimeter.bbox
    while True:
        lon, lat = round(rng.uniform(west, east), 5), round(rng.uniform(south, north), 5)
        if perimeter.area_of(lon, lat):
            return {"lon": lon, "lat": lat}


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


def place_result(consultation, values, weights=None):
    question = consultation.question("q-place")
    tally = new_tally(consultation, question)
    for i, value in enumerate(values):
        tally.add(validate_answer(consultation, question, value),
                  weight=weights[i] if weights else 1)
    return tally.result()


def test_place_counts_per_area_from_both_forms(mapped):
    r = place_result(mapped, [{"lon": 7.497512, "lat": 43.774498},    # Menton
                              {"lon": 7.497561, "lat": 43.774521},    # Menton, a few metres on
                              {"area": "menton"},
                              {"lon": 7.6071, "lat": 43.7906},        # Ventimiglia
                              {"area": "tende"}])
    assert r["kind"] == "place" and r["ballots"] == 5
    assert list(r["counts"]) == list(mapped.map.area_ids)             # every area, in order
    assert r["counts"]["menton"] == 3 and r["counts"]["ventimiglia"] == 1
    assert r["counts"]["tende"] == 1 and r["counts"]["pigna"] == 0
    assert r["shares"]["menton"] == 0.6
    assert r["order"][:3] == ["menton", "tende", "ventimiglia"]     # ties: perimeter order
    assert r["forms"] == {"point": 3, "area": 2}
    assert r["export_decimals"] == 3 and r["points_left_out"] == 0


def test_public_points_are_rounded_to_the_export_precision(mapped):
    r = place_result(mapped, [{"lon": 7.497512, "lat": 43.774498},
                              {"lon": 7.497561, "lat": 43.774521},
                              {"lon": 7.6071, "lat": 43.7906}])
    assert r["points"] == [
        {"lon": 7.498, "lat": 43.775, "area": "menton", "count": 2},     # the same ~100 m cell
        {"lon": 7.607, "lat": 43.791, "area": "ventimiglia", "count": 1}]
    for point in r["points"]:
        for value in (point["lon"], point["lat"]):
            assert round(value, 3) == value


@pytest.mark.slow        # a load test: 10,000 answers
def test_place_points_kept_are_bounded(mapped, monkeypatch):
    """10,000 answers at distinct places keep at most PLACE_POINTS_KEPT points; the others
    are counted as left out, and the counts per area stay exact."""
    from app.tally import PLACE_POINTS_KEPT
    rng = random.Random(3)
    question = mapped.question("q-place")
    tally = new_tally(mapped, question)
    answers = [validate_answer(mapped, question, random_place(mapped, rng))
               for _ in range(10_000)]
    for answer in answers:
        tally.add(answer)
    r = tally.result()
    assert len(r["points"]) == PLACE_POINTS_KEPT == 1000
    kept = sum(p["count"] for p in r["points"])
    assert kept + r["points_left_out"] == r["forms"]["point"]
    assert sum(r["counts"].values()) == 10_000
    for answer in answers:
        tally.remove(answer)
    r = tally.result()
    assert r["ballots"] == 0 and r["points"] == [] and r["points_left_out"] == 0
    assert set(r["counts"].values()) == {0}


def test_paper_counts_per_area_enter_with_a_weight(mapped):
    r = place_result(mapped, [{"area": "sospel"}, {"lon": 7.6071, "lat": 43.7906}],
                     weights=[40, 2])
    assert r["counts"]["sospel"] == 40 and r["ballots"] == 42
    assert r["points"] == [{"lon": 7.607, "lat": 43.791, "area": "ventimiglia", "count": 2}]


def test_nested_areas_count_in_their_parents(mapped):
    from dataclasses import replace
    from app.geo import Shape
    from app.model import MapArea
    perimeter = mapped.map
    garavan = MapArea("garavan", {"fr": "Garavan", "it": "Garavano"},
                      Shape.from_geojson({"type": "Polygon", "coordinates": [[
                          [7.50, 43.78], [7.53, 43.78], [7.53, 43.80], [7.50, 43.80],
                          [7.50, 43.78]]]}), parent="menton")
    nested = replace(mapped, map=replace(perimeter, areas=perimeter.areas + (garavan,)))
    r = place_result(nested, [{"lon": 7.51, "lat": 43.785}, {"area": "garavan"},
                              {"area": "menton"}])
    assert r["counts"]["garavan"] == 2 and r["counts"]["menton"] == 3
    assert r["points"][0]["area"] == "garavan"


def test_place_incremental_remove_equals_fresh_count(mapped):
    rng = random.Random(11)
    question = mapped.question("q-place")
    answers = [validate_answer(mapped, question, random_place(mapped, rng)) for _ in range(300)]
    tally = new_tally(mapped, question)
    for answer in answers:
        tally.add(answer)
    for answer in answers[200:]:
        tally.remove(answer)
    assert tally.result() == tally_answers(mapped, question, answers[:200])
