"""A question kind is declared once per side: app/kinds/<kind>.py (bundle fields, answer
validation, tally and its declared result, paper counts, sheet columns) and
screens/kinds/<kind>.py (kiosk body, projector view, facilitator figures and count fields).
These checks fail when a kind misses a part on either side, when the two sides disagree, or
when a second list of kinds appears."""
import dataclasses
import re
from pathlib import Path

import pytest

from app.kinds import COUNTABLE_KINDS, KINDS, QUESTION_KINDS, MalformedResult, typed_result
from app.kinds.base import Kind, Result, Tally

ROOT = Path(__file__).resolve().parents[2]
ENVELOPE = ("question", "kind", "ballots")


def demo_question(demo, kind):
    question = next((q for q in demo.questions if q.kind == kind), None)
    assert question is not None, f"the demo has no {kind} question to check the kind with"
    return question


def own_fields(result_type):
    return [f.name for f in dataclasses.fields(result_type)
            if f.name not in ENVELOPE + ("channels",)]


def test_the_kinds_are_the_modules_of_app_kinds():
    modules = {p.stem for p in (ROOT / "app" / "kinds").glob("*.py")} - {"__init__", "base"}
    assert set(KINDS) == modules
    assert QUESTION_KINDS == tuple(KINDS)
    assert QUESTION_KINDS[:7] == ("colour", "yes_no", "scale", "choice", "ranking", "budget",
                                  "open")     # the order sheets and summaries list them in


@pytest.mark.parametrize("name", QUESTION_KINDS)
def test_every_domain_kind_declares_every_part(name):
    kind = KINDS[name]
    assert isinstance(kind, Kind) and kind.name == name
    assert issubclass(kind.tally, Tally) and kind.tally is not Tally
    assert "typed_result" in vars(kind.tally) and "_count" in vars(kind.tally)
    assert issubclass(kind.result, Result) and kind.result is not Result
    assert own_fields(kind.result), f"{name}: its result declares no field of its own"
    assert "validate" in vars(type(kind))
    assert set(kind.sheet_columns) <= {"projects", "multiple", "maximum", "scale_kind",
                                       "total", "step", "currency"}
    if kind.countable:
        assert {"count_cells", "count_answers"} <= set(vars(type(kind)))


@pytest.mark.parametrize("name", QUESTION_KINDS)
def test_a_result_is_its_declared_type_and_its_json_round_trips(demo, name):
    question = demo_question(demo, name)
    kind = KINDS[name]
    tally = kind.tally(demo, question)
    typed = tally.typed_result()
    assert type(typed) is kind.result
    data = tally.result()
    assert list(data) == list(ENVELOPE) + own_fields(kind.result)
    assert kind.result.from_json(data) == typed
    assert typed_result(question, None, demo) == typed      # no results yet: no answer


@pytest.mark.parametrize("name", QUESTION_KINDS)
def test_a_renamed_field_fails_loudly_not_as_an_empty_chart(demo, name):
    question = demo_question(demo, name)
    data = KINDS[name].tally(demo, question).result()
    for field in own_fields(KINDS[name].result) + ["ballots"]:
        renamed = {("renamed" if k == field else k): v for k, v in data.items()}
        with pytest.raises(MalformedResult, match=field):
            typed_result(question, renamed)


@pytest.mark.parametrize("name", QUESTION_KINDS)
def test_a_field_of_another_form_fails_loudly_too(demo, name):
    """null, or an object where a number is declared: the views would crash on it (before
    typed results they read it as empty)."""
    question = demo_question(demo, name)
    data = KINDS[name].tally(demo, question).result()
    for field in own_fields(KINDS[name].result) + ["ballots"]:
        if "None" in str(next(f.type for f in dataclasses.fields(KINDS[name].result) if f.name == field)):
            continue
        for odd in (None, {"x": 1} if not isinstance(data[field], dict) else [1]):
            with pytest.raises(MalformedResult, match=field):
                typed_result(question, {**data, field: odd})
    assert typed_result(question, data) == KINDS[name].result.from_json(data)


def test_nested_figures_are_declared_too(demo):
    """A project's counts (colour, budget) and a point on the map are typed as well."""
    from app.kinds.budget import BudgetProject
    from app.kinds.colour import ColourProject
    from app.tally import tally_answers
    colour = demo_question(demo, "colour")
    data = tally_answers(demo, colour, [{colour.projects[0]: "green"}])
    typed = typed_result(colour, data)
    assert isinstance(typed.projects[colour.projects[0]], ColourProject)
    assert typed.projects[colour.projects[0]].counts["green"] == 1
    data["projects"][colour.projects[0]] = {"count": {}, "shares": {}, "total": 1}
    with pytest.raises(MalformedResult, match="counts"):
        typed_result(colour, data)
    budget = demo_question(demo, "budget")
    typed = typed_result(budget, None, demo)
    assert all(isinstance(p, BudgetProject) for p in typed.projects.values())


def test_the_bundle_and_the_sheets_take_their_kinds_from_the_registry():
    import app.bundle
    import app.model
    import server.sheets as sheets
    assert app.bundle.QUESTION_KINDS is QUESTION_KINDS
    assert not hasattr(app.model, "QUESTION_KINDS"), "a second list of kinds"
    kind_column = next(c for c in sheets.SHEETS["questions"] if c.name == "kind")
    assert tuple(kind_column.choices) == QUESTION_KINDS
    for column, kinds in sheets.KIND_COLUMNS.items():
        assert kinds == tuple(k for k in QUESTION_KINDS if column in KINDS[k].sheet_columns)
    assert set(sheets._QUESTION_FIELDS) == {None, *QUESTION_KINDS}


def test_the_bundle_format_documents_every_kind_and_its_fields():
    doc = (ROOT / "docs" / "bundle-format.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \|(.*)$", doc, re.M))
    for name, kind in KINDS.items():
        assert name in rows, f"docs/bundle-format.md has no row for the {name} kind"
        for field in kind.bundle_fields:
            assert f"`{field}`" in rows[name], f"{name}: {field} is not documented"


def test_the_counts_take_their_countable_kinds_from_the_registry():
    import app.counts
    assert app.counts.COUNTABLE_KINDS is COUNTABLE_KINDS
    assert COUNTABLE_KINDS == tuple(k for k in QUESTION_KINDS if KINDS[k].countable)
    assert {"colour", "yes_no", "scale", "choice"} <= set(COUNTABLE_KINDS)


def test_no_second_dispatch_on_a_question_kind():
    """`kind == "…"` chains and kind dicts with entries bolted on are what the registries
    replace: none in app/, server/ or screens/ outside the kinds' own modules."""
    names = "|".join(QUESTION_KINDS)
    chain = re.compile(rf"""kind\s*(==|!=|in|not in)\s*\(?\s*["']({names})["']""")
    bolted = re.compile(r"^\s*[A-Z_]+\[[\"'](" + names + r")[\"']\]\s*=", re.M)
    found = []
    for folder in ("app", "server", "screens", "sync"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.parent.name == "kinds":
                continue
            text = path.read_text(encoding="utf-8")
            found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in chain.finditer(text)]
            found += [f"{path.relative_to(ROOT)}: {m.group(0).strip()}"
                      for m in bolted.finditer(text)]
    assert found == KNOWN_DISPATCHES, found


# Left on purpose: the hub's exports of places (server/exports.py) are about places on the
# map (questions' and ideas'), not a dispatch over every kind; Decidim's budgets module takes
# paper ballots of budget questions only (server/connectors/files.py, its importer's file).
KNOWN_DISPATCHES = ['server/exports.py: kind == "place"', 'server/exports.py: kind != "place"',
                    'server/connectors/files.py: kind != "budget"']


# -- the screens' side ------------------------------------------------------------------

@pytest.fixture(scope="module")
def screen_kinds():
    from screens.kinds import SCREEN_KINDS
    return SCREEN_KINDS


def test_the_screens_declare_the_same_kinds_in_the_same_order(screen_kinds):
    modules = {p.stem for p in (ROOT / "screens" / "kinds").glob("*.py")} - {"__init__", "base"}
    assert set(screen_kinds) == modules
    assert tuple(screen_kinds) == QUESTION_KINDS


@pytest.mark.parametrize("name", QUESTION_KINDS)
def test_every_screen_kind_declares_every_part(demo, screen_kinds, name):
    from screens.kinds.base import ScreenKind
    from screens.projector.base import PjResultView
    from screens.question_body import QuestionBody
    kind = screen_kinds[name]
    assert isinstance(kind, ScreenKind) and kind.name == name
    assert issubclass(kind.body, QuestionBody)
    assert issubclass(kind.projector_view, PjResultView)
    assert "summary" in vars(type(kind))
    question = demo_question(demo, name)
    summary = kind.summary(demo, question, typed_result(question, None, demo), "fr",
                           lambda s: s)
    assert isinstance(summary, str)
    if name in COUNTABLE_KINDS:
        assert "count_fields" in vars(type(kind))


@pytest.mark.parametrize("name", COUNTABLE_KINDS)
def test_the_count_fields_are_the_cells_the_domain_checks(demo, screen_kinds, name):
    """Every number the counts page asks is a cell of the kind's count, and every cell of the
    count has a number to type."""
    question = demo_question(demo, name)
    groups = screen_kinds[name].count_fields(demo, question, "fr", lambda s: s)
    keys = [key for _title, cells in groups for key, _label in cells]
    counts = {}
    for key in keys:
        cells = counts
        for step in key[:-1]:
            cells = cells.setdefault(step, {})
        cells[key[-1]] = 1
    normal, _low, _high, _ballots = KINDS[name].count_cells(question, counts)

    def leaves(value, path=()):
        if isinstance(value, dict):
            return [leaf for k, v in value.items() for leaf in leaves(v, path + (k,))]
        return [path]
    assert sorted(leaves(normal)) == sorted(keys)


def test_the_projector_and_the_kiosk_read_the_screens_registry(screen_kinds):
    from screens.projector.app import VIEW_CLASSES
    from screens.vote_kinds import BODIES
    assert {k: VIEW_CLASSES[k] for k in QUESTION_KINDS} == {
        k: v.projector_view for k, v in screen_kinds.items()}
    assert BODIES == {k: v.body for k, v in screen_kinds.items()}
