"""A corpus of workbooks made from scratch (openpyxl for .xlsx, server.ods.write_ods for .ods;
never the template edited), one per mistake a city officer makes in Excel or LibreOffice
(issue 27). Each names the exact message, sheet, row, column and letter, whether it is a
warning (built all the same) or a problem (nothing written), and the exit code of
`python -m server bundle build`. Every case runs on both formats: an .ods reads as the .xlsx."""
import json
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from PIL import Image

from server.ods import write_ods
from server.sheets import SheetError, build_bundle, main_bundle, write_bundle_folder

FORMATS = ("xlsx", "ods")
PAST = datetime(2020, 3, 4, 18, 30)


def base(**changes) -> dict[str, list[list]]:
    """A bilingual budget consultation that builds clean, in 2099 (its meeting is to come)."""
    book = {
        "consultation": [["id", "languages", "title::fr", "title::it", "opens_on", "closes_on"],
                         ["val-2099", "fr it", "Budget du val", "Bilancio della valle",
                          "2099-01-01", "2099-12-31"]],
        "themes": [["id", "title::fr", "title::it"], ["t-1", "Mobilité", "Mobilità"]],
        "projects": [["id", "theme", "title::fr", "title::it", "description::fr",
                      "description::it", "cost"],
                     ["p-1", "t-1", "Navette", "Navetta", "Une navette.", "Una navetta.", 40000],
                     ["p-2", "t-1", "Vélos", "Bici", "Des vélos.", "Delle bici.", 20000]],
        "questions": [["id", "kind", "label::fr", "label::it", "total", "step", "maximum"],
                      ["q-budget", "budget", "Partagez", "Dividete", 100000, 10000, None],
                      ["q-idea", "open", "Une idée ?", "Un'idea?", None, None, 500]],
        "sites": [["id", "name::fr", "name::it"], ["s-1", "Mairie", "Municipio"]],
        "meetings": [["id", "site", "starts_at", "title::fr", "title::it"],
                     ["m-1", "s-1", "2099-05-04T18:30", "Réunion", "Riunione"]],
    }
    book.update(changes)
    return book


def save(book: dict, path: Path, fmt: str, *, hidden_sheets=(), hidden_rows=None,
         hidden_columns=None) -> Path:
    path = path.with_suffix("." + fmt)
    if fmt == "ods":
        write_ods(path, book, hidden_sheets=set(hidden_sheets), hidden_rows=hidden_rows,
                  hidden_columns=hidden_columns)
        return path
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in book.items():
        ws = workbook.create_sheet(title)
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row, start=1):
                if value is not None:
                    ws.cell(row=number, column=column, value=value)
        for number in (hidden_rows or {}).get(title, ()):
            ws.row_dimensions[number].hidden = True
        for index in (hidden_columns or {}).get(title, ()):
            ws.column_dimensions[chr(65 + index)].hidden = True
        if title in hidden_sheets:
            ws.sheet_state = "hidden"
    workbook.save(path)
    return path


def verdict(path: Path, tmp_path: Path):
    """(exit code of `bundle build`, problems, warnings) as (sheet, row, column, letter, msgid,
    params) tuples."""
    code = main_bundle(["build", str(path), "--out", str(tmp_path / "out"), "--lang", "en"])
    found: list = []
    try:
        write_bundle_folder(path, tmp_path / "out2", None, found)
        problems = []
    except SheetError as exc:
        problems, found = exc.problems, exc.warnings

    def rows(items):
        return [(p.sheet, p.row, p.column, p.letter, p.message, p.params) for p in items]
    return code, rows(problems), rows(found)


@pytest.fixture(params=FORMATS)
def fmt(request):
    return request.param


def test_the_base_workbook_builds_clean(tmp_path, fmt):
    code, problems, warned = verdict(save(base(), tmp_path / "book", fmt), tmp_path)
    assert (code, problems, warned) == (0, [], [])


# -- sheets: every sheet read or named ---------------------------------------------------------

@pytest.mark.parametrize("title, guess", [("Meeting", "meetings"), ("Réunions", "meetings"),
                                          ("choices", "options"), ("Question", "questions")])
def test_a_near_miss_sheet_name_is_a_problem_naming_the_sheet_meant(tmp_path, fmt, title, guess):
    book = base()
    book[title] = book.pop(guess, [["question", "id", "label::fr", "label::it"]])
    code, problems, _w = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert (title, None, None, None, "This sheet is not read: its name is not one the format "
            "knows. Did you mean {name}? Rename the sheet {name}.", {"name": guess}) in problems


def test_another_sheet_is_not_read_and_said_so(tmp_path, fmt):
    code, problems, warned = verdict(save(base(Notes=[["Read me first"]]), tmp_path / "b", fmt),
                                     tmp_path)
    assert (code, problems) == (0, [])
    assert warned == [("Notes", None, None, None, "This sheet is not read (notes, "
                       "instructions). The sheets read are: {names}.", {"names": "consultation, "
                       "themes, projects, questions, options, sites, meetings, neighbourhoods"})]


def test_a_hidden_sheet_and_hidden_rows_are_read_and_said_so(tmp_path, fmt):
    path = save(base(), tmp_path / "book", fmt, hidden_sheets={"meetings"},
                hidden_rows={"projects": {2, 3}})
    code, problems, warned = verdict(path, tmp_path)
    assert (code, problems) == (0, [])
    hidden_row = "This row is hidden: it is read all the same. Delete the row to leave it out."
    assert warned == [
        ("projects", 2, None, None, hidden_row, {}),
        ("projects", 3, None, None, hidden_row, {}),       # every row, not the first alone
        ("meetings", None, None, None, "This sheet is hidden: it is read all the same. Delete "
         "it to leave it out.", {})]
    assert len(build_bundle(path)["consultation"]["projects"]) == 2


def test_a_hidden_column_is_read_and_said_so(tmp_path, fmt):
    path = save(base(), tmp_path / "book", fmt, hidden_columns={"projects": {6}})
    code, problems, warned = verdict(path, tmp_path)
    assert (code, problems) == (0, [])
    assert warned == [("projects", None, "cost", "G", "This column is hidden: it is read all "
                       "the same. Delete the column to leave it out.", {})]


def test_a_banner_above_the_headings_is_one_problem(tmp_path, fmt):
    book = base()
    book["questions"] = [["Questions of the valley"], *book["questions"]]
    code, problems, _w = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert problems == [("questions", 1, None, None, "The headings must be in row 1; here they "
                         "are in row {found}. Delete the rows above them (a title, a banner).",
                         {"found": 2})]


def test_an_emptied_optional_sheet_is_one_warning(tmp_path, fmt):
    code, problems, warned = verdict(save(base(meetings=[]), tmp_path / "book", fmt), tmp_path)
    assert (code, problems) == (0, [])
    assert warned == [("meetings", None, None, None, "This sheet is empty: it adds nothing.", {})]


def test_a_note_row_is_not_an_item(tmp_path, fmt):
    book = base()
    book["projects"].insert(2, ["# p-3 postponed to next year", None, "Pont", "Ponte"])
    path = save(book, tmp_path / "book", fmt)
    assert verdict(path, tmp_path) == (0, [], [])
    assert [p["id"] for p in build_bundle(path)["consultation"]["projects"]] == ["p-1", "p-2"]


# -- cells: what the spreadsheet program made of what was typed --------------------------------

def test_true_false_and_dates_where_text_is_expected(tmp_path, fmt):
    book = base()
    book["projects"][1][2] = True                        # VRAI typed in French Excel
    book["projects"][2][3] = datetime(2026, 4, 16)       # "16/4" typed
    code, problems, _w = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert problems == [
        ("projects", 2, "title::fr", "C", "The spreadsheet turned this cell into a yes/no value "
         "({value}) where text is expected: format the cell as text and type it again.",
         {"value": "TRUE"}),
        ("projects", 3, "title::it", "D", "The spreadsheet turned this cell into a date "
         "({value}) where text is expected: format the cell as text and type it again.",
         {"value": "2026-04-16T00:00"})]


def test_a_text_in_a_language_not_offered_is_said_once_per_column(tmp_path, fmt):
    book = base()
    book["themes"] = [["id", "title::fr", "title::it", "title::en"],
                      ["t-1", "Mobilité", "Mobilità", "Mobility"]]
    code, problems, warned = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert (code, problems) == (0, [])
    assert warned == [("themes", None, "title::en", "D", "The consultation is not offered in "
                       "{lang} (its languages: {languages}): this column is not used.",
                       {"lang": "en", "languages": "fr it"})]


# -- the rules the kiosk relies on -------------------------------------------------------------

@pytest.mark.parametrize("total, step, message", [
    (100000, 150000, "The step ({step}) is larger than the total ({total}): no amount could be "
                     "given. Choose a step that divides the total."),
    (100000, 30000, "The total ({total}) is not a whole number of steps of {step}: choose a "
                    "step that divides it.")])
def test_a_budget_step_the_kiosk_cannot_use(tmp_path, fmt, total, step, message):
    book = base()
    book["questions"][1][4:6] = [total, step]
    code, problems, _w = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert problems == [("questions", 2, "step", "F", message, {"step": step, "total": total})]


def test_a_project_costing_more_than_the_total(tmp_path, fmt):
    book = base()
    book["projects"][1][6] = 250000
    book["projects"][2][6] = 25000                        # between two steps: funded to 20,000
    code, problems, warned = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert problems == [("projects", 2, "cost", "G", "This project costs {cost}, more than the "
                         "total of the budget question {id} ({total}): it could never be "
                         "funded.", {"cost": 250000, "id": "q-budget", "total": 100000})]
    assert warned == [("projects", 3, "cost", "G", "This project costs {cost}, not a whole "
                       "number of steps of {step} (question {id}): funding it in full gives "
                       "{funded}.", {"cost": 25000, "step": 10000, "id": "q-budget",
                                     "funded": 20000})]


def test_an_open_answer_longer_than_the_kiosk_takes(tmp_path, fmt):
    book = base()
    book["questions"][2][6] = 100000
    code, problems, _w = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert problems == [("questions", 3, "maximum", "G", "An answer is at most {max} "
                         "characters, as long as an idea's text: {value} is too many.",
                         {"max": 2000, "value": 100000})]


def test_meetings_past_outside_the_dates_or_without_a_time(tmp_path, fmt):
    book = base()
    book["meetings"] += [["m-2", "s-1", PAST, "Passée", "Passata"],
                         ["m-3", "s-1", "2099-05-04", "Sans heure", "Senza ora"]]
    code, problems, warned = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert problems == [("meetings", 4, "starts_at", "C", "A date without its time ({value}): "
                         "write the hour too, 2026-12-03T18:30.", {"value": "2099-05-04"})]
    assert warned == [
        ("meetings", 3, "starts_at", "C", "This meeting is in the past ({date}): the kiosk "
         "shows only meetings to come.", {"date": "2020-03-04"}),
        ("meetings", 3, "starts_at", "C", "This meeting ({date}) is outside the consultation's "
         "dates ({opens} to {closes}).", {"date": "2020-03-04", "opens": "2099-01-01",
                                          "closes": "2099-12-31"})]


# -- messages: the value found, the values allowed, every row ----------------------------------

def test_unknown_words_list_the_allowed_ones(tmp_path, fmt):
    book = base()
    book["projects"][0].append("proposed_by")
    book["projects"][1].append("mairie")
    book["questions"][2][1] = "texte"
    code, problems, _w = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert ("projects", 2, "proposed_by", "H", "Unknown proposer: {value}. Allowed: {allowed}.",
            {"value": "mairie", "allowed": "partner, citizen"}) in problems
    kinds = [p for p in problems if p[2] == "kind"]
    assert kinds == [("questions", 3, "kind", "B", "Unknown question kind: {kind}. Allowed: "
                      "{allowed}.", {"kind": "texte", "allowed": "colour, yes_no, scale, "
                      "choice, ranking, budget, open, place"})]


def test_a_duplicate_names_its_first_row_and_every_unknown_question_row_is_listed(tmp_path,
                                                                                 fmt):
    book = base()
    book["projects"].append(["p-1", "t-1", "Encore", "Ancora", "Bis.", "Bis.", 10000])
    book["options"] = [["question", "id", "label::fr", "label::it"]] + [
        ["q-choix", f"o-{i}", f"Option {i}", f"Opzione {i}"] for i in range(1, 7)]
    code, problems, _w = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert ("projects", 4, "id", "A", "Duplicate identifier: {id} (first in row {first}).",
            {"id": "p-1", "first": 2}) in problems
    unknown = [p[:4] for p in problems if p[0] == "options"]
    assert unknown == [("options", n, "question", "A") for n in range(2, 8)]


def test_an_unknown_column_lists_the_sheets_columns_and_guesses(tmp_path, fmt):
    book = base()
    book["themes"][0].append("titel::fr")
    book["themes"][1].append("x")
    code, problems, _w = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert problems == [
        ("themes", 1, "titel::fr", "D", "Unknown column: {heading}. This sheet's columns are: "
         "{columns}. A heading starting with # is a notes column.",
         {"heading": "titel::fr", "columns": "id, title::…"}),
        ("themes", 1, "titel::fr", "D", "Did you mean {name}?", {"name": "title"})]


# -- files beside the sheet: images and the map ------------------------------------------------

def picture(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (200, 120, 40)).save(path)


def test_windows_backslashes_are_named(tmp_path, fmt):
    picture(tmp_path / "images" / "bus.png")
    book = base()
    book["projects"][0].append("image")
    book["projects"][1].append("images\\bus.png")
    code, problems, _w = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert problems == [("projects", 2, "image", "H", "The path {value} uses backslashes (\\): "
                         "write it with slashes, {fixed}.",
                         {"value": "images\\bus.png", "fixed": "images/bus.png"})]


def test_a_folder_named_in_another_case_is_one_message(tmp_path, fmt):
    for name in ("bus", "bike"):
        picture(tmp_path / "Images" / f"{name}.png")
    book = base()
    book["projects"][0].append("image")
    book["projects"][1].append("images/bus.png")
    book["projects"][2].append("images/bike.png")
    code, problems, _w = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert problems == [(None, None, None, None, "The sheet names the folder {named}, the files "
                         "are in {actual}: names are case-sensitive. Rename the folder or "
                         "change the paths.", {"named": "images", "actual": "Images"})]


@pytest.mark.parametrize("content, message", [
    ({}, "The map file {path} holds no map section (areas, base map, view): make it with the "
         "map tool, or leave the cell empty."),
    ({"type": "FeatureCollection", "features": []},
     "The map file {path} is GeoJSON, not a map section: make the map section from it with "
     "python -m server map build.")])
def test_a_map_file_that_is_not_a_map_section(tmp_path, fmt, content, message):
    (tmp_path / "map").mkdir()
    (tmp_path / "map" / "map.json").write_text(json.dumps(content))
    book = base()
    book["consultation"][0].append("map")
    book["consultation"][1].append("map/map.json")
    code, problems, _w = verdict(save(book, tmp_path / "book", fmt), tmp_path)
    assert code == 1
    assert problems == [("consultation", 2, "map", "G", message, {"path": "map/map.json"})]


# -- LibreOffice itself ------------------------------------------------------------------------

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
# CI installs libreoffice-calc-nogui (tools/install-system-packages.sh) and sets this: there the
# test runs or fails, never skips.
REQUIRED = os.environ.get("PIAZZETTA_REQUIRE_SOFFICE") == "1"


@pytest.mark.process
@pytest.mark.skipif(SOFFICE is None and not REQUIRED,
                    reason="LibreOffice (Debian's libreoffice-calc-nogui) is not installed")
def test_the_same_workbook_saved_by_libreoffice_builds_the_same_bundle(tmp_path):
    """A workbook made by openpyxl, and the demo's template (every kind, images, map, drop-down
    lists), each saved by LibreOffice Calc as .ods and as .xlsx: the same bundles."""
    from app.paths import DEMO_BUNDLE_DIR
    assert SOFFICE, "PIAZZETTA_REQUIRE_SOFFICE=1 but soffice is not on PATH"
    book = base()
    book["meetings"][1][2] = datetime(2099, 5, 4, 18, 30)     # a real date-time cell
    original = save(book, tmp_path / "original", "xlsx")
    truth = base()
    truth["projects"][1][2] = True              # LibreOffice keeps it as the formula TRUE()
    truth_book = save(truth, tmp_path / "truth", "xlsx")
    demo = tmp_path / "demo.xlsx"
    shutil.copy(DEMO_BUNDLE_DIR / "consultation.xlsx", demo)
    expected = {"original": build_bundle(original),
                "demo": build_bundle(DEMO_BUNDLE_DIR / "consultation.xlsx")}
    for target in ("ods", "xlsx"):
        out = tmp_path / f"by-libreoffice-{target}"
        subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                        "--convert-to", target, "--outdir", str(out), str(original), str(demo),
                        str(truth_book)],
                       check=True, capture_output=True, timeout=300)
        assert build_bundle(out / f"original.{target}") == expected["original"], target
        assert verdict(out / f"truth.{target}", tmp_path)[:2] == \
            verdict(truth_book, tmp_path)[:2], target
        assert build_bundle(out / f"demo.{target}", DEMO_BUNDLE_DIR) == expected["demo"], target


def test_the_demo_written_as_ods_builds_the_demo_bundle(tmp_path):
    """`bundle sheet --out x.ods` then `bundle build x.ods`: the same bundle as the template,
    every kind, images and map included."""
    from app.paths import DEMO_BUNDLE_DIR
    sheet = tmp_path / "demo.ods"
    assert main_bundle(["sheet", str(DEMO_BUNDLE_DIR), "--out", str(sheet)]) == 0
    assert build_bundle(sheet, DEMO_BUNDLE_DIR) == \
        build_bundle(DEMO_BUNDLE_DIR / "consultation.xlsx")


def test_the_open_maximum_is_an_ideas_text():
    from app.kinds.open import MAX_ANSWER_CHARS
    from app.proposals import TEXT_MAX
    assert MAX_ANSWER_CHARS == TEXT_MAX


def test_the_preview_builds_a_spreadsheet_and_prints_its_warnings(tmp_path, capsys):
    """tools/preview.py given a spreadsheet: built first; warnings printed and the preview goes
    on; problems printed and nothing to preview. (The walk itself: tests/ui/test_preview.py.)"""
    import importlib.util
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("piazzetta_preview_sheet",
                                                  root / "tools" / "preview.py")
    preview = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(preview)
    warned = save(base(Notes=[["x"]]), tmp_path / "warned", "ods")
    folder = preview.built_from_sheet(warned)
    assert (folder / "bundle.json").is_file()
    assert capsys.readouterr().err.startswith("Warning: Sheet 'Notes': This sheet is not read")
    book = base()
    book["questions"][1][5] = 30000
    assert preview.built_from_sheet(save(book, tmp_path / "broken", "xlsx")) is None
    assert "Sheet 'questions', row 2, column step (F): The total (100000) is not a whole " \
           "number of steps of 30000" in capsys.readouterr().err


def test_the_bundle_parser_refuses_a_step_the_kiosk_cannot_use():
    """The same rule for a bundle written by hand (app/kinds/budget.py's step_problem)."""
    from app.bundle import parse_bundle
    from app.errors import BundleError
    data = build_bundle(Path(__file__).resolve().parents[2] / "assets" / "demo" /
                        "consultation.xlsx")
    budget = next(q for q in data["consultation"]["questions"] if q["kind"] == "budget")
    budget["step"] = budget["total"] + 1
    with pytest.raises(BundleError) as info:
        parse_bundle(data)
    assert info.value.message.startswith("The step ({step}) is larger than the total")
    assert info.value.field.endswith(".step")


def test_the_servers_help_lists_bundle(capsys):
    from server.admin import main
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "bundle" in out.split("positional arguments:")[1]


def test_an_ods_cells_comment_is_not_its_value(tmp_path):
    """LibreOffice keeps a cell's comment inside the cell (office:annotation): not read."""
    import zipfile
    plain = save(base(), tmp_path / "plain", "ods")
    with zipfile.ZipFile(plain) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["content.xml"] = parts["content.xml"].replace(
        b'<table:table-cell office:value-type="string"><text:p>Navette</text:p>',
        b'<table:table-cell office:value-type="string"><office:annotation><text:p>ask the '
        b'mayor</text:p></office:annotation><text:p>Navette</text:p>', 1)
    assert b"ask the mayor" in parts["content.xml"]
    commented = tmp_path / "commented.ods"
    with zipfile.ZipFile(commented, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), parts.pop("mimetype"))
        for name, content in parts.items():
            archive.writestr(name, content)
    assert build_bundle(commented) == build_bundle(plain)


def test_amounts_in_messages_are_written_as_the_readers_language_writes_them():
    """A city officer in Lyon reads "100 000", one in Turin "100.000" — never "100000"."""
    from app.formatting import number
    from app.i18n import gettext_for
    from server.sheets import SheetProblem
    problem = SheetProblem("questions", 2, "step", "The total ({total}) is not a whole number "
                           "of steps of {step}: choose a step that divides it.",
                           {"total": 100000, "step": 30000}, letter="F")
    for lang in ("fr", "it", "en"):
        text = problem.describe(gettext_for(lang), lang)
        assert number(100000, lang) in text and number(30000, lang) in text, text
        assert "100000" not in text, text
    assert number(100000, "it") == "100.000"
    # Without a language (the JSON answers' codes, the tests): the values as they are.
    assert "100000" in problem.describe()
