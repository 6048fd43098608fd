"""Hostile spreadsheets, .ods mostly (server/ods.py): what a content.xml of a few kilobytes
could make the hub hold or do, refused as a damaged file or bounded, never expanded; an
encoding Python does not know, in an .ods or in an .xlsx's own parts."""
import zipfile

import pytest

from server import ods
from server.sheets import MAX_ROWS, SheetError, build_bundle

T = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
O = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
X = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
HEAD = (f'<office:document-content xmlns:office="{O}" xmlns:table="{T}" xmlns:text="{X}">'
        '<office:body><office:spreadsheet>')
TAIL = "</office:spreadsheet></office:body></office:document-content>"
CELL = '<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>'
CONSULTATION = ('<table:table table:name="consultation">'
                '<table:table-row>' + "".join(CELL.format(h) for h in
                                              ("id", "languages", "title::fr", "title::it"))
                + '</table:table-row><table:table-row>' + "".join(
                    CELL.format(v) for v in ("c-1", "fr it", "Titre", "Titolo"))
                + "</table:table-row></table:table>")
QUESTIONS_HEAD = ('<table:table table:name="questions"><table:table-row>' + "".join(
    CELL.format(h) for h in ("id", "kind", "label::fr", "label::it")) + "</table:table-row>")


def question(n: int) -> str:
    return "<table:table-row>" + "".join(
        CELL.format(v) for v in (f"q-{n}", "yes_no", "Oui ?", "Sì?")) + "</table:table-row>"


def make(path, body: str, prolog: str = ""):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ods.MIMETYPE,
                         compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", prolog + HEAD + body + TAIL)
    return path


def read(path, **limits):
    with zipfile.ZipFile(path) as archive:
        return ods.read_ods(archive, max_rows=limits.get("max_rows", MAX_ROWS),
                            max_columns=limits.get("max_columns", 64))


def refused_as_damaged(path):
    with pytest.raises(SheetError) as info:
        build_bundle(path)
    messages = [p.message for p in info.value.problems]
    assert any("damaged" in m for m in messages), messages


def test_the_plain_workbook_still_builds(tmp_path):
    bundle = build_bundle(make(tmp_path / "ok.ods", CONSULTATION + QUESTIONS_HEAD + question(1)
                               + "</table:table>"))
    assert [q["id"] for q in bundle["consultation"]["questions"]] == ["q-1"]


def test_spaces_written_as_a_count_are_not_expanded_past_the_budget(tmp_path):
    # 5 elements asking for 400 million spaces each: 2 GB of text from a file of 1 KB
    cell = '<table:table-cell><text:p>' + '<text:s text:c="400000000"/>' * 5 + "</text:p>" \
           "</table:table-cell>"
    path = make(tmp_path / "spaces.ods", CONSULTATION + QUESTIONS_HEAD
                + f"<table:table-row>{cell}</table:table-row></table:table>")
    with pytest.raises(ValueError):
        read(path)
    refused_as_damaged(path)
    # a real run of spaces still reads
    few = make(tmp_path / "few.ods", '<table:table table:name="questions"><table:table-row>'
               '<table:table-cell><text:p>a<text:s text:c="3"/>b</text:p></table:table-cell>'
               "</table:table-row></table:table>")
    assert read(few)[0].rows[0][1][0] == "a   b"


def test_a_negative_repeat_does_not_lift_the_row_limit(tmp_path):
    rows = "".join(question(n) for n in range(MAX_ROWS + 10))
    path = make(tmp_path / "negative.ods", CONSULTATION + QUESTIONS_HEAD
                + '<table:table-row table:number-rows-repeated="-1000000000"/>' + rows
                + "</table:table>")
    sheet = [s for s in read(path) if s.title == "questions"][0]
    numbers = [number for number, _ in sheet.rows]
    assert min(numbers) >= 1 and max(numbers) <= MAX_ROWS
    assert len(numbers) <= MAX_ROWS and sheet.too_many_rows == MAX_ROWS + 1


def test_cells_repeated_zero_times_do_not_pile_up_merges(tmp_path):
    cells = '<table:table-cell table:number-columns-repeated="0" ' \
            'table:number-columns-spanned="2"/>' * 5000
    path = make(tmp_path / "zero.ods", f'<table:table table:name="questions"><table:table-row>'
                f"{cells}</table:table-row></table:table>")
    sheet = read(path)[0]
    assert len(sheet.merges) <= 65


def test_rows_past_the_limit_note_no_merge_nor_formula(tmp_path):
    empty_merged = '<table:table-row><table:table-cell table:number-columns-spanned="2"/>' \
                   '<table:table-cell table:formula="of:=1"/></table:table-row>'
    path = make(tmp_path / "past.ods", '<table:table table:name="questions">'
                + empty_merged * 30 + "</table:table>")
    sheet = read(path, max_rows=10)[0]
    assert {row for row, *_ in sheet.merges} == set(range(1, 11))
    assert {row for row, _ in sheet.formulas_unsaved} == set(range(1, 11))
    assert sheet.too_many_rows == 11


def test_elements_read_are_let_go(tmp_path, monkeypatch):
    # more elements than may be held at once, one after the other: read
    monkeypatch.setattr(ods, "MAX_HELD", 500)
    path = make(tmp_path / "flat.ods", '<table:table table:name="other">'
                + "<table:table-row/>" * 3000 + "<x/>" * 3000 + "</table:table>"
                + CONSULTATION + QUESTIONS_HEAD + question(1) + "</table:table>")
    assert [s.title for s in read(path)] == ["other", "consultation", "questions"]
    # as many held at once (nested, or in one row): refused
    deep = make(tmp_path / "deep.ods", "<x>" * 600 + "</x>" * 600)
    with pytest.raises(ValueError):
        read(deep)
    wide = make(tmp_path / "wide.ods", '<table:table table:name="questions"><table:table-row>'
                + "<table:covered-table-cell/>" * 600 + "</table:table-row></table:table>")
    with pytest.raises(ValueError):
        read(wide)


def test_too_many_elements_in_all_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(ods, "MAX_ELEMENTS", 2000)
    path = make(tmp_path / "many.ods", "<x/>" * 3000)
    with pytest.raises(ValueError):
        read(path)
    refused_as_damaged(path)


@pytest.mark.parametrize("prolog", [
    # billion laughs
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcdefgh", "bcdefghi"))
    + "]>",
    # an external entity
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY i SYSTEM "file:///etc/passwd">]>',
])
def test_entities_are_refused(tmp_path, prolog):
    path = make(tmp_path / "entities.ods", '<table:table table:name="questions"><table:table-row>'
                "<table:table-cell><text:p>&i;</text:p></table:table-cell></table:table-row>"
                "</table:table>", prolog)
    refused_as_damaged(path)


def test_a_deeply_nested_cell_is_a_damaged_file(tmp_path):
    path = make(tmp_path / "nested.ods", QUESTIONS_HEAD + "<table:table-row><table:table-cell>"
                "<text:p>" + "<text:span>" * 5000 + "a" + "</text:span>" * 5000 + "</text:p>"
                "</table:table-cell></table:table-row></table:table>")
    refused_as_damaged(path)


@pytest.mark.parametrize("encoding", ["x-nope", "UTF-7", "UTF-16"])
def test_a_declared_encoding_is_read_or_the_file_is_damaged(tmp_path, encoding):
    # an unknown one raised LookupError through the upload (a 500), not a message
    content = (f'<?xml version="1.0" encoding="{encoding}"?>' + HEAD + CONSULTATION
               + QUESTIONS_HEAD + question(1) + "</table:table>" + TAIL)
    path = tmp_path / "encoded.ods"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ods.MIMETYPE)
        archive.writestr("content.xml", content.encode("utf-16" if encoding == "UTF-16"
                                                       else "ascii", "xmlcharrefreplace"))
    if encoding == "UTF-16":
        assert build_bundle(path)["consultation"]["id"] == "c-1"
    else:
        refused_as_damaged(path)


@pytest.mark.parametrize("part", ["xl/workbook.xml", "xl/_rels/workbook.xml.rels"])
def test_an_xlsx_part_declaring_an_unknown_encoding_is_a_damaged_file(tmp_path, part):
    # the same LookupError from the .xlsx's own parts (sheets._sheet_parts)
    from openpyxl import Workbook
    book = Workbook()
    book.active.title = "consultation"
    book.save(tmp_path / "a.xlsx")
    with zipfile.ZipFile(tmp_path / "a.xlsx") as source, \
            zipfile.ZipFile(tmp_path / "b.xlsx", "w") as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == part:
                data = b'<?xml version="1.0" encoding="x-nope"?>' + data.split(b"?>", 1)[-1]
            out.writestr(info, data)
    refused_as_damaged(tmp_path / "b.xlsx")
