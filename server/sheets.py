"""Consultations authored as spreadsheets, in XLSForm's way: one sheet per kind of thing, one
column per language (`title::fr`, `title::it`), converted to a bundle (docs/bundle-format.md)
by a tool that names the sheet, row and column of every mistake.

    build_bundle(xlsx, images_dir=None) -> dict        the bundle data, checked whole
    write_bundle_folder(xlsx, out_dir, images_dir=None) a bundle folder (bundle.json + images)
    bundle_to_sheet(bundle_folder, out_path)            the reverse: a bundle as a spreadsheet
    main_bundle(argv)                                   `python -m server bundle build|sheet …`

Every problem is collected before anything is written: `SheetError.problems` lists them, each a
`SheetProblem` with a gettext msgid and its parameters. The file is checked by size and by its
zip directory (a zip bomb is refused there) before openpyxl opens it. The format, its limits
and the messages are in docs/sheet-format.md.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import posixpath
import re
import shutil
import sys
import tempfile
import warnings
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Callable

from app.bundle import (BUNDLE_FILE, FORMAT, FORMAT_VERSION, IMAGE_SUFFIXES,
                        MAX_IMAGE_PIXELS, MAX_INT, bundle_files, is_audio_path, load_bundle,
                        parse_bundle, read_bundle_audio, read_bundle_image)
from app.errors import N_, BundleError, DomainError, ValidationError
from app.formatting import number
from app.identifiers import is_content_id
from app.kinds import KINDS, QUESTION_KINDS
from app.kinds.scale import VALUES as SCALE_VALUES
from app.model import BALLOT_MODES, LANGUAGES, SCALE_KINDS, STATUSES, Consultation
from app.text import clean_text

from . import ods

# -- limits (docs/sheet-format.md, "Limits") -------------------------------------------------------

MAX_FILE_BYTES = 10 * 1024 * 1024        # a 500-question consultation is about 100 KB
MAX_UNPACKED_BYTES = 50 * 1024 * 1024    # the zip's declared uncompressed sizes, all entries
MAX_ZIP_ENTRIES = 1000
MAX_ROWS = 5000                          # rows 1 to 5,000 of each sheet, heading row included
MAX_COLUMNS = 64                         # columns A to BL
MAX_TEXT_CHARS = 2000                    # one cell's text, after app.text.clean_text's cleaning
MAX_PROBLEMS = 500                       # listed; past that, only counted
MAX_MAP_JSON_BYTES = 8 * 1024 * 1024     # a map section (areas' outlines) named by the sheet
_EXCEL_LAST_ROW = 1_048_576

# -- the sheets and their columns ------------------------------------------------------------------

YES_NO_WORDS = ("yes", "no")
_TRUE = {"yes", "y", "true", "1", "oui", "vrai", "sì", "si"}
_FALSE = {"no", "n", "false", "0", "non", "faux"}
_EXCEL_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                 "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!"}


@dataclass(frozen=True)
class Column:
    """One column of a sheet. A text column is one column per language: `name::fr`…"""
    name: str
    text: bool = False
    required: bool = False
    width: int = 14
    choices: tuple[str, ...] = ()        # the template offers them in a drop-down list
    refers_to: str | None = None         # the sheet whose identifiers this column names


SHEETS: dict[str, tuple[Column, ...]] = {
    "consultation": (
        Column("id", required=True, width=18), Column("version", width=9),
        Column("status", width=10, choices=STATUSES), Column("languages", required=True),
        Column("title", text=True, required=True, width=40),
        Column("description", text=True, width=50),
        Column("opens_on", width=12), Column("closes_on", width=12), Column("goal", width=8),
        Column("image", width=22), Column("default_mode", width=13, choices=BALLOT_MODES),
        Column("anonymous", width=11, choices=YES_NO_WORDS),
        Column("signup_age_bracket", width=19, choices=YES_NO_WORDS),
        Column("map", width=18),
        # Issue 31, after the others (a column's letter never moves for an older sheet).
        Column("title_easy", text=True, width=40)),
    "themes": (
        Column("id", required=True, width=18), Column("title", text=True, required=True,
                                                      width=30)),
    "projects": (
        Column("id", required=True, width=16), Column("theme", required=True, width=16,
                                                      refers_to="themes"),
        Column("title", text=True, required=True, width=34),
        Column("description", text=True, required=True, width=50),
        Column("cost", width=10), Column("image", width=22),
        Column("proposed_by", width=12, choices=("partner", "citizen")),
        # Issue 31, after the others (a column's letter never moves for an older sheet).
        Column("title_easy", text=True, width=34), Column("description_easy", text=True,
                                                           width=50)),
    "questions": (
        Column("id", required=True, width=16), Column("kind", required=True, width=10,
                                                      choices=QUESTION_KINDS),
        Column("label", text=True, required=True, width=44),
        Column("hint", text=True, width=40),
        Column("theme", width=16, refers_to="themes"), Column("projects", width=30),
        Column("multiple", width=9, choices=YES_NO_WORDS), Column("maximum", width=9),
        Column("scale_kind", width=11, choices=SCALE_KINDS), Column("total", width=10),
        Column("step", width=8), Column("currency", width=9),
        Column("label_easy", text=True, width=40), Column("audio", text=True, width=22)),
    "options": (
        Column("question", required=True, width=16, refers_to="questions"),
        Column("id", required=True, width=16),
        Column("label", text=True, required=True, width=30),
        Column("label_easy", text=True, width=30), Column("image", width=22),
        Column("audio", text=True, width=22)),
    "sites": (
        Column("id", required=True, width=24), Column("town", width=16),
        Column("name", text=True, required=True, width=34)),
    "meetings": (
        Column("id", required=True, width=20), Column("site", required=True, width=24,
                                                      refers_to="sites"),
        Column("starts_at", required=True, width=17),
        Column("title", text=True, required=True, width=36),
        Column("place", text=True, width=24)),
    "neighbourhoods": (
        Column("id", required=True, width=18), Column("name", text=True, required=True,
                                                      width=28)),
}
REQUIRED_SHEETS = ("consultation", "questions")

# Which question columns each kind uses (declared with the kind, app/kinds/); a filled cell
# outside its kind is a mistake.
KIND_COLUMNS = {column.name: tuple(name for name, kind in KINDS.items()
                                   if column.name in kind.sheet_columns)
                for column in SHEETS["questions"]
                if any(column.name in kind.sheet_columns for kind in KINDS.values())}
_KIND_OPTIONS = tuple(name for name, kind in KINDS.items() if kind.sheet_options)
_SCALE_IDS = SCALE_VALUES
# Bundle field -> sheet column, where their names differ (XLSForm's words for questions).
_COLUMN_OF_FIELD = {"prompt": "label", "help": "hint", "max_choices": "maximum",
                    "max_ranked": "maximum", "max_length": "maximum"}
_MAXIMUM_KEY = {name: field for name, kind in KINDS.items() for field in kind.bundle_fields
                if _COLUMN_OF_FIELD.get(field) == "maximum"}

# -- problems ----------------------------------------------------------------------------------

_GEOJSON_TYPES = ("FeatureCollection", "Feature", "Polygon", "MultiPolygon", "GeometryCollection")
_BAD_ID = N_("An identifier (letters a to z, digits, - _ .) is expected here: {value}.")
_PROPOSERS = ("partner", "citizen")
_UNKNOWN_THEME = N_("Unknown theme: {id}. The themes sheet has: {known}.")


def _known(ids) -> str:
    """The identifiers a reference may name, for its message: the first 12, or a dash."""
    ordered = sorted(i for i in ids if i)
    return ", ".join(ordered[:12]) + (", …" if len(ordered) > 12 else "") if ordered else "—"

_WHERE_CELL = N_("Sheet '{sheet}', row {row}, column {column} ({letter}): {message}")
_WHERE_ROW_COLUMN = N_("Sheet '{sheet}', row {row}, column {column}: {message}")
_WHERE_ROW = N_("Sheet '{sheet}', row {row}: {message}")
_WHERE_COLUMN = N_("Sheet '{sheet}', column {column}: {message}")
_WHERE_SHEET = N_("Sheet '{sheet}': {message}")


# Placeholders that hold amounts and counts: written as the reader's language writes numbers
# (100 000 in French, 100.000 in Italian) when the reader's language is known.
_AMOUNTS = ("total", "step", "cost", "spent", "max", "min", "count", "size")


def _format(template: str, params: dict, lang: str | None = None) -> str:
    if lang:
        params = {k: (number(v, lang) if k in _AMOUNTS and isinstance(v, (int, float))
                      and not isinstance(v, bool) else v) for k, v in params.items()}
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


@dataclass(frozen=True, eq=True)
class SheetProblem:
    """One mistake in a spreadsheet: where (sheet, row as the spreadsheet numbers it, column
    heading and letter; None when the problem is the whole file, sheet or row), and what (a
    gettext msgid and the values of its placeholders)."""
    sheet: str | None
    row: int | None
    column: str | None
    message: str
    params: dict = field(default_factory=dict, hash=False)
    letter: str | None = None
    warning: bool = False            # the build goes on: the message is shown, not refused

    def describe(self, gettext: Callable[[str], str] | None = None,
                 lang: str | None = None) -> str:
        """`Sheet 'questions', row 7, column label::it (D): …` in the reader's language
        (`lang` also writes its amounts as that language does)."""
        tr = gettext or (lambda s: s)
        message = self.text(tr, lang)
        if self.sheet is None:
            return message
        where = dict(sheet=self.sheet, row=self.row, column=self.column, letter=self.letter,
                     message=message)
        if self.row is not None and self.column is not None:
            template = _WHERE_CELL if self.letter else _WHERE_ROW_COLUMN
        elif self.row is not None:
            template = _WHERE_ROW
        elif self.column is not None:
            template = _WHERE_COLUMN
        else:
            template = _WHERE_SHEET
        return _format(tr(template), where)

    def text(self, gettext: Callable[[str], str] | None = None,
             lang: str | None = None) -> str:
        """What is wrong, in the reader's language, without where."""
        return _format((gettext or (lambda s: s))(self.message), self.params, lang)

    def as_dict(self, gettext: Callable[[str], str] | None = None) -> dict:
        """For JSON answers: the place, the message read and its msgid."""
        return {"sheet": self.sheet, "row": self.row, "column": self.column,
                "letter": self.letter, "message": self.describe(gettext), "code": self.message,
                "warning": self.warning}


_NOTHING_WRITTEN = N_("Problems: {count}. Nothing was written.")
_NOT_XLSX = N_("This is not a spreadsheet this tool reads: save it as an Excel workbook (.xlsx) "
               "or an OpenDocument spreadsheet (.ods).")
_UNREADABLE = N_("The spreadsheet file cannot be read: {reason}")
_NO_SAVED_VALUE = N_("The cell holds a formula with no saved value: type the value, or open the "
                     "file in a spreadsheet program and save it again.")


class SheetError(DomainError):
    """A spreadsheet that does not make a valid consultation; `problems` lists every mistake
    found. Nothing was written."""

    def __init__(self, problems: list[SheetProblem], file: str | None = None,
                 count: int | None = None, warnings: list[SheetProblem] | None = None):
        self.problems = list(problems)
        self.warnings = list(warnings or [])     # found too, shown beside the problems
        self.file = file
        self.count = len(self.problems) if count is None else count   # listed or not
        super().__init__(_NOTHING_WRITTEN, None, count=self.count)

    def describe(self, gettext: Callable[[str], str] | None = None,
                 lang: str | None = None) -> str:
        lines = [super().describe(gettext)]
        lines += [problem.describe(gettext, lang) for problem in self.problems]
        return "\n".join(lines)


class _Problems:
    """The problems found so far, each once, sorted as the sheets and rows come."""

    def __init__(self):
        self.items: list[SheetProblem] = []
        self.warnings: list[SheetProblem] = []
        self.more = 0
        self._seen: set = set()

    def add(self, sheet, row, column, message, letter=None, **params) -> None:
        self._note(self.items, sheet, row, column, message, letter, params, False)

    def warn(self, sheet, row, column, message, letter=None, **params) -> None:
        """Something the build goes on with but the author should know (docs/sheet-format.md,
        "Warnings")."""
        self._note(self.warnings, sheet, row, column, message, letter, params, True)

    def _note(self, into, sheet, row, column, message, letter, params, warning) -> None:
        key = (sheet, row, column, message, tuple(sorted((k, str(v)) for k, v in params.items())))
        if key in self._seen:
            return
        if len(into) >= MAX_PROBLEMS:
            if not warning:
                self.more += 1       # a sheet of 5,000 wrong rows: the first 500 say enough
            return
        self._seen.add(key)
        into.append(SheetProblem(sheet, row, column, message, params, letter, warning))

    @staticmethod
    def _in_order(found: list[SheetProblem]) -> list[SheetProblem]:
        order = {name: i for i, name in enumerate(SHEETS)}
        return sorted(found, key=lambda p: (
            -1 if p.sheet is None else order.get(p.sheet, len(order)), p.row or 0,
            _column_index(p.letter) if p.letter else 0))

    def sorted_warnings(self) -> list[SheetProblem]:
        return self._in_order(self.warnings)

    def sorted(self) -> list[SheetProblem]:
        found = self._in_order(self.items)
        if self.more:
            found.append(SheetProblem(None, None, None,
                                      N_("Problems not listed: {count}."),
                                      {"count": self.more}))
        return found

    def error(self, file) -> SheetError:
        return SheetError(self.sorted(), file, len(self.items) + self.more,
                          self.sorted_warnings())

    def fatal(self, message, file, **params) -> SheetError:
        self.add(None, None, None, message, **params)
        return self.error(file)


def _column_letter(index: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - 64
    return index


def _shown(value: Any, limit: int = 60) -> str:
    """A cell's value quoted in a message, cut so that a 10,000-character cell stays readable."""
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


# -- reading the file --------------------------------------------------------------------------

_BAD = object()   # a cell already reported (a spreadsheet error, a formula with no value)


@dataclass
class _Table:
    name: str
    title: str                                   # as the workbook spells it
    columns: dict[str, int] = field(default_factory=dict)    # heading -> 0-based index
    rows: list[tuple[int, list]] = field(default_factory=list)
    headings: list = field(default_factory=list)             # row 1 as read
    skipped: set[int] = field(default_factory=set)   # notes, and headings already reported
    unread: bool = False     # its headings are not in row 1 (reported once): nothing read

    def letter(self, column: str) -> str | None:
        index = self.columns.get(column)
        return None if index is None else _column_letter(index + 1)

    def value(self, row: list, column: str) -> Any:
        index = self.columns.get(column)
        return None if index is None else row[index]

    def heading_at(self, index: int) -> tuple[str, str | None]:
        """(heading, letter) of the 0-based column `index`; (letter, None) when it has none."""
        letter = _column_letter(index + 1)
        name = next((h for h, i in self.columns.items() if i == index), None)
        return (name, letter) if name else (letter, None)


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, tuple[str, bool]] | None:
    """Sheet title -> (its worksheet part in the zip, hidden), found through the package's
    relationships; None when the zip holds no XLSX workbook."""
    names = set(archive.namelist())

    def xml(name):
        return ET.fromstring(archive.read(name))

    def relationships(name):
        return {r.get("Id"): (r.get("Type") or "", r.get("Target") or "")
                for r in xml(name) if r.tag.endswith("Relationship")}

    if "_rels/.rels" not in names:
        return None
    workbook = next((target for kind, target in relationships("_rels/.rels").values()
                     if kind.endswith("/officeDocument")), None)
    if not workbook:
        return None
    workbook = workbook.lstrip("/")
    if not workbook.endswith(".xml") or workbook not in names:
        return None
    base = posixpath.dirname(workbook)
    rels_name = posixpath.join(base, "_rels", posixpath.basename(workbook) + ".rels")
    rels = relationships(rels_name) if rels_name in names else {}
    parts = {}
    for element in xml(workbook).iter():
        if element.tag.endswith("}sheet") or element.tag == "sheet":
            rel_id = next((v for k, v in element.attrib.items() if k.endswith("}id")), None)
            target = rels.get(rel_id, ("", ""))[1]
            if target:
                part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                    posixpath.join(base, target))
                parts[element.get("name") or ""] = (part, element.get("state") in (
                    "hidden", "veryHidden"))
    return parts


_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_HIDDEN_ROW = re.compile(rb'<(?:\w+:)?row\s[^>]*?hidden="(?:1|true)"[^>]*>')
_ROW_NUMBER = re.compile(rb'\sr="(\d{1,7})"')
_HIDDEN_COLUMNS = re.compile(rb'<(?:\w+:)?col\s[^>]*?hidden="(?:1|true)"[^>]*>')
_COLUMN_SPAN = re.compile(rb'\smin="(\d{1,5})"[^>]*?\smax="(\d{1,5})"|\smax="(\d{1,5})"[^>]*?'
                          rb'\smin="(\d{1,5})"')
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Za-z]{1,3}\d{1,7}'
                    rb'(?::[A-Za-z]{1,3}\d{1,7})?)"')


def _scan_part(archive: zipfile.ZipFile, part: str
               ) -> tuple[bool, list[tuple[str, int, str]], tuple[set[int], set[int]]]:
    """(holds formulas, merged ranges as (first letter, first row, range), (hidden rows,
    hidden columns 0-based)) of a worksheet part, read as bytes: cheap next to openpyxl's parse,
    which tells none of them in read-only mode."""
    formulas, merges, tail, hidden, hidden_columns = False, [], b"", set(), set()
    with archive.open(part) as stream:
        while True:
            chunk = stream.read(1 << 20)
            if not chunk:
                break
            data = tail + chunk
            formulas = formulas or bool(_FORMULA.search(data))
            for m in _MERGE.finditer(data):
                ref = m.group(1).decode("ascii").upper()
                letter, row = re.match(r"([A-Z]+)(\d+)", ref).groups()
                merges.append((letter, int(row), ref))
            for m in _HIDDEN_ROW.finditer(data):
                number = _ROW_NUMBER.search(m.group(0))
                if number:
                    hidden.add(int(number.group(1)))
            for m in _HIDDEN_COLUMNS.finditer(data):
                span = _COLUMN_SPAN.search(m.group(0))
                if span:
                    low, high, high2, low2 = span.groups()
                    first, last = int(low or low2), int(high or high2)
                    hidden_columns.update(range(first - 1, min(last, MAX_COLUMNS)))
            tail = data[-200:]
    # A match inside the 200-byte overlap is seen twice.
    return formulas, sorted(set(merges)), (hidden, hidden_columns)


_XML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        if "_x" in value:
            # How XLSX files carry characters XML cannot (ECMA-376 ST_Xstring); openpyxl leaves
            # them escaped. Decoded here so that clean_text removes the control characters.
            value = _XML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
        value = value.strip()
        return value or None
    return value


_DAMAGED = N_("The file is damaged and cannot be read: open it in the spreadsheet program and "
              "save it again (.xlsx or .ods).")


def _read_workbook(path: Path, problems: _Problems) -> dict[str, _Table]:
    """The sheets this format knows, read in full (values as their cached results), from an
    .xlsx or an .ods. File-level problems raise SheetError at once; cell-level ones are added to
    `problems`, and so are the warnings (hidden sheets and rows, sheets not read)."""
    file = str(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise problems.fatal(_UNREADABLE, file, reason=exc.strerror or str(exc)) from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise problems.fatal(N_("The file is too large: {size} MB, at most {max} MB."), file,
                                 size=round(size / 1048576, 1), max=MAX_FILE_BYTES // 1048576)
        try:
            with zipfile.ZipFile(handle) as archive:
                infos = archive.infolist()
                if len(infos) > MAX_ZIP_ENTRIES or \
                        sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
                    raise problems.fatal(
                        N_("The spreadsheet unpacks to more than {max} MB: refused."), file,
                        max=MAX_UNPACKED_BYTES // 1048576)
                if ods.is_ods(archive):
                    return _read_ods(archive, problems)
                parts = _sheet_parts(archive)
                if parts is None:
                    raise problems.fatal(_NOT_XLSX, file)    # a .docx, any zip
                _check_sheet_names(parts, problems)
                wanted = {title: part for title, (part, _hidden) in parts.items()
                          if title.strip().lower() in SHEETS}
                scans = {title: _scan_part(archive, part) for title, part in wanted.items()
                         if part in archive.namelist()}
        except zipfile.BadZipFile:
            raise problems.fatal(_NOT_XLSX, file) from None          # an .xls, a .csv…
        except (ET.ParseError, KeyError, OSError, RuntimeError, NotImplementedError,
                EOFError, zipfile.LargeZipFile, ValueError, LookupError) as exc:
            raise problems.fatal(_DAMAGED, file, reason=_shown(exc, 200)) from None
        handle.seek(0)
        tables = _load_tables(handle, file, problems, data_only=True,
                              hidden_rows={t: scan[2] for t, scan in scans.items()})
        formula_sheets = [t for t in tables.values() if scans.get(t.title, (False,))[0]]
        if formula_sheets:
            handle.seek(0)
            _check_formulas(handle, file, problems, formula_sheets)
        for table in tables.values():
            for letter, row, ref in scans.get(table.title, (False, []))[1]:
                _merged(table, problems, row, _column_index(letter) - 1, ref)
    return tables


def _merged(table: _Table, problems: _Problems, row: int, index: int, ref: str) -> None:
    heading, letter = table.heading_at(index)
    problems.add(table.name, row, heading, N_(
        "Merged cells ({range}) are not allowed: unmerge them and fill in each "
        "cell."), letter, range=ref)
    _hide_merged(table, ref)


def _read_ods(archive: zipfile.ZipFile, problems: _Problems) -> dict[str, _Table]:
    """An OpenDocument spreadsheet (LibreOffice's .ods) read into the same tables as an .xlsx
    (server/ods.py)."""
    found = ods.read_ods(archive, max_rows=MAX_ROWS, max_columns=MAX_COLUMNS,
                         wanted=lambda title: title.strip().lower() in SHEETS)
    _check_sheet_names({sheet.title: ("", sheet.hidden) for sheet in found}, problems)
    tables: dict[str, _Table] = {}
    for sheet in found:
        name = sheet.title.strip().lower()
        if name not in SHEETS or name in tables:
            continue
        table = tables[name] = _Table(name, sheet.title)
        _fill_table(table, sheet.rows, problems, (sheet.hidden_rows, sheet.hidden_columns))
        if sheet.too_many_rows:
            problems.add(name, sheet.too_many_rows, None,
                         N_("Too many rows: a sheet may use rows 1 to {max}."), max=MAX_ROWS)
        by_number = dict(table.rows)
        for number, index in sheet.formulas_unsaved:
            heading, letter = table.heading_at(index)
            problems.add(name, number, heading, _NO_SAVED_VALUE, letter)
            if number in by_number and index < len(by_number[number]):
                by_number[number][index] = _BAD
        for row, index, rows, cols in sheet.merges:
            ref = f"{_column_letter(index + 1)}{row}:{_column_letter(index + cols)}" \
                  f"{row + rows - 1}"
            _merged(table, problems, row, index, ref)
    return tables


# Sheet names people write for the known ones: XLSForm's, and the sheets' names in French and
# Italian. A sheet named so is not read: the author is told which name to give it.
_SHEET_ALIASES = {
    "settings": "consultation", "survey": "questions", "choices": "options",
    "réunions": "meetings", "reunions": "meetings", "riunioni": "meetings",
    "incontri": "meetings", "thèmes": "themes", "temi": "themes", "projets": "projects",
    "progetti": "projects", "lieux": "sites", "luoghi": "sites", "quartiers": "neighbourhoods",
    "quartieri": "neighbourhoods", "neighborhoods": "neighbourhoods", "domande": "questions",
    "opzioni": "options", "choix": "options", "scelte": "options",
}


def _check_sheet_names(parts: dict[str, tuple[str, bool]], problems: _Problems) -> None:
    """Every sheet is read or named: a hidden sheet is read (and said so); a sheet whose name is
    close to a known one is a mistake (its rows would be lost); any other is not read (and said
    so: an instructions or notes sheet)."""
    present = {title.strip().lower() for title in parts}
    seen: set[str] = set()
    for title, (_part, hidden) in parts.items():
        name = title.strip().lower()
        if name in SHEETS:
            if name in seen:
                problems.add(title, None, None, N_(
                    "A second sheet named {name}: only the first is read. Merge them."),
                    name=name)
            seen.add(name)
            if hidden:
                problems.warn(name, None, None, N_(
                    "This sheet is hidden: it is read all the same. Delete it to leave it "
                    "out."))
            continue
        guess = _SHEET_ALIASES.get(name) or next(iter(
            difflib.get_close_matches(name, list(SHEETS), n=1, cutoff=0.8)), None)
        if guess and guess not in present:
            problems.add(title, None, None, N_(
                "This sheet is not read: its name is not one the format knows. Did you mean "
                "{name}? Rename the sheet {name}."), name=guess)
        else:
            problems.warn(title, None, None, N_(
                "This sheet is not read (notes, instructions). The sheets read are: "
                "{names}."), names=", ".join(SHEETS))


def _open_openpyxl(handle, file: str, problems: _Problems, *, data_only: bool):
    from openpyxl import load_workbook
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")    # styles and extensions it skips; not the author's
            return load_workbook(handle, read_only=True, data_only=data_only, keep_links=False)
    except Exception as exc:   # openpyxl on a damaged file raises anything from KeyError up
        raise problems.fatal(_DAMAGED, file,
                             reason=_shown(f"{type(exc).__name__}: {exc}", 200)) from None


def _hide_merged(table: _Table, ref: str) -> None:
    """The cells a merge covers read as empty: already reported, not 'missing' again."""
    corners = re.findall(r"([A-Z]+)(\d+)", ref)
    (first_col, first_row), (last_col, last_row) = corners[0], corners[-1]
    columns = range(_column_index(first_col) - 1, min(_column_index(last_col), MAX_COLUMNS))
    for number, values in table.rows:
        if int(first_row) <= number <= int(last_row):
            for index in columns:
                if (number, index) != (int(first_row), _column_index(first_col) - 1):
                    values[index] = _BAD


def _load_tables(handle, file: str, problems: _Problems, *, data_only: bool,
                 hidden_rows: dict[str, tuple[set[int], set[int]]]) -> dict[str, _Table]:
    workbook = _open_openpyxl(handle, file, problems, data_only=data_only)
    tables = {}
    try:
        for title in workbook.sheetnames:
            name = title.strip().lower()
            if name not in SHEETS or name in tables:
                continue          # other sheets: _check_sheet_names named them
            sheet = workbook[title]
            if not hasattr(sheet, "iter_rows"):
                continue          # a chart sheet
            table = tables[name] = _Table(name, title)
            _fill_table(table, _xlsx_rows(sheet, table, problems), problems,
                        hidden_rows.get(title, (set(), set())))
    except SheetError:
        raise
    except Exception as exc:
        raise problems.fatal(_DAMAGED, file, reason=_shown(f"{type(exc).__name__}: {exc}",
                                                           200)) from None
    finally:
        workbook.close()
    return tables


def _xlsx_rows(sheet, table: _Table, problems: _Problems) -> list[tuple[int, list]]:
    """The filled rows of a worksheet, (number, values): at most MAX_ROWS rows (a filled row
    past them is reported) and MAX_COLUMNS + 1 columns."""
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sheet.reset_dimensions()     # a file's recorded size can be wrong; read what is there
        rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1)
        for number, values in enumerate(rows, start=1):
            values = list(values) + [None] * (MAX_COLUMNS + 1 - len(values))
            if not any(v is not None for v in values):
                if number > _EXCEL_LAST_ROW:
                    break
                continue
            if number > MAX_ROWS:
                problems.add(table.name, number, None,
                             N_("Too many rows: a sheet may use rows 1 to {max}."), max=MAX_ROWS)
                break
            found.append((number, values))
    return found


def _is_note(values: list) -> bool:
    """A row whose first filled cell starts with # is the author's note, not an item."""
    first = next((v for v in values if v is not None), None)
    return isinstance(first, str) and first.lstrip().startswith("#")


def _fill_table(table: _Table, rows: list[tuple[int, list]], problems: _Problems,
                hidden: tuple[set[int], set[int]]) -> None:
    """The table's headings (row 1) and items from the sheet's filled rows, each as read
    (str, number, bool, date…); what no row may hold reported: spreadsheet errors, cells past
    the last column, a banner above the headings."""
    too_wide = False
    hidden_rows, hidden_columns = hidden
    cleaned: list[tuple[int, list]] = []
    for number, values in rows:
        values = [_cell(v) for v in values]
        if not any(v is not None for v in values):
            continue
        if values[MAX_COLUMNS] is not None and not too_wide:
            too_wide = True
            problems.add(table.name, number, _column_letter(MAX_COLUMNS + 1), N_(
                "Too many columns: a sheet may use columns A to {last}."),
                last=_column_letter(MAX_COLUMNS))
        cleaned.append((number, values[:MAX_COLUMNS]))
    if not cleaned:
        return              # an empty sheet: the builder says so, once
    known = _known_headings(table.name)
    first_number, first = cleaned[0]
    if first_number != 1 or not any(_heading_key(v) in known for v in first):
        later = next((n for n, values in cleaned[:10]
                      if sum(_heading_key(v) in known for v in values) >= 2), None)
        if later is not None and later != 1:
            table.unread = True
            problems.add(table.name, 1, None, N_(
                "The headings must be in row 1; here they are in row {found}. Delete the rows "
                "above them (a title, a banner)."), found=later)
            return
    for number, values in cleaned:
        for index, value in enumerate(values):
            if isinstance(value, str) and value in _EXCEL_ERRORS:
                heading, letter = _where_in(table, index, number == 1)
                problems.add(table.name, number, heading,
                             N_("The cell holds a spreadsheet error: {error}."), letter,
                             error=value)
                values[index] = _BAD
        if number == 1:
            table.headings = values
            _read_headings(table, values, problems)
            for index in sorted(hidden_columns):
                if any(index < len(v) and v[index] is not None for _n, v in cleaned):
                    heading, letter = table.heading_at(index)
                    problems.warn(table.name, None, heading, N_(
                        "This column is hidden: it is read all the same. Delete the column to "
                        "leave it out."), letter)
            continue
        if _is_note(values):
            continue
        if number in hidden_rows:
            problems.warn(table.name, number, None, N_(
                "This row is hidden: it is read all the same. Delete the row to leave it "
                "out."))
        table.rows.append((number, values))


def _where_in(table: _Table, index: int, heading_row: bool = False) -> tuple:
    """(column, letter) for a problem at the 0-based column `index`: its heading once the
    headings are read, else its letter alone."""
    if heading_row:
        return _column_letter(index + 1), None
    return table.heading_at(index)


def _heading_key(value: Any) -> str | None:
    """A heading as this format names columns (`title::fr`, `id`), or None."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    match = _TEXT_HEADING.match(name)
    if match:
        base, lang = match.groups()
        return base
    return name


def _known_headings(sheet: str) -> set[str]:
    return {column.name for column in SHEETS[sheet]}


_TEXT_HEADING = re.compile(r"^([a-z_0-9]+)\s*::\s*(.+)$")


def _unknown_column(table: _Table, heading: str, letter: str, problems: _Problems) -> None:
    names = [f"{c.name}::…" if c.text else c.name for c in SHEETS[table.name]]
    guess = difflib.get_close_matches(heading.lower().split("::")[0],
                                      [c.name for c in SHEETS[table.name]], n=1, cutoff=0.7)
    problems.add(table.name, 1, heading, N_(
        "Unknown column: {heading}. This sheet's columns are: {columns}. A heading starting "
        "with # is a notes column."), letter, heading=_shown(heading), columns=", ".join(names))
    if guess:
        problems.add(table.name, 1, heading, N_("Did you mean {name}?"), letter,
                     name=guess[0])


def _read_headings(table: _Table, values: list, problems: _Problems) -> None:
    columns = SHEETS[table.name]
    plain = {c.name for c in columns if not c.text}
    texts = {c.name for c in columns if c.text}
    for index, value in enumerate(values):
        letter = _column_letter(index + 1)
        if value is None:
            continue
        table.skipped.add(index)   # until it proves to be one of the sheet's columns
        if value is _BAD:
            continue
        heading = str(value).strip()
        if heading.startswith("#"):
            continue               # a notes column
        name = heading.lower()
        match = _TEXT_HEADING.match(name)
        if match:
            base, lang = match.groups()
            # XLSForm also writes the language's name: `label::Français (fr)`.
            code = re.search(r"\((\w+)\)\s*$", lang)
            lang = (code.group(1) if code else lang).strip()
            if base not in texts:
                _unknown_column(table, heading, letter, problems)
                continue
            if lang not in LANGUAGES:
                problems.add(table.name, 1, heading, N_("Unknown language: {lang}."), letter,
                             lang=_shown(lang))
                continue
            name = f"{base}::{lang}"
        elif name in texts:
            problems.add(table.name, 1, heading, N_(
                "A text column names its language: {name}::fr, {name}::it or {name}::en."),
                letter, name=name)
            continue
        elif name not in plain:
            _unknown_column(table, heading, letter, problems)
            continue
        if name in table.columns:
            problems.add(table.name, 1, heading, N_("This column appears twice."), letter)
            continue
        table.columns[name] = index
        table.skipped.discard(index)


def _check_formulas(handle, file: str, problems: _Problems, tables: list[_Table]) -> None:
    """A formula reads as the value the spreadsheet program saved with it; openpyxl (and other
    generators) save none, and then the cell is reported rather than read as empty."""
    workbook = _open_openpyxl(handle, file, problems, data_only=False)
    try:
        for table in tables:
            by_number = dict(table.rows)
            by_number[1] = table.headings
            sheet = workbook[table.title]
            sheet.reset_dimensions()
            for number, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1):
                if number > MAX_ROWS:
                    break
                for index, cell in enumerate(cells):
                    if getattr(cell, "data_type", None) != "f":
                        continue
                    values = by_number.get(number)
                    if values is None or index >= len(values) or values[index] is None:
                        heading, letter = table.heading_at(index)
                        problems.add(table.name, number, heading, _NO_SAVED_VALUE, letter)
                        if values is not None and index < len(values):
                            values[index] = _BAD
    except Exception as exc:
        raise problems.fatal(_DAMAGED, file,
                             reason=_shown(f"{type(exc).__name__}: {exc}", 200)) from None
    finally:
        workbook.close()


# -- from the sheets to the bundle data --------------------------------------------------------

def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        # French and Italian write 240 000 (with a space or a no-break space).
        digits = re.sub(r"[ \u00a0\u202f]", "", value)
        if len(digits) <= 30 and re.fullmatch(r"[+-]?\d+", digits):
            return int(digits)
    return None


class _Cells:
    """One cell of a row read as the format says (an identifier, a number, a text in each
    language…), each mistake added to the problems at its cell; remembers where each bundle
    field came from, so that app.bundle's own verdict names a cell too."""

    def __init__(self, tables: dict[str, _Table], images_dir: Path, problems: _Problems):
        self.tables = tables
        self.images_dir = images_dir
        self.map_file: str | None = None      # the map section's JSON file the sheet names
        self.problems = problems
        self.languages: tuple[str, ...] = ()
        self.origins: dict[str, tuple[str, int]] = {}
        self.project_rows: dict[str, tuple] = {}
        self.project_items: dict[str, dict] = {}
        self.age_bracket: bool | None = None
        self._images: dict[str, tuple | None] = {}

    def problem(self, table: _Table, row: int | None, column: str | None, message: str,
                **params) -> None:
        letter = table.letter(column) if column else None
        self.problems.add(table.name, row, column, message, letter, **params)

    def warn(self, table: _Table, row: int | None, column: str | None, message: str,
             **params) -> None:
        letter = table.letter(column) if column else None
        self.problems.warn(table.name, row, column, message, letter, **params)

    def raw(self, table, row, column):
        return table.value(row[1], column)

    def converted(self, table, row, column, value) -> bool:
        """A yes/no or a date where text is expected: the spreadsheet program turned what was
        typed (VRAI, 16/4) into a value of its own; reported, not read as English or ISO."""
        if isinstance(value, bool):
            self.problem(table, row[0], column, N_(
                "The spreadsheet turned this cell into a yes/no value ({value}) where text is "
                "expected: format the cell as text and type it again."),
                value="TRUE" if value else "FALSE")
            return True
        if isinstance(value, (date, time)):
            self.problem(table, row[0], column, N_(
                "The spreadsheet turned this cell into a date ({value}) where text is expected: "
                "format the cell as text and type it again."), value=_as_text(value))
            return True
        return False

    def ident(self, table, row, column, *, required=True) -> str | None:
        value = self.raw(table, row, column)
        if value is _BAD:
            return None
        if value is None:
            if required and column in table.columns:
                self.problem(table, row[0], column, N_("This field is required."))
            return None
        if self.converted(table, row, column, value):
            return None
        text = _as_text(value)
        if not is_content_id(text):
            self.problem(table, row[0], column, _BAD_ID, value=_shown(text))
            return None
        return text

    def ident_list(self, table, row, column) -> list[str] | None:
        value = self.raw(table, row, column)
        if value is None or value is _BAD:
            return None
        items = [item for item in re.split(r"[\s,;]+", _as_text(value)) if item]
        for item in items:
            if not is_content_id(item):
                self.problem(table, row[0], column, _BAD_ID, value=_shown(item))
                return None
        return items

    def plain(self, table, row, column) -> str | None:
        value = self.raw(table, row, column)
        if value is None or value is _BAD or self.converted(table, row, column, value):
            return None
        try:
            return clean_text(_as_text(value), field=column, max_length=MAX_TEXT_CHARS).strip()
        except ValidationError as exc:
            self.problem(table, row[0], column, exc.message, **exc.params)
            return None

    def integer(self, table, row, column, *, minimum=0) -> int | None:
        value = self.raw(table, row, column)
        if value is None or value is _BAD:
            return None
        number = _as_int(value)
        if number is None or number < minimum:
            self.problem(table, row[0], column,
                         N_("A whole number of at least {min} is expected here: {value}."),
                         min=minimum, value=_shown(_as_text(value)))
            return None
        if number > MAX_INT:
            self.problem(table, row[0], column, N_("This number is too large: {value}."),
                         value=_shown(_as_text(value)))
            return None
        return number

    def boolean(self, table, row, column) -> bool | None:
        value = self.raw(table, row, column)
        if value is None or value is _BAD:
            return None
        if isinstance(value, bool):
            return value
        word = _as_text(value).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        self.problem(table, row[0], column, N_("yes or no is expected here: {value}."),
                     value=_shown(_as_text(value)))
        return None

    def keyword(self, table, row, column, allowed, message, param) -> str | None:
        value = self.raw(table, row, column)
        if value is None or value is _BAD:
            return None
        word = _as_text(value).strip().lower()
        if word not in allowed:
            self.problem(table, row[0], column, message, allowed=", ".join(allowed),
                         **{param: _shown(value)})
            return None
        return word

    def day(self, table, row, column) -> str | None:
        value = self.raw(table, row, column)
        if value is None or value is _BAD:
            return None
        if isinstance(value, datetime):
            if value.time() == time(0):
                return value.date().isoformat()
        elif isinstance(value, date):
            return value.isoformat()
        elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        self.problem(table, row[0], column, N_("A date (YYYY-MM-DD) is expected here: {value}."),
                     value=_shown(_as_text(value)))
        return None

    def moment(self, table, row, column, *, time_needed: bool = False) -> str | None:
        value = self.raw(table, row, column)
        if value is _BAD:
            return None
        if time_needed and (isinstance(value, date) and (
                not isinstance(value, datetime) or value.time() == time(0)) or isinstance(
                value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
            # A date alone would be a meeting at midnight.
            self.problem(table, row[0], column, N_(
                "A date without its time ({value}): write the hour too, 2026-12-03T18:30."),
                value=_as_text(value)[:10])
            return None
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%dT%H:%M:%S" if value.second else "%Y-%m-%dT%H:%M")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, str) and re.fullmatch(
                r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)?)?", value):
            try:
                datetime.fromisoformat(value)
                return value.replace(" ", "T", 1)    # screens split date and time at the T
            except ValueError:
                pass
        if value is None:
            if column in table.columns:
                self.problem(table, row[0], column, N_("This field is required."))
            return None
        self.problem(table, row[0], column, N_(
            "A date and time (2026-12-03T18:30) is expected here: {value}."),
            value=_shown(_as_text(value)))
        return None

    def easy_text(self, table, row, base) -> dict[str, str]:
        """An easy-read variant (any of the languages; the usual words stand in for a missing
        one), warned at its cell for each FALC rule it breaks (app/easy_read.py)."""
        from app.easy_read import falc_breaks
        found = self.text(table, row, base, required=False, complete=False)
        for lang, text in found.items():
            for message, params in falc_breaks(text):
                self.warn(table, row[0], f"{base}::{lang}", message, **params)
        return found

    def text(self, table, row, base, *, required, complete=True) -> dict[str, str]:
        found, bad = {}, False
        for lang in LANGUAGES:
            column = f"{base}::{lang}"
            value = self.raw(table, row, column)
            if value is _BAD:
                bad = True
                continue
            if value is None:
                continue
            if self.converted(table, row, column, value):
                bad = True
                continue
            if self.languages and lang not in self.languages:
                self.warn(table, None, column, N_(
                    "The consultation is not offered in {lang} (its languages: {languages}): "
                    "this column is not used."), lang=lang, languages=" ".join(self.languages))
                continue
            try:
                cleaned = clean_text(_as_text(value), field=column,
                                     max_length=MAX_TEXT_CHARS).strip()
            except ValidationError as exc:
                self.problem(table, row[0], column, exc.message, **exc.params)
                bad = True
                continue
            if cleaned:
                found[lang] = cleaned
        if (required or (found and complete)) and not bad:
            for lang in self.languages:
                column = f"{base}::{lang}"
                if lang in found or (required and column not in table.columns):
                    continue      # a missing required column is reported once, at its heading
                self.problem(table, row[0], column, N_("The translation in {lang} is missing."),
                             lang=lang)
        return found

    @staticmethod
    def set(target: dict, key: str, value: Any) -> None:
        """Only what the sheet says: an empty cell leaves the bundle's default."""
        if value is not None and value != {}:
            target[key] = value


class _FileCells(_Cells):
    """Cells that name a file beside the spreadsheet (an image): a path inside the images
    folder, written with slashes, the file checked as the bundle loader checks it."""

    def image(self, table, row, column) -> str | None:
        value = self.plain(table, row, column)
        if value is None or not self.relative_path(table, row, column, value):
            return None
        if value.startswith("/") or ".." in Path(value).parts or \
                Path(value).suffix.lower() not in IMAGE_SUFFIXES:
            self.problem(table, row[0], column, N_(
                "An image path inside the images folder (PNG, JPEG or WebP) is expected: "
                "{value}."), value=_shown(value))
            return None
        if value not in self._images:
            self._images[value] = self._check_image(value)
        found = self._images[value]
        if found is not None:
            folder = self.folder_case(value)
            if folder is not None:
                # One message for the folder, not one "missing" per image.
                self.problems.add(None, None, None, N_(
                    "The sheet names the folder {named}, the files are in {actual}: names are "
                    "case-sensitive. Rename the folder or change the paths."),
                    named=folder[0], actual=folder[1])
                return None
            self.problem(table, row[0], column, found[0], **found[1])
            return None
        return value

    def recordings(self, table, row, base) -> dict[str, str]:
        """`audio::fr`…: per language, a recording beside the spreadsheet (OGG, WAV or MP3),
        checked as the bundle loader checks it."""
        found = {}
        for lang in LANGUAGES:
            column = f"{base}::{lang}"
            value = self.plain(table, row, column)
            if value is None or not self.relative_path(table, row, column, value):
                continue
            if not is_audio_path(value):
                self.problem(table, row[0], column, N_(
                    "An audio file inside the images folder (OGG, WAV or MP3) is expected: "
                    "{value}."), value=_shown(value))
                continue
            try:
                read_bundle_audio(self.images_dir, value)
            except BundleError as exc:
                self.problem(table, row[0], column, exc.message, **exc.params)
                continue
            found[lang] = value
        return found

    def relative_path(self, table, row, column, value: str) -> bool:
        """Windows writes paths with backslashes: named, with the path to write instead."""
        if "\\" in value:
            self.problem(table, row[0], column, N_(
                "The path {value} uses backslashes (\\): write it with slashes, {fixed}."),
                value=_shown(value), fixed=_shown(value.replace("\\", "/")))
            return False
        return True

    def folder_case(self, relative: str) -> tuple[str, str] | None:
        """(folder as the sheet names it, as it is on disk) when they differ only by case."""
        parts = Path(relative).parts[:-1]
        current = self.images_dir
        for part in parts:
            if (current / part).is_dir():
                current = current / part
                continue
            try:
                match = next((p.name for p in current.iterdir()
                              if p.is_dir() and p.name.lower() == part.lower()), None)
            except OSError:
                return None
            if match is None:
                return None
            return part, match
        return None

    def _check_image(self, relative: str) -> tuple[str, dict] | None:
        """(msgid, params) of what is wrong with an image, or None: the same checks as the
        bundle loader's (app.bundle.read_bundle_image)."""
        try:
            read_bundle_image(self.images_dir, relative)
        except BundleError as exc:
            return exc.message, exc.params
        return None


class _Sheets(_FileCells):
    """A sheet's columns, rows and identifiers: the rules every sheet shares."""

    def table(self, name: str) -> _Table | None:
        """The sheet `name`, or None when it is missing, empty or unread (each said once)."""
        table = self.tables.get(name)
        if table is None and name in REQUIRED_SHEETS:
            self.problems.add(name, None, None, N_("This sheet is missing."))
        if table is None or table.unread:
            return None
        if not table.columns and not table.rows and not table.headings:
            if name in REQUIRED_SHEETS:
                self.problem(table, None, None, N_(
                    "This sheet is empty: its headings go in row 1, its items below."))
            else:
                self.warn(table, None, None, N_("This sheet is empty: it adds nothing."))
            return None
        return table

    def check_columns(self, table: _Table) -> None:
        for column in SHEETS[table.name]:
            if not column.required:
                continue
            names = [f"{column.name}::{lang}" for lang in self.languages] if column.text \
                else [column.name]
            for name in names:
                if name not in table.columns:
                    self.problem(table, None, name, N_("This column is missing."))
        # Named once per column, at its first filled cell.
        quiet = set(table.columns.values()) | table.skipped
        for number, values in table.rows:
            for index, value in enumerate(values):
                if value is not None and index not in quiet:
                    quiet.add(index)
                    self.problems.add(table.name, number, _column_letter(index + 1), N_(
                        "This cell has no column heading above it."))

    def unique(self, table: _Table, items: list[tuple[tuple, dict]]) -> None:
        first: dict[str, int] = {}
        for row, item in items:
            if item.get("id") is None:
                continue
            if item["id"] in first:
                self.problem(table, row[0], "id", N_(
                    "Duplicate identifier: {id} (first in row {first})."), id=item["id"],
                    first=first[item["id"]])
            else:
                first[item["id"]] = row[0]

    def simple_list(self, name: str, path: str, text_columns: dict[str, bool],
                    extra: Callable[[_Table, tuple, dict], None] | None = None) -> list[dict]:
        table = self.table(name)
        if table is None:
            return []
        self.check_columns(table)
        items = []
        for index, row in enumerate(table.rows):
            self.origins[f"{path}[{index}]"] = (name, row[0])
            item: dict[str, Any] = {"id": self.ident(table, row, "id")}
            if extra:
                extra(table, row, item)
            for base, required in text_columns.items():
                self.set(item, base, self.text(table, row, base, required=required))
            items.append((row, item))
        self.unique(table, items)
        return [item for _row, item in items]

    def reference(self, table, row, column, known: set, message) -> str | None:
        value = self.ident(table, row, column, required=True)
        if value is not None and value not in known:
            self.problem(table, row[0], column, message, id=value, known=_known(known))
        return value


class _ConsultationSheet(_Sheets):
    """The `consultation` sheet's one row, and the map file it names."""

    def consultation(self) -> dict:
        table = self.table("consultation")
        if table is None:
            return {}
        if len(table.rows) != 1:
            self.problem(table, None, None,
                         N_("This sheet holds exactly one row under its headings."))
            if not table.rows:
                return {}
        row = table.rows[0]
        self.origins["consultation"] = ("consultation", row[0])
        c: dict[str, Any] = {}
        c["id"] = self.ident(table, row, "id")
        langs = self.raw(table, row, "languages")
        if langs is not _BAD and "languages" in table.columns:
            codes = [w for w in re.split(r"[\s,;]+", _as_text(langs or "").lower()) if w]
            if not codes or any(code not in LANGUAGES for code in codes) or \
                    len(set(codes)) != len(codes):
                self.problem(table, row[0], "languages",
                             N_("Languages must be listed once each, among fr, it, en."))
            else:
                self.languages = tuple(codes)
            c["languages"] = codes
        self.set(c, "version", self.integer(table, row, "version", minimum=1))
        self.set(c, "status", self.keyword(table, row, "status", STATUSES,
                                           N_("Unknown status: {status}. Allowed: {allowed}."),
                                           "status"))
        self.check_columns(table)       # once the languages are known
        c["title"] = self.text(table, row, "title", required=True)
        self.set(c, "description", self.text(table, row, "description", required=False))
        self.set(c, "title_easy", self.easy_text(table, row, "title_easy"))
        opens, closes = self.day(table, row, "opens_on"), self.day(table, row, "closes_on")
        self.set(c, "opens_on", opens)
        self.set(c, "closes_on", closes)
        if opens and closes and closes < opens:
            self.problem(table, row[0], "closes_on",
                         N_("The consultation closes before it opens."))
        self.set(c, "goal", self.integer(table, row, "goal"))
        self.set(c, "image", self.image(table, row, "image"))
        self.set(c, "default_mode", self.keyword(table, row, "default_mode", BALLOT_MODES,
                                                 N_("Unknown ballot mode: {mode}. Allowed: "
                                                    "{allowed}."), "mode"))
        self.set(c, "anonymous", self.boolean(table, row, "anonymous"))
        self.age_bracket = self.boolean(table, row, "signup_age_bracket")
        self.set(c, "map", self.map_section(table, row, "map"))
        return c

    def map_section(self, table, row, column) -> dict | None:
        """The consultation's map, from the JSON file the cell names (beside the images): its
        areas and base map come from a map tool (tools/make_demo_map.py for the demo), not from
        typing; app.bundle checks the section itself."""
        value = self.plain(table, row, column)
        if not value or not self.relative_path(table, row, column, value):
            return None
        if Path(value).suffix.lower() == ".geojson":
            self.problem(table, row[0], column, N_(
                "{path} is the areas' GeoJSON: make the map from it with python -m server "
                "map build (docs/sheet-format.md, \"Your own map\"), then name its "
                "map/map.json here."), path=value)
            return None
        bad_path = N_("A map file (.json) inside the images folder is expected: {value}.")
        if Path(value).suffix.lower() != ".json" or value.startswith("/") \
                or ".." in Path(value).parts:
            self.problem(table, row[0], column, bad_path, value=_shown(value))
            return None
        path, current = self.images_dir / value, self.images_dir
        for part in Path(value).parts:
            current = current / part
            if current.is_symlink():
                self.problem(table, row[0], column, bad_path, value=_shown(value))
                return None
        if not path.is_file():
            self.problem(table, row[0], column, N_("The map file {path} is missing."), path=value)
            return None
        if path.stat().st_size > MAX_MAP_JSON_BYTES:
            self.problem(table, row[0], column, N_("The map file {path} is too large."),
                         path=value)
            return None
        try:
            section = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            self.problem(table, row[0], column, N_(
                "The map file {path} is not valid JSON (line {line}): save it again from the "
                "map tool."), path=value, line=getattr(exc, "lineno", "?"))
            return None
        geojson = isinstance(section, dict) and (section.get("type") in _GEOJSON_TYPES or (
            isinstance(section.get("areas"), dict) and section["areas"].get("type")
            in _GEOJSON_TYPES))
        if geojson:
            self.problem(table, row[0], column, N_(
                "The map file {path} is GeoJSON, not a map section: make the map section from "
                "it with python -m server map build."),
                path=value)
            return None
        if not isinstance(section, dict) or not section:
            self.problem(table, row[0], column, N_(
                "The map file {path} holds no map section (areas, base map, view): make it with "
                "the map tool, or leave the cell empty."), path=value)
            return None
        self.map_file = value
        return section


class _QuestionSheets(_Sheets):
    """The `questions` and `options` sheets; each kind reads its own columns (app/kinds/)."""

    def questions(self, projects: list[dict], theme_ids: set) -> list[dict]:
        table = self.table("questions")
        options = self.options()
        if table is None:
            return []
        self.check_columns(table)
        project_rows = self.project_items = {p["id"]: p for p in projects if p.get("id")}
        questions, kinds = [], {}
        for index, row in enumerate(table.rows):
            self.origins[f"consultation.questions[{index}]"] = ("questions", row[0])
            q = self.question(table, row, index, project_rows, theme_ids, options)
            kinds[q.get("id")] = q.get("kind")
            questions.append((row, q))
        self.unique(table, questions)
        if not questions and "questions" in self.tables:
            self.problem(table, None, None, N_("A consultation needs at least one question."))
        for qid, rows in options.items():
            if qid not in kinds:
                for opt_table, opt_row in rows:      # every row, not the first alone
                    self.problem(opt_table, opt_row[0], "question", N_(
                        "Unknown question: {id}. The options name a question of the questions "
                        "sheet."), id=qid)
            elif kinds[qid] is not None and kinds[qid] not in _KIND_OPTIONS:
                opt_table, first = rows[0]
                self.problem(opt_table, first[0], "question", N_(
                    "A question of kind {kind} takes no options."), kind=kinds[qid])
        return [q for _row, q in questions]

    def options(self) -> dict[str, list[tuple[_Table, tuple]]]:
        table = self.table("options")
        found: dict[str, list] = {}
        if table is None:
            return found
        self.check_columns(table)
        for row in table.rows:
            qid = self.ident(table, row, "question")
            if qid is not None:
                found.setdefault(qid, []).append((table, row))
        return found

    def question(self, table, row, index, projects: dict, theme_ids: set, options: dict) -> dict:
        path = f"consultation.questions[{index}]"
        q: dict[str, Any] = {"id": self.ident(table, row, "id")}
        kind = q["kind"] = self.keyword(table, row, "kind", QUESTION_KINDS,
                                        N_("Unknown question kind: {kind}. Allowed: "
                                           "{allowed}."), "kind")
        theme = self.ident(table, row, "theme", required=False)
        if theme is not None:
            if theme not in theme_ids:
                self.problem(table, row[0], "theme", _UNKNOWN_THEME, id=theme,
                             known=_known(theme_ids))
            q["theme"] = theme
        q["prompt"] = self.text(table, row, "label", required=True)
        self.set(q, "help", self.text(table, row, "hint", required=False))
        self.set(q, "prompt_easy", self.easy_text(table, row, "label_easy"))
        self.set(q, "audio", self.recordings(table, row, "audio"))
        if kind is None:
            return q
        for column, kinds in KIND_COLUMNS.items():
            value = self.raw(table, row, column)
            if value is not None and value is not _BAD and kind not in kinds:
                self.problem(table, row[0], column, N_(
                    "This column does not apply to a question of kind {kind}."), kind=kind)
        KINDS[kind].from_sheet(self, table, row, q, projects, options.get(q["id"], []), path)
        return q

    def question_projects(self, table, row, q, projects: dict, *, costs: bool = False) -> None:
        """The projects a question evaluates (all when its cell is empty); with `costs`, each
        needs a cost (budget)."""
        listed = self.ident_list(table, row, "projects")
        if listed is not None:
            q["projects"] = listed
            seen = set()
            for pid in listed:
                if pid not in projects:
                    self.problem(table, row[0], "projects", N_(
                        "Unknown project: {id}. The projects sheet has: {known}."), id=pid,
                        known=_known(projects))
                if pid in seen:
                    self.problem(table, row[0], "projects", N_("A project is listed twice."))
                seen.add(pid)
        ids = listed if listed is not None else list(projects)
        if not ids and self.raw(table, row, "projects") is not _BAD:
            self.problem(table, row[0], "projects", N_("This question needs projects."))
        if costs:
            projects_table = self.tables.get("projects")
            for pid in ids:
                project = projects.get(pid)
                where = self.project_rows.get(pid)
                if project is not None and "cost" not in project and projects_table \
                        and where and self.raw(projects_table, where, "cost") is None:
                    self.problem(projects_table, where[0], "cost", N_(
                        "A budget question needs a cost for every project: {id}."), id=pid)

    def budget_costs(self, q: dict, total: int, step: int) -> None:
        """Each project of a budget question can be funded in full: a cost above the total
        never can (refused); a cost between two steps is funded to the step below it
        (warned)."""
        table = self.tables.get("projects")
        if table is None:
            return
        for pid in q.get("projects") or list(self.project_items):
            cost = self.project_items.get(pid, {}).get("cost")
            where = self.project_rows.get(pid)
            if cost is None or where is None:
                continue
            if cost > total:
                self.problem(table, where[0], "cost", N_(
                    "This project costs {cost}, more than the total of the budget question {id} "
                    "({total}): it could never be funded."), cost=cost, id=q.get("id"),
                    total=total)
            elif cost % step:
                self.warn(table, where[0], "cost", N_(
                    "This project costs {cost}, not a whole number of steps of {step} (question "
                    "{id}): funding it in full gives {funded}."), cost=cost, step=step,
                    id=q.get("id"), funded=cost - cost % step)

    def option_items(self, rows, path, *, origins: bool = True) -> list[tuple[tuple, dict]]:
        """The options sheet's rows of one question, read: [(row, {"id", "label"})]."""
        items = []
        for i, (opt_table, opt_row) in enumerate(rows):
            if origins:
                self.origins[f"{path}.options[{i}]"] = ("options", opt_row[0])
            item = {"id": self.ident(opt_table, opt_row, "id")}
            self.set(item, "label", self.text(opt_table, opt_row, "label", required=True))
            self.set(item, "label_easy", self.easy_text(opt_table, opt_row, "label_easy"))
            self.set(item, "image", self.image(opt_table, opt_row, "image"))
            self.set(item, "audio", self.recordings(opt_table, opt_row, "audio"))
            items.append((opt_row, item))
        if rows:
            self.unique(rows[0][0], items)
        return items

    def question_options(self, table, row, q, rows, path) -> None:
        """A choice's or a ranking's options, from the options sheet."""
        options = [item for _row, item in self.option_items(rows, path)]
        if len(options) < 2:
            self.problem(table, row[0], None, N_("This question needs at least two options."))
        q["options"] = options

    def scale_labels(self, table, row, q, rows, path) -> None:
        """A scale's five labels, from the options sheet: ids 1 to 5, none or all."""
        items = self.option_items(rows, path, origins=False)
        options = [item for _row, item in items]
        if not options:
            return
        ids = sorted(o["id"] for o in options if o["id"])
        if ids != list(_SCALE_IDS):
            self.problem(table, row[0], None, N_("A scale needs five labels, from 1 to 5."))
            return
        by_id = {o["id"]: o.get("label", {}) for o in options}
        q["labels"] = [by_id[i] for i in _SCALE_IDS]
        # The parser names labels by position: point each at its option's row.
        for i, opt_id in enumerate(_SCALE_IDS):
            number = next(r[0] for r, o in items if o["id"] == opt_id)
            self.origins[f"{path}.labels[{i}]"] = ("options", number)


class _Locator:
    """The parser's verdict placed in the sheet: a bundle path at the row it came from."""

    def place(self, bundle_path: str, column: str | None, message: str, **params
              ) -> SheetProblem:
        """A problem about the bundle item at `bundle_path`, at its sheet, row and `column`."""
        if bundle_path not in self.origins:
            return SheetProblem(None, None, None, message, params)
        sheet, row = self.origins[bundle_path]
        table = self.tables.get(sheet)
        letter = table.letter(column) if table is not None and column else None
        return SheetProblem(sheet, row, column, message, params, letter)

    def locate(self, error: BundleError) -> SheetProblem:
        """app.bundle's error (`consultation.questions[3].options[1].label.it`) at its cell."""
        field_path = error.field or ""
        cuts = [m.start() for m in re.finditer(r"[.\[]", field_path)] + [len(field_path)]
        for cut in reversed(cuts):
            prefix = field_path[:cut]
            if prefix not in self.origins:
                continue
            sheet, row = self.origins[prefix]
            rest = [part for part in re.split(r"[.\[\]]+", field_path[cut:]) if part]
            if ".labels[" in prefix:
                rest = ["label"] + rest        # a scale's label: the option row's label
            column = None
            if rest:
                base = _COLUMN_OF_FIELD.get(rest[0], rest[0])
                known = {c.name: c for c in SHEETS[sheet]}.get(base)
                if known is not None and not known.text:
                    column = base
                elif known is not None and len(rest) > 1 and rest[1] in LANGUAGES:
                    column = f"{base}::{rest[1]}"
            table = self.tables.get(sheet)
            letter = table.letter(column) if table is not None and column else None
            return SheetProblem(sheet, row, column, error.message, error.params, letter)
        return SheetProblem(None, None, None, error.message, error.params)


class _MeetingSheets(_Sheets):
    """The `sites` and `meetings` sheets: a meeting is at a known site, on a day and at an
    hour, and the kiosk lists the ones to come."""

    def sites_and_meetings(self, consultation: dict) -> tuple[list[dict], list[dict]]:
        def site(table, row, item):
            self.set(item, "town", self.plain(table, row, "town"))
        sites = self.simple_list("sites", "sites", {"name": True}, site)
        site_ids = {s["id"] for s in sites if s.get("id")}

        def meeting(table, row, item):
            item["site"] = self.reference(table, row, "site", site_ids, N_(
                "Unknown site: {id}. The sites sheet has: {known}."))
            item["starts_at"] = self.moment(table, row, "starts_at", time_needed=True)
            self.meeting_dates(table, row, item["starts_at"], consultation)
        meetings = self.simple_list("meetings", "meetings", {"title": True, "place": False},
                                    meeting)
        return sites, meetings

    def meeting_dates(self, table, row, starts_at: str | None, consultation: dict) -> None:
        """A meeting already past is not shown by the kiosk; one outside the consultation's
        dates is likely a typo: both said, neither refused (a past meeting is history)."""
        if not starts_at:
            return
        day = starts_at[:10]
        if day < date.today().isoformat():
            self.warn(table, row[0], "starts_at", N_(
                "This meeting is in the past ({date}): the kiosk shows only meetings to come."),
                date=day)
        opens, closes = consultation.get("opens_on"), consultation.get("closes_on")
        if (opens and day < opens) or (closes and day > closes):
            self.warn(table, row[0], "starts_at", N_(
                "This meeting ({date}) is outside the consultation's dates ({opens} to "
                "{closes})."), date=day, opens=opens or "…", closes=closes or "…")


class _Builder(_ConsultationSheet, _QuestionSheets, _MeetingSheets, _Locator):
    """Turns the tables into bundle data, adding a problem for every mistake."""

    def build(self) -> dict:
        c = self.consultation()
        c["themes"] = self.simple_list("themes", "consultation.themes", {"title": True})
        theme_ids = {t["id"] for t in c["themes"] if t.get("id")}

        def project(table, row, item):
            if item["id"] is not None:
                self.project_rows.setdefault(item["id"], row)
            item["theme"] = self.reference(table, row, "theme", theme_ids,
                                           _UNKNOWN_THEME)
            self.set(item, "cost", self.integer(table, row, "cost", minimum=1))
            self.set(item, "image", self.image(table, row, "image"))
            self.set(item, "proposed_by", self.keyword(
                table, row, "proposed_by", _PROPOSERS,
                N_("Unknown proposer: {value}. Allowed: {allowed}."), "value"))
            self.set(item, "title_easy", self.easy_text(table, row, "title_easy"))
            self.set(item, "description_easy", self.easy_text(table, row, "description_easy"))
        projects = self.simple_list("projects", "consultation.projects",
                                    {"title": True, "description": True}, project)
        if projects:
            c["projects"] = projects
        c["questions"] = self.questions(projects, theme_ids)
        sites, meetings = self.sites_and_meetings(c)
        hoods = self.simple_list("neighbourhoods", "signup.neighbourhoods", {"name": True})
        data: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION,
                                "consultation": c}
        if sites:
            data["sites"] = sites
        if meetings:
            data["meetings"] = meetings
        if hoods or self.age_bracket is not None:
            signup: dict[str, Any] = {}
            self.set(signup, "age_bracket", self.age_bracket)
            if hoods:
                signup["neighbourhoods"] = hoods
            data["signup"] = signup
        return data


def build_bundle(xlsx_path: str | Path, images_dir: str | Path | None = None) -> dict:
    """The bundle data a spreadsheet describes, checked whole: every mistake is collected and
    raised as one SheetError; what is returned is what app.bundle.parse_bundle accepts, images
    included. Images are looked up in `images_dir` (default: the spreadsheet's own folder) under
    the path the sheet gives, which the bundle keeps."""
    return _build(xlsx_path, images_dir)[0]


def _build(xlsx_path: str | Path, images_dir: str | Path | None,
           warnings_found: list | None = None) -> tuple[dict, list[str]]:
    """(the bundle data, the files besides bundle.json it needs: images, base map, and the
    map section's own JSON file, kept so that the bundle turns back into the same sheet);
    the warnings are added to `warnings_found`."""
    data, files, _where, _consultation, found = build_located(xlsx_path, images_dir)
    if warnings_found is not None:
        warnings_found.extend(found)
    return data, files


def build_located(xlsx_path: str | Path, images_dir: str | Path | None
                  ) -> tuple[dict, list[str], Callable[..., SheetProblem], Consultation,
                             list[SheetProblem]]:
    """What _build gives, `where(bundle_path, column, message, **params)`: a SheetProblem
    at the sheet, row and column a bundle item (`consultation.questions[3]`) came from, so that
    a later verdict on the bundle (the hub's, in server.uploads) names its cell too, and the
    Consultation app.bundle parsed from the data (the caller need not parse it again), and
    the warnings (SheetProblem with `warning` set): the build went on, the author should know."""
    path = Path(xlsx_path)
    images = Path(images_dir) if images_dir is not None else path.parent
    problems = _Problems()
    tables = _read_workbook(path, problems)
    builder = _Builder(tables, images, problems)
    data = builder.build()
    if problems.items:
        raise problems.error(str(path))
    try:
        consultation = parse_bundle(data, file=str(path), folder=images)
    except BundleError as exc:
        # A rule of app.bundle these checks do not repeat: still named by sheet, row, column.
        raise SheetError([builder.locate(exc)], str(path),
                         warnings=problems.sorted_warnings()) from None
    files = bundle_files(consultation) + ([builder.map_file] if builder.map_file else [])
    return (data, sorted(set(files)), builder.place, consultation,
            problems.sorted_warnings() + _undrawable_warnings(data, builder))


def _undrawable_warnings(data: dict, builder: "_Builder") -> list[SheetProblem]:
    """Emoji and symbols the tablets' font lacks (app.glyphs): a warning at the cell, in the
    command line, the dashboard's upload and the preview alike."""
    from types import SimpleNamespace
    from app.glyphs import undrawable_texts
    found = []
    for field_path, chars in undrawable_texts(data):
        problem = builder.locate(SimpleNamespace(
            field=field_path, message=_UNDRAWABLE, params={"chars": " ".join(chars)}))
        found.append(replace(problem, warning=True))
    return found


_UNDRAWABLE = N_("The tablets cannot draw {chars} (their font has no emoji nor symbols: an "
                 "empty box shows). Write it in words.")


def _out_folder_problem(out: Path, sources: list[Path]) -> SheetError | None:
    """Replacing `out` deletes what it held: only an empty folder or a bundle, and never the
    folder of the spreadsheet or of its images (nor one above them)."""
    target = out.resolve()
    if any(target == source or target in source.parents
           for source in (p.resolve() for p in sources)) or \
            (out.exists() and (not out.is_dir() or (any(out.iterdir())
                                                    and not (out / BUNDLE_FILE).is_file()))):
        return _Problems().fatal(N_(
            "Choose another output folder: {path} holds other files than a bundle, or the "
            "spreadsheet or its images."), None, path=str(out))
    return None


def write_bundle_folder(xlsx_path: str | Path, out_dir: str | Path,
                        images_dir: str | Path | None = None,
                        warnings_found: list | None = None) -> Consultation:
    """Build the spreadsheet into the bundle folder `out_dir` (bundle.json and the images it
    names). Built into a temporary folder beside it, loaded back with app.bundle.load_bundle,
    then renamed into place: with any problem, `out_dir` is left as it was (or not created).
    An existing `out_dir` is replaced only when it is empty or holds a bundle. The warnings
    (written all the same) are added to `warnings_found`."""
    out = Path(out_dir)
    images = Path(images_dir) if images_dir is not None else Path(xlsx_path).parent
    refused = _out_folder_problem(out, [Path(xlsx_path).parent, images])
    if refused:
        raise refused
    data, files = _build(xlsx_path, images, warnings_found)
    refused = _out_folder_problem(out, [images / relative for relative in files])
    if refused:
        raise refused
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for relative in files:
            target = temp / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(images / relative, target)
        with open(temp / BUNDLE_FILE, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
            f.flush()
            os.fsync(f.fileno())
        consultation = load_bundle(temp)
        os.chmod(temp, 0o755)          # mkdtemp's 0700 would hide the bundle from the hub's user
        _swap_into_place(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return consultation


def _swap_into_place(temp: Path, out: Path) -> None:
    if not out.exists():
        os.replace(temp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.rmdir(old)
    os.replace(out, old)
    try:
        os.replace(temp, out)
    except OSError:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


# -- from a bundle to a spreadsheet ------------------------------------------------------------

_KNOWN_FIELDS = {
    "$": {"format", "format_version", "consultation", "sites", "meetings", "signup"},
    "consultation": {"id", "version", "status", "languages", "title", "description",
                     "title_easy", "opens_on",
                     "closes_on", "goal", "image", "default_mode", "anonymous", "themes",
                     "projects", "questions", "map"},
    "theme": {"id", "title"}, "option": {"id", "label", "label_easy", "image", "audio"},
    "project": {"id", "theme", "cost", "image", "proposed_by", "title", "description",
                "title_easy", "description_easy"},
    "site": {"id", "town", "name"}, "meeting": {"id", "site", "starts_at", "title", "place"},
    "signup": {"age_bracket", "neighbourhoods"}, "neighbourhood": {"id", "name"},
}
_QUESTION_FIELDS = {None: {"id", "kind", "prompt", "help", "theme", "prompt_easy", "audio"},
                    **{name: set(kind.bundle_fields) for name, kind in KINDS.items()}}


def _sheet_value(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)     # XLSX cannot hold them
        # A text that reads like an _x0041_ escape keeps its underscore escaped (ECMA-376).
        return _XML_ESCAPE.sub(lambda m: "_x005F" + m.group(0), value)
    return value


def _row(sheet: str, item: dict, **extra) -> dict[str, Any]:
    """The cells of one row: {heading: value}, texts spread over their language columns."""
    cells = {}
    for column in SHEETS[sheet]:
        value = extra.get(column.name, item.get(column.name))
        if column.text:
            for lang, text in (value or {}).items():
                cells[f"{column.name}::{lang}"] = text
        elif value is not None:
            cells[column.name] = value
    return cells


def _left_out(where: str, item: Any, known: set, left: list[str]) -> None:
    if isinstance(item, dict):
        left.extend(f"{where}.{key}" for key in item if key not in known)


def _map_file(folder: Path, section: Any) -> str | None:
    """The JSON file inside the bundle folder that holds exactly the bundle's map section (the
    map tool writes one: map/map.json for the demo), for the sheet's `map` cell; else None."""
    if not isinstance(section, dict):
        return None
    for path in sorted(folder.rglob("*.json"))[:50]:
        if path.name == BUNDLE_FILE or path.is_symlink() or \
                path.stat().st_size > MAX_MAP_JSON_BYTES:
            continue
        try:
            if json.loads(path.read_text(encoding="utf-8")) == section:
                return path.relative_to(folder).as_posix()
        except (OSError, ValueError):
            continue
    return None


def _sheet_rows(data: dict, folder: Path | None = None) -> tuple[dict[str, list[dict]],
                                                                  list[str]]:
    left: list[str] = []
    c = data["consultation"]
    _left_out("$", data, _KNOWN_FIELDS["$"], left)
    _left_out("consultation", c, _KNOWN_FIELDS["consultation"], left)
    signup = data.get("signup") if isinstance(data.get("signup"), dict) else {}
    _left_out("signup", signup, _KNOWN_FIELDS["signup"], left)
    rows: dict[str, list[dict]] = {name: [] for name in SHEETS}
    map_file = _map_file(folder, c.get("map")) if folder is not None else None
    if "map" in c and map_file is None:
        left.append("consultation.map")
    rows["consultation"].append(_row("consultation", c, languages=" ".join(c["languages"]),
                                     signup_age_bracket=signup.get("age_bracket"),
                                     map=map_file))
    for key, sheet, known in (("themes", "themes", "theme"), ("projects", "projects", "project")):
        for i, item in enumerate(c.get(key) or []):
            _left_out(f"consultation.{key}[{i}]", item, _KNOWN_FIELDS[known], left)
            rows[sheet].append(_row(sheet, item))
    for i, q in enumerate(c["questions"]):
        kind = q["kind"]
        known = _QUESTION_FIELDS[None] | _QUESTION_FIELDS[kind]
        _left_out(f"consultation.questions[{i}]", q, known, left)
        extra = {"label": q.get("prompt"), "hint": q.get("help"),
                 "label_easy": q.get("prompt_easy"),
                 "maximum": q.get(_MAXIMUM_KEY.get(kind, ""))}
        if "projects" in q:
            extra["projects"] = " ".join(q["projects"])
        rows["questions"].append(_row("questions", {k: v for k, v in q.items() if k in known},
                                      **extra))
        for j, option in enumerate(KINDS[kind].sheet_option_rows(q)):
            _left_out(f"consultation.questions[{i}].options[{j}]", option,
                      _KNOWN_FIELDS["option"], left)
            rows["options"].append(_row("options", option, question=q["id"]))
    for key, sheet, known in (("sites", "sites", "site"), ("meetings", "meetings", "meeting")):
        for i, item in enumerate(data.get(key) or []):
            _left_out(f"{key}[{i}]", item, _KNOWN_FIELDS[known], left)
            rows[sheet].append(_row(sheet, item))
    for i, item in enumerate(signup.get("neighbourhoods") or []):
        _left_out(f"signup.neighbourhoods[{i}]", item, _KNOWN_FIELDS["neighbourhood"], left)
        rows["neighbourhoods"].append(_row("neighbourhoods", item))
    return rows, left


def _headings(sheet: str) -> list[tuple[str, Column]]:
    out = []
    for column in SHEETS[sheet]:
        if column.text:
            out += [(f"{column.name}::{lang}", column) for lang in LANGUAGES]
        else:
            out.append((column.name, column))
    return out


def _write_workbook(rows: dict[str, list[dict]], out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from .tabular import xlsx_cell
    from openpyxl.worksheet.datavalidation import DataValidation
    workbook = Workbook()
    workbook.remove(workbook.active)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE8F0")
    for sheet in SHEETS:
        ws = workbook.create_sheet(sheet)
        headings = _headings(sheet)
        for index, (heading, column) in enumerate(headings, start=1):
            cell = xlsx_cell(ws, 1, index, heading)
            cell.font, cell.fill = bold, fill
            letter = _column_letter(index)
            ws.column_dimensions[letter].width = column.width
            span = f"{letter}2:{letter}{MAX_ROWS}"
            if column.choices:
                check = DataValidation(type="list", allow_blank=True,
                                       formula1='"' + ",".join(column.choices) + '"')
            elif column.refers_to:
                check = DataValidation(type="list", allow_blank=True,
                                       formula1=f"{column.refers_to}!$A$2:$A${MAX_ROWS}")
                check.showErrorMessage = False      # a typo is reported when building
            else:
                continue
            check.add(span)
            ws.add_data_validation(check)
        ws.freeze_panes = "B2"
        position = {heading: index for index, (heading, _c) in enumerate(headings, start=1)}
        for number, cells in enumerate(rows[sheet], start=2):
            for heading, value in cells.items():
                xlsx_cell(ws, number, position[heading], _sheet_value(value))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook.save(out)


def _write_ods(rows: dict[str, list[dict]], out: Path) -> None:
    """The same sheets as _write_workbook, as an OpenDocument spreadsheet (no drop-down lists:
    the words allowed are in the messages)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    sheets = {}
    for sheet in SHEETS:
        headings = [heading for heading, _column in _headings(sheet)]
        table = [headings]
        for cells in rows[sheet]:
            values = []
            for heading in headings:
                value = cells.get(heading)
                if isinstance(value, bool):
                    value = "yes" if value else "no"
                elif isinstance(value, str):
                    value = ILLEGAL_CHARACTERS_RE.sub("", value)
                values.append(value)
            table.append(values)
        sheets[sheet] = table
    ods.write_ods(out, sheets)


def bundle_to_sheet(bundle_folder: str | Path, out_path: str | Path) -> list[str]:
    """Write the bundle in `bundle_folder` (or its bundle.json) as a spreadsheet at `out_path`,
    the reverse of build_bundle. The bundle is loaded and checked first (BundleError when not
    valid); the file is written whole or not at all, as an .ods when `out_path` ends so, else
    an .xlsx. Returns the bundle fields the spreadsheet
    has no place for (left out), usually none. Images stay where they are: build the sheet back
    with `images_dir` set to the bundle folder."""
    path = Path(bundle_folder)
    folder, file = (path.parent, path) if path.suffix == ".json" else (path, path / BUNDLE_FILE)
    load_bundle(folder)
    data = json.loads(file.read_text(encoding="utf-8"))
    rows, left = _sheet_rows(data, folder)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(handle)
    try:
        if out.suffix.lower() == ".ods":
            _write_ods(rows, Path(temp))
        else:
            _write_workbook(rows, Path(temp))
        os.chmod(temp, 0o644)          # mkstemp's 0600 is for the file being written
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return left


# -- command line --------------------------------------------------------------------------------

def _default_language() -> str:
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        code = os.environ.get(variable, "")[:2].lower()
        if code in LANGUAGES:
            return code
    return "en"


def _cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m server bundle",
        description="Consultations authored as spreadsheets (docs/sheet-format.md).")
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="build a bundle folder from a spreadsheet")
    build.add_argument("sheet", type=Path, help="the spreadsheet (.xlsx or .ods)")
    build.add_argument("--images", type=Path, default=None,
                       help="where the sheet's images are (default: the spreadsheet's folder)")
    build.add_argument("--out", type=Path, required=True, help="the bundle folder to write")
    build.add_argument("--lang", choices=LANGUAGES, default=_default_language(),
                       help="language of the messages")
    sheet = sub.add_parser("sheet", help="write a bundle folder as a spreadsheet")
    sheet.add_argument("folder", type=Path, help="the bundle folder")
    sheet.add_argument("--out", type=Path, required=True,
                       help="the spreadsheet to write (.xlsx, or .ods)")
    sheet.add_argument("--lang", choices=LANGUAGES, default=_default_language(),
                       help="language of the messages")
    return parser


def _print_warnings(found: list[SheetProblem], _, built: bool = True,
                    lang: str | None = None) -> None:
    """Warnings on stderr, each marked; when the build went on (exit code 0), their count and
    that the bundle is built all the same — never beside problems, where nothing is written."""
    for problem in found:
        print(_format(_("Warning: {message}"), dict(message=problem.describe(_, lang))),
              file=sys.stderr)
    if found and built:
        print(_format(_("Warnings: {count}. Read them: the bundle is built all the same."),
                      dict(count=len(found))), file=sys.stderr)


def main_bundle(argv: list[str] | None = None) -> int:
    """`python -m server bundle build SHEET.xlsx|.ods [--images DIR] --out FOLDER [--lang …]`
    and `python -m server bundle sheet FOLDER --out SHEET.xlsx`. Returns the exit code: 0 done
    (warnings, if any, printed on stderr, each on its own line starting "Warning:"), 1 problems
    (each printed on its own line, in --lang; nothing written), 2 bad usage."""
    from app.i18n import gettext_for
    try:
        args = _cli().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    _ = gettext_for(args.lang)
    found: list[SheetProblem] = []
    try:
        if args.action == "build":
            consultation = write_bundle_folder(args.sheet, args.out, args.images, found)
            _print_warnings(found, _, lang=args.lang)
            print(_format(_("Written: {path} ({id}, version {version})."),
                          dict(path=args.out, id=consultation.id, version=consultation.version)))
        else:
            left = bundle_to_sheet(args.folder, args.out)
            print(_format(_("Written: {path}."), dict(path=args.out)))
            if left:
                print(_format(_("Left out (the spreadsheet has no place for it): {fields}"),
                              dict(fields=", ".join(left))))
            folder = args.folder.parent if args.folder.suffix == ".json" else args.folder
            if folder.resolve() != args.out.resolve().parent:
                print(_format(_("Its images stay in {folder}: build it with --images {folder}."),
                              dict(folder=folder)))
    except SheetError as exc:
        # What stops the build first, then the warnings, then "nothing written".
        for problem in exc.problems:
            print(problem.describe(_, args.lang), file=sys.stderr)
        _print_warnings(exc.warnings, _, built=False, lang=args.lang)
        print(_format(_(_NOTHING_WRITTEN), dict(count=exc.count)), file=sys.stderr)
        return 1
    except DomainError as exc:
        print(exc.describe(_), file=sys.stderr)
        print(_format(_(_NOTHING_WRITTEN), dict(count=1)), file=sys.stderr)
        return 1
    except OSError as exc:
        print(_format(_("The file cannot be written: {reason}"),
                      dict(reason=f"{exc.filename or ''} {exc.strerror or exc}".strip())),
              file=sys.stderr)
        return 1
    return 0
