"""Consultations authored as spreadsheets (server/sheets.py): the demo template builds the demo
bundle and survives a round trip; every mistake is named by sheet, row and column, all at once;
bad files are refused before they are opened, and nothing is written then."""
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from PIL import Image

from app.bundle import BUNDLE_FILE, load_bundle, parse_bundle
from app.canonical import canonical_json
from app.errors import BundleError
from app.i18n import gettext_for
from app.paths import DEMO_BUNDLE_DIR
from app.signup import SignupConfig
from server import sheets
from server.sheets import (MAX_ROWS, SHEETS, SheetError, SheetProblem, build_bundle,
                           bundle_to_sheet, main_bundle, write_bundle_folder)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = DEMO_BUNDLE_DIR / "consultation.xlsx"
DEMO_DATA = json.loads((DEMO_BUNDLE_DIR / BUNDLE_FILE).read_text(encoding="utf-8"))


def cell_values(path):
    """Every sheet's cell values, row by row, trailing empty cells and rows dropped."""
    workbook = load_workbook(path, read_only=True, data_only=True)
    found = {}
    for sheet in workbook.worksheets:
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        for row in rows:
            while row and row[-1] is None:
                row.pop()
        while rows and not rows[-1]:
            rows.pop()
        found[sheet.title] = rows
    workbook.close()
    return found


@pytest.fixture
def folder(tmp_path):
    """A copy of the template with the demo's images and map beside it (the default images
    folder)."""
    shutil.copy(TEMPLATE, tmp_path / "consultation.xlsx")
    shutil.copytree(DEMO_BUNDLE_DIR / "images", tmp_path / "images")
    shutil.copytree(DEMO_BUNDLE_DIR / "map", tmp_path / "map")
    return tmp_path


def edited(folder, edit):
    """The template in `folder`, changed by `edit(workbook)` and saved."""
    path = folder / "consultation.xlsx"
    workbook = load_workbook(path)
    edit(workbook)
    workbook.save(path)
    return path


def problems_of(path, images_dir=None):
    with pytest.raises(SheetError) as info:
        build_bundle(path, images_dir)
    return info.value.problems


def where(problems):
    return {(p.sheet, p.row, p.column, p.letter, p.message) for p in problems}


def make_workbook(path, sheets_rows):
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets_rows.items():
        ws = workbook.create_sheet(title)
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row, start=1):
                if value is not None:
                    ws.cell(row=number, column=column, value=value)
    workbook.save(path)
    return path


def minimal(**extra):
    rows = {
        "consultation": [["id", "languages", "title::fr", "title::it"],
                         ["c-1", "fr it", "Titre", "Titolo"]],
        "questions": [["id", "kind", "label::fr", "label::it"],
                      ["q-1", "yes_no", "Oui ?", "Sì?"]],
    }
    rows.update(extra)
    return rows


# -- the demo template ------------------------------------------------------------------------

def test_the_template_builds_the_demo_bundle():
    data = build_bundle(TEMPLATE)
    assert canonical_json(data) == canonical_json(DEMO_DATA)
    assert parse_bundle(data) == load_bundle(DEMO_BUNDLE_DIR, check_images=False)


def test_the_committed_template_follows_bundle_json(tmp_path):
    bundle_to_sheet(DEMO_BUNDLE_DIR, tmp_path / "fresh.xlsx")
    assert cell_values(tmp_path / "fresh.xlsx") == cell_values(TEMPLATE)


def test_sheet_to_bundle_to_sheet_is_stable(folder, tmp_path):
    consultation = write_bundle_folder(folder / "consultation.xlsx", tmp_path / "out")
    assert consultation == load_bundle(DEMO_BUNDLE_DIR)
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == sorted(
        p.name for p in (DEMO_BUNDLE_DIR / "images").iterdir())
    assert bundle_to_sheet(tmp_path / "out", tmp_path / "again.xlsx") == []
    assert cell_values(tmp_path / "again.xlsx") == cell_values(TEMPLATE)


def test_every_sheet_and_question_kind_is_in_the_template():
    values = cell_values(TEMPLATE)
    assert set(values) == set(SHEETS)
    kinds = {row[1] for row in values["questions"][1:]}
    assert kinds == {"colour", "yes_no", "scale", "choice", "ranking", "budget", "open", "place"}


# -- every problem at once, each at its cell ------------------------------------------------------

def test_every_problem_is_named_at_once(folder, tmp_path):
    (folder / "images" / "not-image.png").write_text("not a picture")

    def edit(wb):
        wb["questions"]["D7"] = None                       # q-budget's Italian label
        wb["questions"]["B3"] = "lottery"                  # q-ticket's kind
        wb["questions"]["A8"] = "q-colour"                 # q-missing takes q-colour's id
        wb["questions"]["N7"] = "beaucoup"                 # q-budget's total
        wb["projects"]["B4"] = "tourism"                   # p-market's theme
        wb["projects"]["J2"] = "images/nope.png"           # p-bus's image
        wb["projects"]["J3"] = "images/not-image.png"      # p-bike's image
        wb["projects"]["I5"] = None                        # p-coworking's cost (in the budget)
        wb["consultation"]["L2"] = "2026-01-01"            # closes before it opens
        wb["meetings"]["C1"] = "start"                     # starts_at's heading misspelt
    path = edited(folder, edit)
    with pytest.raises(SheetError) as info:
        write_bundle_folder(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    found = where(info.value.problems)
    expected = {
        ("questions", 7, "label::it", "D", "The translation in {lang} is missing."),
        ("questions", 3, "kind", "B", "Unknown question kind: {kind}. Allowed: {allowed}."),
        ("questions", 8, "id", "A", "Duplicate identifier: {id} (first in row {first})."),
        ("questions", 7, "total", "N",
         "A whole number of at least {min} is expected here: {value}."),
        ("projects", 4, "theme", "B", "Unknown theme: {id}. The themes sheet has: {known}."),
        ("projects", 2, "image", "J", "The image {path} is missing."),
        ("projects", 3, "image", "J", "The image {path} is not a PNG, JPEG or WebP picture."),
        ("projects", 5, "cost", "I", "A budget question needs a cost for every project: {id}."),
        ("consultation", 2, "closes_on", "L", "The consultation closes before it opens."),
        ("meetings", 1, "start", "C",
         "Unknown column: {heading}. This sheet's columns are: {columns}. A heading starting "
         "with # is a notes column."),
        ("meetings", None, "starts_at", None, "This column is missing."),
    }
    assert expected <= found, expected - found
    lines = [p.describe() for p in info.value.problems]
    assert "Sheet 'questions', row 7, column label::it (D): The translation in it is missing." \
        in lines
    assert "Sheet 'meetings', column starts_at: This column is missing." in lines
    # In the order of the sheets, then of the rows.
    order = [p.sheet for p in info.value.problems]
    assert order.index("consultation") < order.index("projects") < order.index("questions") \
        < order.index("meetings")


def test_a_problem_reads_in_french_and_italian():
    problem = SheetProblem("questions", 7, "label::it", "The translation in {lang} is missing.",
                           {"lang": "it"}, "D")
    assert "La traduction en it manque." in problem.describe(gettext_for("fr"))
    assert "Manca la traduzione in it." in problem.describe(gettext_for("it"))
    assert problem.as_dict()["code"] == "The translation in {lang} is missing."


def test_languages_missing_columns_and_texts(tmp_path):
    rows = minimal()
    rows["consultation"] = [["id", "languages", "title::fr", "title::it", "title::en"],
                            ["c-1", "fr it en", "Titre", "Titolo", None]]
    found = where(problems_of(make_workbook(tmp_path / "s.xlsx", rows)))
    assert ("consultation", 2, "title::en", "E", "The translation in {lang} is missing.") in found
    assert ("questions", None, "label::en", None, "This column is missing.") in found


def test_an_optional_text_once_begun_is_needed_in_every_language(tmp_path):
    rows = minimal()
    rows["questions"] = [["id", "kind", "label::fr", "label::it", "hint::fr"],
                         ["q-1", "yes_no", "Oui ?", "Sì?", "Une aide"]]
    found = where(problems_of(make_workbook(tmp_path / "s.xlsx", rows)))
    assert ("questions", 2, "hint::it", None, "The translation in {lang} is missing.") in found


def test_headings_unknown_untranslated_or_twice(tmp_path):
    rows = minimal()
    rows["questions"] = [["id", "kind", "label::fr", "label::it", "label", "label::de",
                          "lable::fr", "kind", "#notes"],
                         ["q-1", "yes_no", "Oui ?", "Sì?", None, None, None, None, "ok"]]
    found = where(problems_of(make_workbook(tmp_path / "s.xlsx", rows)))
    assert {("questions", 1, "label", "E",
             "A text column names its language: {name}::fr, {name}::it or {name}::en."),
            ("questions", 1, "label::de", "F", "Unknown language: {lang}."),
            ("questions", 1, "lable::fr", "G",
             "Unknown column: {heading}. This sheet's columns are: {columns}. A heading "
             "starting with # is a notes column."),
            ("questions", 1, "kind", "H", "This column appears twice.")} <= found


def test_xlsform_language_headings_and_case(tmp_path):
    rows = minimal()
    rows["questions"] = [["ID", "Kind", "label::Français (fr)", "label::Italiano (it)"],
                         ["q-1", "Yes_No", "Oui ?", "Sì?"]]
    data = build_bundle(make_workbook(tmp_path / "s.xlsx", rows))
    assert data["consultation"]["questions"] == [
        {"id": "q-1", "kind": "yes_no", "prompt": {"fr": "Oui ?", "it": "Sì?"}}]


def test_missing_sheets(tmp_path):
    path = make_workbook(tmp_path / "s.xlsx", {"notes": [["anything"]]})
    found = where(problems_of(path))
    assert ("consultation", None, None, None, "This sheet is missing.") in found
    assert ("questions", None, None, None, "This sheet is missing.") in found


def test_the_consultation_sheet_holds_one_row(tmp_path):
    rows = minimal()
    rows["consultation"].append(["c-2", "fr", "Autre", None])
    found = where(problems_of(make_workbook(tmp_path / "s.xlsx", rows)))
    assert ("consultation", None, None, None,
            "This sheet holds exactly one row under its headings.") in found


def test_numbers_dates_and_yes_no(tmp_path):
    from datetime import datetime
    rows = minimal()
    rows["consultation"] = [
        ["id", "languages", "title::fr", "title::it", "version", "goal", "opens_on", "closes_on",
         "anonymous", "status"],
        ["c-1", "fr, it", "Titre", "Titolo", 2.0, "1 200", datetime(2026, 11, 15),
         "2027-01-31", "non", "Draft"]]
    c = build_bundle(make_workbook(tmp_path / "ok.xlsx", rows))["consultation"]
    assert (c["version"], c["goal"], c["opens_on"], c["closes_on"], c["anonymous"],
            c["status"], c["languages"]) == (2, 1200, "2026-11-15", "2027-01-31", False,
                                             "draft", ["fr", "it"])
    rows["consultation"][1][4:10] = [1.5, "12,5", "15/11/2026", "2027-02-30", "peut-être",
                                     "ouvert"]
    rows["consultation"][1][1] = "fr de"
    found = where(problems_of(make_workbook(tmp_path / "bad.xlsx", rows)))
    assert {("consultation", 2, "version", "E",
             "A whole number of at least {min} is expected here: {value}."),
            ("consultation", 2, "goal", "F",
             "A whole number of at least {min} is expected here: {value}."),
            ("consultation", 2, "opens_on", "G", "A date (YYYY-MM-DD) is expected here: {value}."),
            ("consultation", 2, "closes_on", "H", "A date (YYYY-MM-DD) is expected here: {value}."),
            ("consultation", 2, "anonymous", "I", "yes or no is expected here: {value}."),
            ("consultation", 2, "status", "J", "Unknown status: {status}. Allowed: {allowed}."),
            ("consultation", 2, "languages", "B",
             "Languages must be listed once each, among fr, it, en.")} <= found


def test_a_huge_number_is_too_large(tmp_path):
    rows = minimal()
    rows["consultation"][0].append("goal")
    rows["consultation"][1].append("9" * 5000)
    found = where(problems_of(make_workbook(tmp_path / "s.xlsx", rows)))
    assert ("consultation", 2, "goal", "E",
            "A whole number of at least {min} is expected here: {value}.") in found
    rows["consultation"][1][-1] = 10 ** 13
    found = where(problems_of(make_workbook(tmp_path / "s.xlsx", rows)))
    assert ("consultation", 2, "goal", "E", "This number is too large: {value}.") in found


def test_question_rules_by_kind(tmp_path):
    rows = minimal()
    rows["questions"] = [
        ["id", "kind", "label::fr", "label::it", "multiple", "maximum", "total", "currency",
         "projects"],
        ["q-1", "choice", "Un ?", "Uno?", "no", 2, None, None, None],
        ["q-2", "ranking", "Classez", "Ordini", None, 5, None, None, None],
        ["q-3", "yes_no", "Oui ?", "Sì?", None, None, 100, None, None],
        ["q-4", "budget", "Budget", "Bilancio", None, None, None, "euros", "p-x"],
        ["q-5", "scale", "Échelle", "Scala", None, None, None, None, None],
        ["q-6", "colour", "Couleur", "Colore", None, None, None, None, None],
    ]
    rows["options"] = [
        ["question", "id", "label::fr", "label::it"],
        ["q-1", "a", "A", "A"],
        ["q-2", "a", "A", "A"], ["q-2", "b", "B", "B"],
        ["q-3", "y", "Y", "Y"],
        ["q-5", "1", "Un", "Uno"], ["q-5", "2", "Deux", "Due"],
        ["q-9", "z", "Z", "Z"],
    ]
    found = where(problems_of(make_workbook(tmp_path / "s.xlsx", rows)))
    assert {("questions", 2, "maximum", "F", "A maximum number of choices needs multiple = yes."),
            ("questions", 2, None, None, "This question needs at least two options."),
            ("questions", 3, "maximum", "F", "More ranks than there are options."),
            ("questions", 4, "total", "G",
             "This column does not apply to a question of kind {kind}."),
            ("options", 5, "question", "A", "A question of kind {kind} takes no options."),
            ("questions", 5, "total", "G", "This field is required."),
            ("questions", 5, "currency", "H",
             "A currency code of three capital letters (EUR) is expected here."),
            ("questions", 5, "projects", "I",
             "Unknown project: {id}. The projects sheet has: {known}."),
            ("questions", 6, None, None, "A scale needs five labels, from 1 to 5."),
            ("questions", 7, "projects", "I", "This question needs projects."),
            ("options", 8, "question", "A", "Unknown question: {id}. The options name a "
             "question of the questions sheet.")} <= found


def test_scale_labels_and_choice_options_come_from_the_options_sheet(tmp_path):
    rows = minimal()
    rows["questions"] = [["id", "kind", "label::fr", "label::it", "multiple", "maximum",
                          "scale_kind"],
                         ["q-1", "choice", "Un ?", "Uno?", "yes", 2, None],
                         ["q-2", "scale", "Échelle", "Scala", None, None, "agreement"]]
    rows["options"] = [["question", "id", "label::fr", "label::it"],
                       ["q-1", "a", "A", "A"], ["q-1", "b", "B", "B"], ["q-1", "c", "C", "C"]]
    rows["options"] += [["q-2", str(n), f"fr {n}", f"it {n}"] for n in (5, 4, 3, 2)]
    rows["options"].append(["q-2", 1, "fr 1", "it 1"])                # typed as a number
    questions = build_bundle(make_workbook(tmp_path / "s.xlsx", rows))["consultation"][
        "questions"]
    assert questions[0]["options"][2] == {"id": "c", "label": {"fr": "C", "it": "C"}}
    assert (questions[0]["multiple"], questions[0]["max_choices"]) == (True, 2)
    assert [label["fr"] for label in questions[1]["labels"]] == [f"fr {n}" for n in range(1, 6)]


def test_signup_neighbourhoods_and_age_bracket(tmp_path):
    rows = minimal()
    rows["consultation"][0].append("signup_age_bracket")
    rows["consultation"][1].append("yes")
    rows["neighbourhoods"] = [["id", "name::fr", "name::it"], ["centre", "Centre", "Centro"]]
    data = build_bundle(make_workbook(tmp_path / "s.xlsx", rows))
    assert data["signup"] == {"age_bracket": True, "neighbourhoods": [
        {"id": "centre", "name": {"fr": "Centre", "it": "Centro"}}]}
    config = SignupConfig.from_bundle(data)
    assert config.age_bracket and config.neighbourhoods[0][0] == "centre"


def test_sites_and_meetings(tmp_path):
    from datetime import datetime
    rows = minimal()
    rows["sites"] = [["id", "town", "name::fr", "name::it"], ["s-1", "Menton", "Lieu", "Sede"]]
    rows["meetings"] = [["id", "site", "starts_at", "title::fr", "title::it"],
                        ["m-1", "s-1", datetime(2026, 12, 3, 18, 30), "Réunion", "Riunione"],
                        ["m-2", "s-1", "2026-12-10 17:00", "Réunion", "Riunione"],
                        ["m-3", "s-9", "demain", "Réunion", "Riunione"]]
    found = where(problems_of(make_workbook(tmp_path / "s.xlsx", rows)))
    assert {("meetings", 4, "site", "B",
             "Unknown site: {id}. The sites sheet has: {known}."),
            ("meetings", 4, "starts_at", "C",
             "A date and time (2026-12-03T18:30) is expected here: {value}.")
            } == {f for f in found if f[0] == "meetings"}
    rows["meetings"].pop()
    data = build_bundle(make_workbook(tmp_path / "s.xlsx", rows))
    assert [m["starts_at"] for m in data["meetings"]] == ["2026-12-03T18:30", "2026-12-10T17:00"]
    assert data["sites"][0]["town"] == "Menton"


def test_the_parsers_own_verdict_is_placed_in_the_sheet(folder, monkeypatch):
    def refuse(data, **kwargs):
        raise BundleError("The translation in {lang} is missing.", "x",
                          "consultation.questions[1].prompt.it", lang="it")
    monkeypatch.setattr(sheets, "parse_bundle", refuse)
    [problem] = problems_of(folder / "consultation.xlsx")
    assert (problem.sheet, problem.row, problem.column, problem.letter) == (
        "questions", 3, "label::it", "D")

    def refuse_label(data, **kwargs):
        raise BundleError("A text is expected here.", "x",
                          "consultation.questions[2].labels[4].en")
    monkeypatch.setattr(sheets, "parse_bundle", refuse_label)
    [problem] = problems_of(folder / "consultation.xlsx")
    assert (problem.sheet, problem.row, problem.column, problem.letter) == (
        "options", 6, "label::en", "E")


# -- cells: formulas, merged, empty rows, errors, text -------------------------------------------

def test_a_formula_without_a_saved_value_is_named(tmp_path):
    rows = minimal()
    rows["consultation"][1][3] = '="Tito"&"lo"'
    found = where(problems_of(make_workbook(tmp_path / "s.xlsx", rows)))
    assert ("consultation", 2, "title::it", "D",
            "The cell holds a formula with no saved value: type the value, or open the file in "
            "a spreadsheet program and save it again.") in found
    assert not any(f[-1] == "The translation in {lang} is missing." for f in found)


def test_a_formula_reads_as_its_saved_value(tmp_path):
    rows = minimal()
    rows["consultation"][1][3] = '="Tito"&"lo"'
    path = make_workbook(tmp_path / "s.xlsx", rows)
    # Save the value with the formula, as Excel or LibreOffice do (openpyxl does not).
    with zipfile.ZipFile(path) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    name = next(n for n in parts if n.startswith("xl/worksheets/") and
                b"<f>" in parts[n])
    parts[name] = re.sub(rb'<c r="D2"([^>]*)><f>(.*?)</f><v ?/>',
                         rb'<c r="D2"\1 t="str"><f>\2</f><v>Titolo</v>', parts[name])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for part, content in parts.items():
            z.writestr(part, content)
    assert build_bundle(path)["consultation"]["title"] == {"fr": "Titre", "it": "Titolo"}


def test_merged_cells_are_refused(folder):
    path = edited(folder, lambda wb: wb["questions"].merge_cells("C3:D3"))
    found = where(problems_of(path))
    assert ("questions", 3, "label::fr", "C",
            "Merged cells ({range}) are not allowed: unmerge them and fill in each cell.") \
        in found


def test_empty_rows_are_skipped_and_rows_keep_their_numbers(tmp_path):
    rows = minimal()
    rows["questions"] += [[None] * 4, ["   ", None, None, None],
                          ["q-2", "yes_no", "Non ?", None]]
    problems = problems_of(make_workbook(tmp_path / "s.xlsx", rows))
    assert [(p.sheet, p.row, p.column) for p in problems] == [("questions", 5, "label::it")]
    rows["questions"][-1][3] = "No?"
    data = build_bundle(make_workbook(tmp_path / "s.xlsx", rows))
    assert [q["id"] for q in data["consultation"]["questions"]] == ["q-1", "q-2"]


def test_spreadsheet_errors_and_cells_without_heading(tmp_path):
    rows = minimal()
    rows["questions"][1][2] = "#REF!"
    rows["questions"][1].append("stray")
    found = where(problems_of(make_workbook(tmp_path / "s.xlsx", rows)))
    assert ("questions", 2, "label::fr", "C", "The cell holds a spreadsheet error: {error}.") \
        in found
    assert ("questions", 2, "E", None, "This cell has no column heading above it.") in found


def test_a_stray_column_is_named_once_and_problems_are_bounded(tmp_path):
    rows = minimal()
    rows["questions"] += [[f"q-{n}", "yes_no", "Oui ?", None, "stray"] for n in range(2, 602)]
    rows["questions"][0] += [None] * (sheets.MAX_COLUMNS - 4) + ["too far"]
    with pytest.raises(SheetError) as info:
        build_bundle(make_workbook(tmp_path / "s.xlsx", rows))
    problems = info.value.problems
    assert info.value.count == 602 and len(problems) == sheets.MAX_PROBLEMS + 1
    assert problems[-1].message == "Problems not listed: {count}."
    assert problems[-1].params == {"count": 600 + 2 - sheets.MAX_PROBLEMS}
    lines = [p.describe() for p in problems]
    assert lines.count("Sheet 'questions', row 1, column BM: Too many columns: a sheet may use "
                       "columns A to BL.") == 1
    assert lines.count("Sheet 'questions', row 3, column E: This cell has no column heading "
                       "above it.") == 1
    assert not any("row 4, column E" in line for line in lines)


def test_control_characters_are_removed_and_emoji_kept(tmp_path):
    rows = minimal()
    # XML cannot hold most control characters: Excel writes them as _x0000_ (ECMA-376).
    rows["consultation"][1][2] = "Ti_x0000_tre\t_x001B_[31m\U0001F333\u200d ok\r\nligne_x000B_2"
    rows["questions"][1][2] = "Oui ? 👍🏽"
    data = build_bundle(make_workbook(tmp_path / "s.xlsx", rows))
    assert data["consultation"]["title"]["fr"] == "Titre[31m\U0001F333\u200d ok\nligne2"
    assert data["consultation"]["questions"][0]["prompt"]["fr"] == "Oui ? 👍🏽"


def test_a_10000_character_cell_is_refused(tmp_path):
    rows = minimal()
    rows["questions"][1][3] = "x" * 10_000
    [problem] = problems_of(make_workbook(tmp_path / "s.xlsx", rows))
    assert (problem.sheet, problem.row, problem.column, problem.letter) == (
        "questions", 2, "label::it", "D")
    assert problem.message == "This text is too long: {length} characters, at most {max} allowed."
    assert problem.params == {"length": 10_000, "max": sheets.MAX_TEXT_CHARS}


def test_identifiers_refuse_emoji_and_spaces(tmp_path):
    rows = minimal()
    rows["questions"][1][0] = "q 🌳"
    found = where(problems_of(make_workbook(tmp_path / "s.xlsx", rows)))
    assert ("questions", 2, "id", "A",
            "An identifier (letters a to z, digits, - _ .) is expected here: {value}.") in found


def test_text_that_looks_like_a_formula_or_an_escape_stays_text(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE_DIR, bundle)
    data = json.loads((bundle / BUNDLE_FILE).read_text(encoding="utf-8"))
    data["consultation"]["title"]["en"] = "=SUM(A1:A3) is not a formula"
    data["consultation"]["title"]["it"] = "Codice _x0041_ letterale"
    (bundle / BUNDLE_FILE).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    bundle_to_sheet(bundle, bundle / "consultation.xlsx")
    title = build_bundle(bundle / "consultation.xlsx")["consultation"]["title"]
    assert title["en"] == "=SUM(A1:A3) is not a formula"
    assert title["it"] == "Codice _x0041_ letterale"


# -- images -----------------------------------------------------------------------------------

def test_images_missing_broken_wrong_kind_or_too_large(folder):
    images = folder / "images"
    (images / "cut.png").write_bytes((images / "cover.png").read_bytes()[:3000])
    Image.new("RGB", (20, 20)).save(images / "gif.png", format="GIF")
    Image.new("L", (5000, 4000)).save(images / "huge.png")             # 20 megapixels

    def edit(wb):
        wb["projects"]["J2"] = "images/cut.png"
        wb["projects"]["J3"] = "images/gif.png"
        wb["projects"]["J4"] = "images/huge.png"
        wb["projects"]["J5"] = "../outside.png"
        wb["projects"]["J6"] = "/etc/passwd.png"
        wb["projects"]["J7"] = "images/cover.gif"
    found = {(p.row, p.message) for p in problems_of(edited(folder, edit))
             if p.sheet == "projects"}
    assert found == {
        (2, "The image {path} is broken."),
        (3, "The image {path} is not a PNG, JPEG or WebP picture."),
        (4, "The image {path} has too many pixels: at most {max} million."),
        (5, "An image path inside the images folder (PNG, JPEG or WebP) is expected: {value}."),
        (6, "An image path inside the images folder (PNG, JPEG or WebP) is expected: {value}."),
        (7, "An image path inside the images folder (PNG, JPEG or WebP) is expected: {value}."),
    }


def test_images_come_from_the_images_folder(folder, tmp_path):
    photos = tmp_path / "photos"
    shutil.move(folder / "images", photos / "images")
    shutil.move(folder / "map", photos / "map")
    assert any(p.message == "The image {path} is missing."
               for p in problems_of(folder / "consultation.xlsx"))
    data = build_bundle(folder / "consultation.xlsx", images_dir=photos)
    assert data["consultation"]["image"] == "images/cover.png"


def test_an_image_larger_than_the_bundle_allows(folder, monkeypatch):
    import app.bundle
    monkeypatch.setattr(app.bundle, "MAX_IMAGE_BYTES", 1000)
    found = {p.message for p in problems_of(folder / "consultation.xlsx")}
    assert found == {"The image {path} is too large."}


# -- bad files: refused before they are opened, nothing written -----------------------------------

def refused_file(path, tmp_path):
    with pytest.raises(SheetError) as info:
        write_bundle_folder(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    [problem] = info.value.problems
    assert problem.sheet is None
    return problem


def test_a_50_mb_file_is_refused_by_its_size(tmp_path, monkeypatch):
    path = tmp_path / "big.xlsx"
    with open(path, "wb") as f:
        f.truncate(50 * 1024 * 1024)
    monkeypatch.setattr(zipfile, "ZipFile", None)          # never looked inside
    problem = refused_file(path, tmp_path)
    assert problem.message == "The file is too large: {size} MB, at most {max} MB."
    assert problem.params == {"size": 50.0, "max": 10}


def test_files_that_are_not_xlsx(tmp_path):
    (tmp_path / "text.xlsx").write_text("id,kind\nq-1,yes_no\n")
    assert refused_file(tmp_path / "text.xlsx", tmp_path).message.startswith(
        "This is not a spreadsheet this tool reads")
    (tmp_path / "cut.xlsx").write_bytes(TEMPLATE.read_bytes()[:5000])
    assert refused_file(tmp_path / "cut.xlsx", tmp_path).message.startswith(
        "This is not a spreadsheet this tool reads")
    with zipfile.ZipFile(tmp_path / "zip.xlsx", "w") as z:
        z.writestr("readme.txt", "hello")
    assert refused_file(tmp_path / "zip.xlsx", tmp_path).message.startswith(
        "This is not a spreadsheet this tool reads")
    absent = refused_file(tmp_path / "absent.xlsx", tmp_path)
    assert absent.message == "The spreadsheet file cannot be read: {reason}"
    assert absent.params == {"reason": "No such file or directory"}


def test_a_damaged_workbook_inside_a_good_zip(tmp_path):
    with zipfile.ZipFile(TEMPLATE) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"][:200]
    with zipfile.ZipFile(tmp_path / "bad.xlsx", "w") as z:
        for name, content in parts.items():
            z.writestr(name, content)
    problem = refused_file(tmp_path / "bad.xlsx", tmp_path)
    # The XML parser's own English words never reach the author: a damaged file, in their
    # language.
    assert problem.message == sheets._DAMAGED
    assert "{reason}" not in problem.message


def test_a_zip_bomb_is_refused_from_its_directory(tmp_path, monkeypatch):
    path = tmp_path / "bomb.xlsx"
    shutil.copy(TEMPLATE, path)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        with z.open("xl/media/zeros.bin", "w") as entry:
            chunk = bytes(1 << 20)
            for _ in range(sheets.MAX_UNPACKED_BYTES // len(chunk) + 1):
                entry.write(chunk)
    assert path.stat().st_size < 1024 * 1024
    import openpyxl
    monkeypatch.setattr(openpyxl, "load_workbook", None)    # never opened
    problem = refused_file(path, tmp_path)
    assert problem.message == "The spreadsheet unpacks to more than {max} MB: refused."


@pytest.mark.slow        # a load test: 10,000 rows
def test_10000_rows_are_refused_at_the_row_limit(tmp_path):
    workbook = Workbook(write_only=True)
    for title, rows in minimal().items():
        ws = workbook.create_sheet(title)
        for row in rows:
            ws.append(row)
    ws = workbook["questions"]
    for n in range(2, 10_001):
        ws.append([f"q-{n}", "yes_no", "Oui ?", "Sì?"])
    workbook.save(tmp_path / "long.xlsx")
    with pytest.raises(SheetError) as info:
        write_bundle_folder(tmp_path / "long.xlsx", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [(p.sheet, p.row, p.message) for p in info.value.problems] == [
        ("questions", MAX_ROWS + 1, "Too many rows: a sheet may use rows 1 to {max}.")]


# -- writing: the out folder -----------------------------------------------------------------------

def test_an_existing_bundle_folder_is_replaced_and_another_folder_refused(folder, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(DEMO_BUNDLE_DIR, out)
    (out / "stale.txt").write_text("old")
    write_bundle_folder(folder / "consultation.xlsx", out)
    assert not (out / "stale.txt").exists() and (out / BUNDLE_FILE).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    home = tmp_path / "home"
    home.mkdir()
    (home / "letter.txt").write_text("keep me")
    with pytest.raises(SheetError) as info:
        write_bundle_folder(folder / "consultation.xlsx", home)
    assert info.value.problems[0].message.startswith("Choose another output folder")
    assert [p.name for p in home.iterdir()] == ["letter.txt"]


def test_the_folder_of_the_spreadsheet_or_its_images_is_never_replaced(folder, tmp_path):
    for looks_like_a_bundle in (folder, folder / "images"):
        (looks_like_a_bundle / BUNDLE_FILE).write_text("{}")
    before = sorted(p.name for p in folder.iterdir())
    for out, images in ((folder, None), (tmp_path, None), (folder / "images", None),
                        (tmp_path / "elsewhere", tmp_path / "elsewhere" / "photos")):
        with pytest.raises(SheetError) as info:
            write_bundle_folder(folder / "consultation.xlsx", out, images)
        assert info.value.problems[0].message.startswith("Choose another output folder")
    assert sorted(p.name for p in folder.iterdir()) == before
    assert (folder / "images" / "cover.png").is_file()


def test_bundle_to_sheet_refuses_a_bad_bundle_and_writes_nothing(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE_DIR, bundle)
    (bundle / BUNDLE_FILE).write_text('{"format": "something else"}')
    with pytest.raises(BundleError):
        bundle_to_sheet(bundle, tmp_path / "s.xlsx")
    assert list(tmp_path.glob("*.xlsx")) == [] and list(tmp_path.glob(".*")) == []


def test_bundle_to_sheet_says_what_it_leaves_out(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE_DIR, bundle)
    data = json.loads((bundle / BUNDLE_FILE).read_text(encoding="utf-8"))
    # A map section that no JSON file of the bundle holds has no cell to name it: left out,
    # and said (the demo's map is map/map.json, named in the template's `map` column).
    section = json.loads((bundle / "map" / "map.json").read_text("utf-8"))
    section["attribution"] = {lang: text + " (edited)"
                              for lang, text in section["attribution"].items()}
    data["consultation"]["map"] = section
    data["consultation"]["questions"][1]["max_length"] = 10        # not a yes_no field
    (bundle / BUNDLE_FILE).write_text(json.dumps(data), encoding="utf-8")
    left = bundle_to_sheet(bundle, tmp_path / "s.xlsx")
    assert sorted(left) == ["consultation.map", "consultation.questions[1].max_length"]
    # Built back, the sheet lacks the map its place question needs: said at that cell.
    with pytest.raises(SheetError) as info:
        build_bundle(tmp_path / "s.xlsx", bundle)
    assert [(p.sheet, p.column, p.message) for p in info.value.problems] == [
        ("questions", "kind", "A place question needs the consultation's map.")]


# -- command line --------------------------------------------------------------------------------

def test_cli_build_and_sheet(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main_bundle(["build", str(folder / "consultation.xlsx"), "--out", str(out),
                        "--lang", "en"]) == 0
    assert "alpimed-2030" in capsys.readouterr().out
    assert load_bundle(out).id == "alpimed-2030"
    assert main_bundle(["sheet", str(out), "--out", str(tmp_path / "back.xlsx"),
                        "--lang", "en"]) == 0
    printed = capsys.readouterr().out
    assert "back.xlsx" in printed and "--images" in printed
    assert cell_values(tmp_path / "back.xlsx") == cell_values(TEMPLATE)


def test_cli_prints_every_problem_in_the_chosen_language(folder, tmp_path, capsys):
    def edit(wb):
        wb["questions"]["D7"] = None
        wb["projects"]["B4"] = "tourism"
    path = edited(folder, edit)
    assert main_bundle(["build", str(path), "--out", str(tmp_path / "out"),
                        "--lang", "fr"]) == 1
    _ = gettext_for("fr")
    warned = (_("Warning: {message}").split("{")[0],
              _("Warnings: {count}. Read them: the bundle is built all the same.").split("{")[0])
    # The demo's meetings pass with the calendar: warnings, printed first, not counted here.
    lines = [line for line in capsys.readouterr().err.splitlines()
             if not line.startswith(warned)]
    assert len(lines) == 3
    assert "Thème inconnu\u00a0: tourism. La feuille themes contient\u00a0: " in lines[0]
    assert "projects" in lines[0]
    assert "row 7" in lines[1] or "ligne 7" in lines[1]
    assert lines[1].endswith("La traduction en it manque.")
    assert not (tmp_path / "out").exists()


def test_cli_usage_errors(capsys):
    assert main_bundle([]) == 2
    assert main_bundle(["build", "x.xlsx"]) == 2          # --out is required
    assert main_bundle(["--help"]) == 0


@pytest.mark.process        # Python processes
def test_cli_in_a_subprocess(folder, tmp_path):
    code = ("from server.sheets import main_bundle; import sys; "
            "sys.exit(main_bundle(sys.argv[1:]))")
    ok = subprocess.run([sys.executable, "-c", code, "build", str(folder / "consultation.xlsx"),
                         "--out", str(tmp_path / "out"), "--lang", "it"],
                        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert load_bundle(tmp_path / "out").id == "alpimed-2030"
    (tmp_path / "broken.xlsx").write_text("not a spreadsheet")
    bad = subprocess.run([sys.executable, "-c", code, "build", str(tmp_path / "broken.xlsx"),
                          "--out", str(tmp_path / "out2"), "--lang", "en"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[0].startswith("This is not a spreadsheet this tool reads")
    assert not (tmp_path / "out2").exists()


# -- documentation ------------------------------------------------------------------------------

def test_the_documentation_covers_every_sheet_and_column():
    doc = (ROOT / "docs" / "sheet-format.md").read_text(encoding="utf-8")
    sections = re.split(r"^### ", doc, flags=re.M)
    for sheet, columns in SHEETS.items():
        section = next((s for s in sections if s.startswith(f"`{sheet}`")), None)
        assert section is not None, sheet
        for column in columns:
            name = f"{column.name}::fr" if column.text else column.name
            assert f"`{name}`" in section, (sheet, name)
    for limit in ("MAX_FILE_BYTES", "MAX_UNPACKED_BYTES", "MAX_ROWS", "MAX_COLUMNS",
                  "MAX_TEXT_CHARS", "MAX_IMAGE_PIXELS"):
        value = getattr(sheets, limit)
        shown = f"{value // 1048576} MB" if "BYTES" in limit else f"{value:,}"
        assert shown in doc or limit in doc, limit


def test_cli_with_problems_never_says_built_all_the_same(folder, tmp_path, capsys):
    """A problem and a warning (a hidden row) together: the problem first, the warning marked,
    and no "built all the same" before "nothing written" (walked in FR: the two contradicted)."""
    def edit(wb):
        wb["projects"]["B4"] = "tourism"
        wb["questions"].row_dimensions[8].hidden = True
    path = edited(folder, edit)
    assert main_bundle(["build", str(path), "--out", str(tmp_path / "out"),
                        "--lang", "fr"]) == 1
    _ = gettext_for("fr")
    lines = capsys.readouterr().err.splitlines()
    warning = _("Warning: {message}").split("{")[0]
    assert "Thème inconnu\u00a0: tourism." in lines[0]
    assert any(line.startswith(warning) and "ligne 8" in line for line in lines)
    built = _("Warnings: {count}. Read them: the bundle is built all the same.").split("{")[0]
    assert not any(line.startswith(built) for line in lines)
    assert lines[-1] == _("Problems: {count}. Nothing was written.").format(count=1)
    assert not (tmp_path / "out").exists()
