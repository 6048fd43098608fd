"""`python -m server map build` (issue 27): a city's own map from its GeoJSON, drawn offline.
On the two reference files of ../shared/data/geo (not the demo's prepared map): the bundle
builds with the map written, the tiles are PNG at the zoom levels the section says; and each
refusal names the file and what to do."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.bundle import load_bundle
from app.paths import DEMO_BUNDLE_DIR
from server.admin import main
from server.mapbuild import MAX_GEOJSON_BYTES, TILES_FILE

ROOT = Path(__file__).resolve().parents[2]
FRENCH = "communes-06-alpes-maritimes.geojson"
ITALIAN = "comuni-imperia.geojson"
FRENCH_CREDIT = "Source : IGN – Admin Express COG 2018 ; INSEE – COG 2018"
ITALIAN_CREDIT = ("Confini amministrativi © ISTAT (CC BY); elaborazione Openpolis, "
                  "openpolis/geojson-italy (CC BY 4.0)")


def geo_dir() -> Path:
    """The two reference files: tests/data/geo (byte-for-byte copies of ../shared/data/geo,
    with their README's sources, licences and attributions), or PIAZZETTA_GEO_DIR."""
    given = os.environ.get("PIAZZETTA_GEO_DIR")
    return Path(given) if given else ROOT / "tests" / "data" / "geo"


def build_city_map(out: Path, *extra: str) -> tuple[int, str, str]:
    """map build on both reference files, zooms up to 11 (the test's own speed)."""
    geo = geo_dir()
    argv = ["map", "build", str(geo / FRENCH), str(geo / ITALIAN), "--name", "nom,name",
            "--id", "code,com_istat_code", "--out", str(out), "--max-zoom", "11",
            "--attribution", f"{FRENCH_CREDIT}. {ITALIAN_CREDIT}.", "--lang", "en", *extra]
    return argv


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def bundle_with_map(folder: Path, map_dir: Path) -> Path:
    """The demo bundle with the built map instead of its own (its place question needs one)."""
    shutil.copytree(DEMO_BUNDLE_DIR, folder, ignore=shutil.ignore_patterns("map", "*.xlsx"))
    shutil.copytree(map_dir, folder / "map")
    data = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    data["consultation"]["map"] = json.loads((folder / "map" / "map.json").read_text("utf-8"))
    (folder / "bundle.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.mark.slow       # 229 communes' map drawn: out of the fast tier, in `make test`
def test_the_two_reference_files_make_a_map_the_bundle_takes(tmp_path, capsys):
    code, out, err = run(build_city_map(tmp_path / "map"), capsys)
    assert code == 0, err
    assert "229 areas" in out and "zooms 9 to 11" in out
    section = json.loads((tmp_path / "map" / "map.json").read_text(encoding="utf-8"))
    assert section["tiles"] == f"map/{TILES_FILE}"
    assert (section["min_zoom"], section["max_zoom"]) == (9, 11)
    ids = [a["id"] for a in section["areas"]]
    assert len(ids) == 229 == len(set(ids))
    assert ids[0] == "06001" and "008065" in ids            # INSEE and ISTAT codes
    ventimiglia = section["areas"][ids.index("008065")]
    assert ventimiglia["name"] == {"fr": "Ventimiglia", "it": "Ventimiglia",
                                   "en": "Ventimiglia"}
    assert section["attribution"]["it"].startswith(FRENCH_CREDIT)
    with sqlite3.connect(tmp_path / "map" / TILES_FILE) as conn:
        zooms = [z for (z,) in conn.execute(
            "SELECT DISTINCT zoom_level FROM tiles ORDER BY zoom_level")]
        first = conn.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()[0]
    assert zooms == [9, 10, 11] and first.startswith(b"\x89PNG")

    consultation = load_bundle(bundle_with_map(tmp_path / "bundle", tmp_path / "map"))
    perimeter = consultation.map
    assert perimeter.area_of(7.50312, 43.77871) == "06083"      # Menton
    assert perimeter.area_of(7.6128, 43.7920) == "008065"        # Ventimiglia
    assert perimeter.area_of(7.3, 43.6) is None                  # the sea off Nice


def test_the_same_inputs_give_the_same_bytes(tmp_path, capsys):
    assert run(build_city_map(tmp_path / "a" / "map", "--max-zoom", "9"), capsys)[0] == 0
    assert run(build_city_map(tmp_path / "b" / "map", "--max-zoom", "9"), capsys)[0] == 0
    for name in (TILES_FILE, "map.json"):
        assert (tmp_path / "a" / "map" / name).read_bytes() == \
            (tmp_path / "b" / "map" / name).read_bytes()


def test_the_credit_is_taken_from_the_file_or_asked_for(tmp_path, capsys):
    geo = geo_dir()
    argv = ["map", "build", str(geo / FRENCH), "--name", "nom", "--out", str(tmp_path / "map"),
            "--lang", "en"]
    code, _out, err = run(argv, capsys)
    assert code == 1
    assert err.strip() == (f"{FRENCH}: The file gives no attribution: give the credit its "
                           "licence requires with --attribution \"…\".")
    assert not (tmp_path / "map").exists()
    credited = json.loads((geo / FRENCH).read_text(encoding="utf-8"))
    credited["attribution"] = {"fr": FRENCH_CREDIT, "it": FRENCH_CREDIT + " (it)"}
    (tmp_path / "credited.geojson").write_text(json.dumps(credited), encoding="utf-8")
    argv[2] = str(tmp_path / "credited.geojson")
    code, _out, err = run(argv + ["--max-zoom", "9"], capsys)
    assert code == 0, err
    section = json.loads((tmp_path / "map" / "map.json").read_text(encoding="utf-8"))
    assert section["attribution"] == {"fr": FRENCH_CREDIT, "it": FRENCH_CREDIT + " (it)",
                                      "en": FRENCH_CREDIT}


def square(lon, lat, size=0.01):
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size],
            [lon, lat]]


def feature(geometry, **props):
    return {"type": "Feature", "properties": props, "geometry": geometry}


REFUSALS = [
    ("not-json.geojson", "<html>", "This is not a GeoJSON file (JSON text): a "
     "FeatureCollection is expected."),
    ("list.geojson", json.dumps([1, 2]), "This is not a GeoJSON file (JSON text): a "
     "FeatureCollection is expected."),
    ("points.geojson", json.dumps({"type": "FeatureCollection", "features": [
        feature({"type": "Point", "coordinates": [7.5, 43.8]}, name="A")]}),
     "The file holds no Polygon or MultiPolygon features: the areas are polygons."),
    ("lambert.geojson", json.dumps({"type": "FeatureCollection", "features": [
        feature({"type": "Polygon", "coordinates": [square(1046000, 6300000, 500)]},
                name="A")]}),
     "Feature 1 has the position 1046000, 6300000, which is not a longitude and latitude in "
     "degrees: the file is in another coordinate system. Export it again in WGS84 "
     "(EPSG:4326)."),
    ("crs.geojson", json.dumps({"type": "FeatureCollection", "crs": {
        "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}, "features": [
        feature({"type": "Polygon", "coordinates": [square(7.5, 43.8)]}, name="A")]}),
     "The coordinates are in urn:ogc:def:crs:EPSG::2154: longitude and latitude in WGS84 "
     "(EPSG:4326) are expected. Export the file again in EPSG:4326."),
    ("unnamed.geojson", json.dumps({"type": "FeatureCollection", "features": [
        feature({"type": "Polygon", "coordinates": [square(7.5, 43.8)]}, nom="A", code="1")]}),
     "Feature 1 has none of the properties name: name the property that holds the areas' "
     "names with --name (found: code, nom)."),
]


@pytest.mark.parametrize("name,text,message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_file_it_cannot_use_is_refused_with_the_reason(tmp_path, capsys, name, text,
                                                         message):
    (tmp_path / name).write_text(text, encoding="utf-8")
    code, _out, err = run(["map", "build", str(tmp_path / name), "--name", "name",
                           "--attribution", "Ville", "--out", str(tmp_path / "map"),
                           "--lang", "en"], capsys)
    assert (code, err.strip()) == (1, f"{name}: {message}")
    assert not (tmp_path / "map").exists()


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, capsys):
    huge = tmp_path / "huge.geojson"
    with huge.open("wb") as f:
        f.truncate(MAX_GEOJSON_BYTES + 1)
    code, _out, err = run(["map", "build", str(huge), "--name", "name", "--attribution", "V",
                           "--out", str(tmp_path / "map"), "--lang", "en"], capsys)
    assert (code, err.strip()) == (1, "huge.geojson: The file is too large: at most 8 MB.")


def test_too_many_tiles_for_the_zoom_asked_is_refused(tmp_path, capsys):
    code, _out, err = run(build_city_map(tmp_path / "map", "--max-zoom", "16"), capsys)
    assert code == 1
    assert err.strip().startswith(f"{FRENCH}: Zoom levels 9 to 16 need ")
    assert err.strip().endswith("tiles: at most 3,000. Choose a lower --max-zoom.")


def test_the_messages_are_in_the_officers_language(tmp_path, capsys):
    (tmp_path / "a.geojson").write_text("{}", encoding="utf-8")
    code, _out, err = run(["map", "build", str(tmp_path / "a.geojson"), "--name", "nom",
                           "--attribution", "V", "--lang", "fr"], capsys)
    assert code == 1 and "FeatureCollection" in err and "fichier" in err


def test_python_m_server_help_lists_map_build():
    done = subprocess.run([sys.executable, "-m", "server", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "map build AREAS.geojson" in done.stdout
    done = subprocess.run([sys.executable, "-m", "server", "map", "build", "--help"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--attribution" in done.stdout


def test_a_map_cell_naming_geojson_says_to_run_map_build(tmp_path, capsys):
    """Issue 27: the city's GeoJSON named in the `map` cell (as .geojson, or as .json) is not
    "A list is expected here.": the message says how to make the map from it."""
    from tests.unit.test_sheets import make_workbook, minimal, problems_of
    collection = {"type": "FeatureCollection", "features": []}
    for name in ("communes.geojson", "communes.json"):
        (tmp_path / name).write_text(json.dumps(collection), encoding="utf-8")
        rows = minimal()
        rows["consultation"][0].append("map")
        rows["consultation"][1].append(name)
        [problem] = problems_of(make_workbook(tmp_path / "s.xlsx", rows))
        assert (problem.sheet, problem.column) == ("consultation", "map")
        assert "GeoJSON" in problem.message and "python -m server map build" in problem.message
        assert problem.params == {"path": name}
