"""Issue 27: the dashboard's upload accepts a city's GeoJSON in the .zip (map/*.geojson, no
map/map.json): the map is drawn at upload as `python -m server map build` draws it, bounded,
and its credit comes from the file. A real SQLite hub in a temporary folder."""
from __future__ import annotations

import json

import pytest

from server import uploads
from server.hub import Hub
from server.settings import Settings
from tests.unit.test_mapbuild import FRENCH, FRENCH_CREDIT, geo_dir
from tests.unit.test_uploads import demo_files, zip_of

# The French communes of the demo's perimeter, by INSEE code.
ROYA = ("06083", "06104", "06038", "06136", "06023", "06129", "06062", "06163", "06162")


def communes(credit: str | None = FRENCH_CREDIT) -> bytes:
    data = json.loads((geo_dir() / FRENCH).read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["code"] in ROYA]
    if credit:
        data["attribution"] = credit
    return json.dumps(data).encode()


def city_zip(geojson: bytes) -> bytes:
    files = {name: data for name, data in demo_files().items() if not name.startswith("map/")}
    files["map/communes.geojson"] = geojson
    return zip_of(files)


@pytest.fixture
def hub(tmp_path):
    hub = Hub(Settings.from_env(data_dir=tmp_path / "hub").with_secrets())
    yield hub
    hub.close()


@pytest.mark.slow       # draws a city's map (Pillow tiles): out of the fast tier, in `make test`
def test_a_zip_with_geojson_gets_its_map_drawn_and_imported(hub):
    checked = uploads.check(hub, city_zip(communes()))
    assert checked.problems == []
    section = checked.bundle["consultation"]["map"]
    names = {a["id"]: a["name"] for a in section["areas"]}
    assert sorted(names) == sorted(ROYA)
    assert names["06023"] == {"fr": "Breil-sur-Roya", "it": "Breil-sur-Roya",
                              "en": "Breil-sur-Roya"}
    assert section["attribution"] == {"fr": FRENCH_CREDIT, "it": FRENCH_CREDIT,
                                      "en": FRENCH_CREDIT}
    assert set(checked.files) >= {"map/map.json", "map/basemap.mbtiles"}
    assert checked.files["map/basemap.mbtiles"].startswith(b"SQLite format 3\x00")
    assert "map/communes.geojson" not in checked.summary.get("unused", [])
    token = uploads.keep(hub, "a" * 64, checked)
    assert uploads.import_kept(hub, "a" * 64, token) == ("alpimed-2030", 1, True)


def test_geojson_without_a_credit_is_refused_naming_the_file(hub):
    checked = uploads.check(hub, city_zip(communes(credit=None)))
    assert checked.count == 1 and checked.bundle is None
    problem = checked.problems[0]
    assert problem.describe(lambda s: s) == (
        "The GeoJSON file map/communes.geojson gives no attribution: add to it an "
        "\"attribution\" member with the credit its licence requires.")


def test_geojson_in_another_coordinate_system_is_refused(hub):
    data = json.loads(communes())
    for feature in data["features"]:
        feature["geometry"]["coordinates"][0][0][0] = 1046000.0
    checked = uploads.check(hub, city_zip(json.dumps(data).encode()))
    assert checked.count == 1
    assert "another coordinate system" in checked.problems[0].describe(lambda s: s)
