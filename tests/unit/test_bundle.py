"""Bundles: the demo loads; every kind of bad bundle is refused naming the file and field."""
import copy
import json
import shutil

import pytest

from app.bundle import (MAX_IMAGE_BYTES, check_image_bytes, load_bundle, parse_bundle,
                        read_bundle_image)
from app.errors import BundleError
from app.paths import DEMO_BUNDLE_DIR
from app.store import Store

DEMO = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text(encoding="utf-8"))


def test_demo_bundle(demo):
    assert demo.id == "alpimed-2030"
    assert demo.languages == ("fr", "it", "en")
    assert [t.id for t in demo.themes] == ["infrastructure", "economy", "health", "services"]
    assert len(demo.projects) == 6 and all(p.image for p in demo.projects)
    assert demo.title["it"].startswith("Alpi")


@pytest.fixture
def bundle_dir(tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    return folder


def write(folder, data):
    (folder / "bundle.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def refused(folder, data, field_start):
    write(folder, data)
    with pytest.raises(BundleError) as info:
        load_bundle(folder)
    error = info.value
    assert error.file.endswith("bundle.json")
    assert error.field is not None and error.field.startswith(field_start), error.field
    assert str(folder) in str(error)
    return error


def mutate(fn):
    data = copy.deepcopy(DEMO)
    fn(data)
    return data


def test_unknown_question_kind(bundle_dir):
    error = refused(bundle_dir, mutate(lambda d: d["consultation"]["questions"][1].update(
        kind="lottery")), "consultation.questions[1].kind")
    assert error.params["kind"] == "lottery"


def test_missing_translation_for_an_offered_language(bundle_dir):
    data = mutate(lambda d: d["consultation"]["projects"][2]["title"].pop("it"))
    error = refused(bundle_dir, data, "consultation.projects[2].title.it")
    assert error.params["lang"] == "it"


def test_duplicate_ids(bundle_dir):
    def dup(d):
        d["consultation"]["projects"][1]["id"] = d["consultation"]["projects"][0]["id"]
    refused(bundle_dir, mutate(dup), "consultation.projects[1].id")

    def dup_question(d):
        d["consultation"]["questions"][2]["id"] = "q-colour"
    refused(bundle_dir, mutate(dup_question), "consultation.questions[2].id")


def test_missing_image(bundle_dir):
    (bundle_dir / "images" / "p-market.png").unlink()
    error = refused(bundle_dir, DEMO, "consultation.projects[2].image")
    assert error.params["path"] == "images/p-market.png"


def test_broken_image(bundle_dir):
    (bundle_dir / "images" / "p-bike.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    refused(bundle_dir, DEMO, "consultation.projects[1].image")


def test_image_outside_the_bundle(bundle_dir):
    refused(bundle_dir, mutate(lambda d: d["consultation"]["projects"][0].update(
        image="../../etc/passwd.png")), "consultation.projects[0].image")


def test_budget_question_without_costs(bundle_dir):
    refused(bundle_dir, mutate(lambda d: d["consultation"]["projects"][3].pop("cost")),
            "consultation.questions[5].projects")


def test_not_json_and_not_a_bundle(bundle_dir):
    (bundle_dir / "bundle.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(BundleError) as info:
        load_bundle(bundle_dir)
    assert "line 1" in str(info.value)
    refused(bundle_dir, {"format": "other"}, "format")
    refused(bundle_dir, mutate(lambda d: d.update(format_version=99)), "format_version")
    with pytest.raises(BundleError):
        load_bundle(bundle_dir / "nowhere")


@pytest.mark.parametrize("fn,field", [
    (lambda d: d["consultation"].update(languages=["fr", "de"]), "consultation.languages"),
    (lambda d: d["consultation"]["questions"][3].update(max_choices=9),
     "consultation.questions[3].max_choices"),
    (lambda d: d["consultation"]["questions"][4]["options"].pop() and
     d["consultation"]["questions"][4]["options"].__delitem__(slice(1, None)),
     "consultation.questions[4].options"),
    (lambda d: d["consultation"]["questions"][0]["projects"].append("p-ghost"),
     "consultation.questions[0].projects"),
    (lambda d: d["consultation"]["questions"][0]["projects"].append(["p-bus"]),
     "consultation.questions[0].projects"),
    (lambda d: d["consultation"]["projects"][0].update(theme=["infrastructure"]),
     "consultation.projects[0].theme"),
    (lambda d: d["consultation"]["questions"][1].update(theme={"id": "x"}),
     "consultation.questions[1].theme"),
    (lambda d: d["meetings"][0].update(site=["menton-mediatheque"]), "meetings[0].site"),
    (lambda d: d["consultation"].update(version=10 ** 30), "consultation.version"),
    (lambda d: d["consultation"]["projects"][0].update(theme="sport"),
     "consultation.projects[0].theme"),
    (lambda d: d["consultation"]["questions"][2].update(labels=[{"fr": "a"}]),
     "consultation.questions[2].labels"),
    (lambda d: d["meetings"][0].update(site="nowhere"), "meetings[0].site"),
    (lambda d: d["consultation"].update(id="bad id; DROP"), "consultation.id"),
    (lambda d: d["consultation"].update(questions=[]), "consultation.questions"),
])
def test_other_invalid_fields(bundle_dir, fn, field):
    refused(bundle_dir, mutate(fn), field)


def test_refused_bundle_leaves_the_store_untouched(bundle_dir, tmp_path):
    store = Store.open(tmp_path / "store")
    before = store.outbox_counts(), store.db.table_names()
    write(bundle_dir, mutate(lambda d: d["consultation"]["questions"][0].update(kind="x")))
    with pytest.raises(BundleError):
        load_bundle(bundle_dir)
    assert (store.outbox_counts(), store.db.table_names()) == before
    store.close()


def test_parse_without_images(demo):
    consultation = parse_bundle(DEMO)
    assert consultation == demo


def test_installed_bundles_pulled_first_broken_left_out(tmp_path):
    from app.bundle import installed_bundles
    assert [c.id for c, _f in installed_bundles(tmp_path)] == ["alpimed-2030"]
    other = tmp_path / "bundles" / "roya-2027"
    shutil.copytree(DEMO_BUNDLE_DIR, other)
    data = copy.deepcopy(DEMO)
    data["consultation"]["id"] = "roya-2027"
    write(other, data)
    broken = tmp_path / "bundles" / "broken"
    broken.mkdir()
    (broken / "bundle.json").write_text("{", encoding="utf-8")
    found = installed_bundles(tmp_path)
    assert [(c.id, f.name) for c, f in found] == [("roya-2027", "roya-2027"),
                                                  ("alpimed-2030", "demo")]


# -- images: what the hub imports and serves publicly, and what a tablet installs ----------------

def test_an_image_that_is_a_symlink_is_refused(bundle_dir, tmp_path):
    """An "image" that was a symlink to the hub's secret-key file was imported, then served
    publicly: a link is refused wherever it points, even to a real image."""
    secret = tmp_path / "secret-key"
    secret.write_text("hub secret")
    target = bundle_dir / "images" / "p-bike.png"
    target.unlink()
    target.symlink_to(secret)
    error = refused(bundle_dir, DEMO, "consultation.projects[1].image")
    assert error.params["path"] == "images/p-bike.png"
    with pytest.raises(BundleError, match="link"):
        read_bundle_image(bundle_dir, "images/p-bike.png")
    target.unlink()
    target.symlink_to(bundle_dir / "images" / "p-bus.png")   # a link to a genuine image
    with pytest.raises(BundleError, match="link"):
        read_bundle_image(bundle_dir, "images/p-bike.png")


def test_a_folder_link_on_the_way_is_refused(bundle_dir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(bundle_dir / "images" / "p-bus.png", outside / "p-bus.png")
    shutil.rmtree(bundle_dir / "images")
    (bundle_dir / "images").symlink_to(outside, target_is_directory=True)
    with pytest.raises(BundleError, match="link"):
        read_bundle_image(bundle_dir, "images/p-bus.png")


@pytest.mark.parametrize("rel", ["/etc/passwd.png", "../x.png", "images/../../x.png", ""])
def test_paths_outside_the_bundle_are_refused_before_any_read(bundle_dir, rel):
    with pytest.raises(BundleError):
        read_bundle_image(bundle_dir, rel)


def test_an_image_that_decodes_to_too_many_pixels_is_refused(bundle_dir):
    """A few kilobytes of PNG can decode to gigabytes: the pixel count is checked first."""
    import io
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buffer, "PNG")       # 48 MP, a small file
    assert len(buffer.getvalue()) < MAX_IMAGE_BYTES
    (bundle_dir / "images" / "p-bike.png").write_bytes(buffer.getvalue())
    error = refused(bundle_dir, DEMO, "consultation.projects[1].image")
    assert "pixels" in error.message
    with pytest.raises(BundleError, match="pixels"):
        check_image_bytes(buffer.getvalue(), "images/p-bike.png")


def test_a_truncated_image_or_another_format_is_refused(bundle_dir):
    import io
    from PIL import Image
    good = (bundle_dir / "images" / "p-bus.png").read_bytes()
    with pytest.raises(BundleError, match="broken"):
        check_image_bytes(good[: len(good) // 2], "images/p-bus.png")
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    with pytest.raises(BundleError, match="not a PNG, JPEG or WebP"):
        check_image_bytes(gif.getvalue(), "images/x.png")
    assert read_bundle_image(bundle_dir, "images/p-bus.png") == good


# -- the map (docs/bundle-format.md, "Map") ------------------------------------------------------

MAP_SECTION = json.loads((DEMO_BUNDLE_DIR / "map" / "map.json").read_text(encoding="utf-8"))
PLACE_QUESTION = {"id": "q-place", "kind": "place",
                  "prompt": {"fr": "Où ?", "it": "Dove?", "en": "Where?"}}


def mapped(fn=None):
    """The demo bundle with the demo map (tools/make_demo_map.py) and a place question."""
    data = copy.deepcopy(DEMO)
    data["consultation"]["map"] = copy.deepcopy(MAP_SECTION)
    if not any(q["kind"] == "place" for q in data["consultation"]["questions"]):
        data["consultation"]["questions"].append(copy.deepcopy(PLACE_QUESTION))
    if fn:
        fn(data["consultation"]["map"])
    return data


def test_the_format_documents_every_question_kind_and_map_field():
    from app.kinds import QUESTION_KINDS
    text = (DEMO_BUNDLE_DIR.parent.parent / "docs" / "bundle-format.md").read_text("utf-8")
    for kind in QUESTION_KINDS:
        assert f"| `{kind}` |" in text, kind
    for field in MAP_SECTION:
        assert f"`{field}`" in text, field


def test_the_demo_map_loads(bundle_dir):
    from app.bundle import bundle_files
    write(bundle_dir, mapped())
    consultation = load_bundle(bundle_dir)
    perimeter = consultation.map
    assert perimeter.tiles == "map/alpimed.mbtiles"
    assert (perimeter.min_zoom, perimeter.zoom, perimeter.max_zoom) == (9, 11, 13)
    assert len(perimeter.areas) == 16 and perimeter.export_decimals == 3
    assert perimeter.area("ventimiglia").name == {"fr": "Vintimille", "it": "Ventimiglia",
                                                  "en": "Ventimiglia"}
    assert perimeter.area("la-brigue").name["it"] == "Briga Marittima"
    assert "IGN" in perimeter.attribution["fr"] and "ISTAT" in perimeter.attribution["it"]
    assert perimeter.area_of(*perimeter.center) is not None
    assert "map/alpimed.mbtiles" in bundle_files(consultation)
    assert "images/p-bus.png" in bundle_files(consultation)
    assert parse_bundle(mapped()) == consultation      # without the folder: no file checks


def test_the_demo_bundles_map_is_the_generated_one(demo):
    """When the demo bundle carries a map, it is what tools/make_demo_map.py wrote."""
    if "map" in DEMO["consultation"]:
        assert DEMO["consultation"]["map"] == MAP_SECTION
        assert demo.map is not None


def test_map_tiles_read_by_xyz(bundle_dir):
    from app.bundle import open_map_tiles
    from app.geo import lonlat_to_tile
    write(bundle_dir, mapped())
    perimeter = load_bundle(bundle_dir).map
    with open_map_tiles(bundle_dir, perimeter) as tiles:
        x, y = lonlat_to_tile(*perimeter.center, 13)
        data = tiles.tile(13, x, y)
        assert data and data.startswith(b"\x89PNG")
        assert tiles.tile(13, x, 2 ** 13 - 1 - y) is None      # the TMS row is not an XYZ row
        assert tiles.tile(14, x, y) is None and tiles.tile(13, -1, 0) is None
        assert tiles.metadata()["format"] == "png"
    assert sorted(p.name for p in (bundle_dir / "map").iterdir()) == [
        "alpimed.mbtiles", "map.json", "perimeter.geojson"]     # no journal or lock left


def test_map_refused_without_a_map_for_a_place_question(bundle_dir):
    data = mapped()
    del data["consultation"]["map"]
    refused(bundle_dir, data, "consultation.questions[7].kind")


def set_ring(index, ring):
    def change(m):
        m["areas"][index]["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    return change


SQUARE = [[7.50, 43.80], [7.51, 43.80], [7.51, 43.81], [7.50, 43.81], [7.50, 43.80]]


@pytest.mark.parametrize("change,field", [
    # polygons
    (set_ring(0, SQUARE[:-1]), "consultation.map.areas[0].geometry.coordinates[0]"),   # open
    (set_ring(0, [[7.5, 43.8], [7.51, 43.8], [7.5, 43.8]]),
     "consultation.map.areas[0].geometry.coordinates[0]"),                         # 3 points
    (set_ring(0, [[7.5, 43.8], [7.51, 43.8], [7.52, 43.8], [7.5, 43.8]]),
     "consultation.map.areas[0].geometry.coordinates[0]"),                         # no area
    (set_ring(1, [[200, 43.8], *SQUARE[1:4], [200, 43.8]]),
     "consultation.map.areas[1].geometry.coordinates[0][0]"),
    (set_ring(1, [*SQUARE[:2], [7.51, -95], *SQUARE[3:]]),
     "consultation.map.areas[1].geometry.coordinates[0][2]"),
    (set_ring(2, [*SQUARE[:2], [float("nan"), 43.81], *SQUARE[3:]]),
     "consultation.map.areas[2].geometry.coordinates[0][2]"),
    (set_ring(2, [*SQUARE[:2], [float("inf"), 43.81], *SQUARE[3:]]),
     "consultation.map.areas[2].geometry.coordinates[0][2]"),
    (set_ring(2, [*SQUARE[:2], [10 ** 400, 43.81], *SQUARE[3:]]),
     "consultation.map.areas[2].geometry.coordinates[0][2]"),
    (set_ring(2, [*SQUARE[:2], ["7.51", 43.81], *SQUARE[3:]]),
     "consultation.map.areas[2].geometry.coordinates[0][2]"),
    (set_ring(2, [*SQUARE[:2], [True, 43.81], *SQUARE[3:]]),
     "consultation.map.areas[2].geometry.coordinates[0][2]"),
    (set_ring(2, [*SQUARE[:2], [7.51], *SQUARE[3:]]),
     "consultation.map.areas[2].geometry.coordinates[0][2]"),
    (lambda m: m["areas"][3]["geometry"].update(type="Point"),
     "consultation.map.areas[3].geometry.type"),
    (lambda m: m["areas"][3].update(geometry={"type": "MultiPolygon", "coordinates": []}),
     "consultation.map.areas[3].geometry.coordinates"),
    (lambda m: m["areas"][3].update(geometry={"type": "MultiPolygon",
                                              "coordinates": [[SQUARE], []]}),
     "consultation.map.areas[3].geometry.coordinates[1]"),
    (lambda m: m["areas"][3].update(geometry={"type": "Polygon", "coordinates": "x"}),
     "consultation.map.areas[3].geometry.coordinates"),
    (lambda m: m["areas"][3].update(geometry=None), "consultation.map.areas[3].geometry"),
    # identifiers and names
    (lambda m: m["areas"][4].update(parent=m["areas"][4]["id"]),
     "consultation.map.areas[4].parent"),                                          # itself
    (lambda m: m["areas"][4].update(parent="nowhere"), "consultation.map.areas[4].parent"),
    (lambda m: (m["areas"][4].update(parent="sospel"),
                m["areas"][3].update(parent="breil-sur-roya")),
     "consultation.map.areas[3].parent"),                                          # a circle
    (lambda m: m["areas"][5].update(id="menton"), "consultation.map.areas[5].id"),
    (lambda m: m["areas"][5].update(id="saorge village"), "consultation.map.areas[5].id"),
    (lambda m: m["areas"][6]["name"].pop("it"), "consultation.map.areas[6].name.it"),
    (lambda m: m["areas"][6]["name"].update(fr=" "), "consultation.map.areas[6].name.fr"),
    (lambda m: m.update(areas=[]), "consultation.map.areas"),
    (lambda m: m.update(areas="menton"), "consultation.map.areas"),
    # the view and the zooms
    (lambda m: m.update(center={"lon": 7.2620, "lat": 43.7034}), "consultation.map.center"),
    (lambda m: m.update(center={"lon": float("nan"), "lat": 43.8}), "consultation.map.center"),
    (lambda m: m.update(center={"lat": 43.8}), "consultation.map.center"),
    (lambda m: m.update(center=[7.5, 43.8]), "consultation.map.center"),
    (lambda m: m.update(min_zoom=13, max_zoom=9), "consultation.map.min_zoom"),
    (lambda m: m.update(zoom=14), "consultation.map.zoom"),
    (lambda m: m.update(min_zoom=8), "consultation.map.min_zoom"),     # below the tiles
    (lambda m: m.update(max_zoom=15), "consultation.map.max_zoom"),    # above the tiles
    (lambda m: m.update(max_zoom=23), "consultation.map.max_zoom"),
    (lambda m: m.update(zoom="11"), "consultation.map.zoom"),
    (lambda m: m.update(zoom=True), "consultation.map.zoom"),
    # the rest
    (lambda m: m["attribution"].pop("it"), "consultation.map.attribution.it"),
    (lambda m: m.update(export_decimals=6), "consultation.map.export_decimals"),
    (lambda m: m.update(export_decimals=-1), "consultation.map.export_decimals"),
    (lambda m: m.update(export_decimals=2.5), "consultation.map.export_decimals"),
    (lambda m: m.update(snap_metres=5000), "consultation.map.snap_metres"),
    (lambda m: m.update(tiles="map/alpimed.png"), "consultation.map.tiles"),
    (lambda m: m.update(tiles="../alpimed.mbtiles"), "consultation.map.tiles"),
    (lambda m: m.update(tiles="/etc/alpimed.mbtiles"), "consultation.map.tiles"),
    (lambda m: m.update(tiles="map/missing.mbtiles"), "consultation.map.tiles"),
    (lambda m: m.update(tiles=None), "consultation.map.tiles"),
])
def test_a_broken_map_is_refused(bundle_dir, change, field):
    refused(bundle_dir, mapped(change), field)


def test_area_names_need_french_and_italian_not_english(bundle_dir):
    data = mapped(lambda m: m["areas"][0]["name"].pop("en"))
    write(bundle_dir, data)
    assert load_bundle(bundle_dir).map.area("menton").name == {"fr": "Menton", "it": "Mentone"}


def test_the_map_and_its_positions_are_bounded(bundle_dir, monkeypatch):
    import app.bundle
    monkeypatch.setattr(app.bundle, "MAX_MAP_AREAS", 10)
    refused(bundle_dir, mapped(), "consultation.map.areas")
    monkeypatch.setattr(app.bundle, "MAX_MAP_AREAS", 500)
    monkeypatch.setattr(app.bundle, "MAX_MAP_POSITIONS", 1000)
    error = refused(bundle_dir, mapped(), "consultation.map.areas[")
    assert error.params == {"max": 1000}


# -- the base map file ----------------------------------------------------------------------------

def make_mbtiles(path, *, tables=True, fmt="png", tiles=((9, 11, None),), tile_bytes=None,
                 size=256):
    """A small MBTiles file: `tiles` lists (zoom, lowest, highest) ranges of one tile each."""
    import io
    import sqlite3
    from PIL import Image
    if tile_bytes is None:
        buffer = io.BytesIO()
        Image.new("RGB", (size, size), (170, 211, 230)).save(buffer, "PNG")
        tile_bytes = buffer.getvalue()
    conn = sqlite3.connect(str(path))
    if tables:
        conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
                     "tile_row INTEGER, tile_data BLOB)")
        if fmt:
            conn.execute("INSERT INTO metadata VALUES ('format', ?)", (fmt,))
        for low, high, _ in tiles:
            for zoom in range(low, high + 1):
                conn.execute("INSERT INTO tiles VALUES (?, 0, 0, ?)", (zoom, tile_bytes))
    else:
        conn.execute("CREATE TABLE other (x)")
    conn.commit()
    conn.close()


def refused_tiles(bundle_dir, **kwargs):
    path = bundle_dir / "map" / "alpimed.mbtiles"
    path.unlink()
    make_mbtiles(path, **kwargs)
    return refused(bundle_dir, mapped(lambda m: m.update(min_zoom=9, max_zoom=11, zoom=10)),
                   "consultation.map.tiles")


def test_a_base_map_that_is_not_sqlite(bundle_dir):
    (bundle_dir / "map" / "alpimed.mbtiles").write_bytes(b"PK\x03\x04 not a database" * 100)
    error = refused(bundle_dir, mapped(), "consultation.map.tiles")
    assert error.params["path"] == "map/alpimed.mbtiles" and "SQLite" in error.message
    (bundle_dir / "map" / "alpimed.mbtiles").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    refused(bundle_dir, mapped(), "consultation.map.tiles")


def test_a_base_map_without_mbtiles_tables_format_or_tiles(bundle_dir):
    assert "tables" in refused_tiles(bundle_dir, tables=False).message
    assert "format" in refused_tiles(bundle_dir, fmt=None).message
    assert "format" in refused_tiles(bundle_dir, fmt="pbf").message
    assert "no tiles" in refused_tiles(bundle_dir, tiles=()).message


def test_a_base_map_whose_tiles_are_not_images(bundle_dir):
    error = refused_tiles(bundle_dir, tile_bytes=b"\x89PNG\r\n\x1a\nnot really")
    assert error.params == {"path": "map/alpimed.mbtiles", "zoom": 9}
    refused_tiles(bundle_dir, size=512)
    import io
    from PIL import Image
    gif = io.BytesIO()
    Image.new("RGB", (256, 256)).save(gif, "GIF")
    refused_tiles(bundle_dir, tile_bytes=gif.getvalue())


def test_a_small_valid_base_map_and_its_zoom_range(bundle_dir):
    path = bundle_dir / "map" / "alpimed.mbtiles"
    path.unlink()
    make_mbtiles(path, tiles=((9, 11, None),))
    write(bundle_dir, mapped(lambda m: m.update(min_zoom=9, max_zoom=11, zoom=10)))
    assert load_bundle(bundle_dir).map.max_zoom == 11
    error = refused(bundle_dir, mapped(lambda m: m.update(min_zoom=9, max_zoom=12, zoom=10)),
                    "consultation.map.max_zoom")
    assert error.params == {"path": "map/alpimed.mbtiles", "min": 9, "max": 11}


def test_a_base_map_that_is_a_link_or_outside(bundle_dir, tmp_path):
    outside = tmp_path / "elsewhere.mbtiles"
    shutil.copy(bundle_dir / "map" / "alpimed.mbtiles", outside)
    (bundle_dir / "map" / "alpimed.mbtiles").unlink()
    (bundle_dir / "map" / "alpimed.mbtiles").symlink_to(outside)
    error = refused(bundle_dir, mapped(), "consultation.map.tiles")
    assert "link" in error.message
    (bundle_dir / "map" / "alpimed.mbtiles").unlink()
    (bundle_dir / "map" / "alpimed.mbtiles").mkdir()              # a folder, not a file
    assert "missing" in refused(bundle_dir, mapped(), "consultation.map.tiles").message


def test_a_linked_map_folder_is_refused(bundle_dir, tmp_path):
    shutil.move(str(bundle_dir / "map"), str(tmp_path / "map"))
    (bundle_dir / "map").symlink_to(tmp_path / "map", target_is_directory=True)
    assert "link" in refused(bundle_dir, mapped(), "consultation.map.tiles").message


def test_a_base_map_too_large(bundle_dir, monkeypatch):
    import app.bundle
    monkeypatch.setattr(app.bundle, "MAX_TILES_BYTES", 1000)
    assert "large" in refused(bundle_dir, mapped(), "consultation.map.tiles").message


def test_a_base_map_whose_queries_never_end_is_refused(bundle_dir, monkeypatch):
    """A hostile file can make `tiles` a view that runs forever: the check stops it."""
    import sqlite3
    import app.bundle
    monkeypatch.setattr(app.bundle, "_TILES_CHECK_SECONDS", 0.2)
    path = bundle_dir / "map" / "alpimed.mbtiles"
    path.unlink()
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    conn.execute("INSERT INTO metadata VALUES ('format', 'png')")
    conn.execute("CREATE VIEW tiles AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL "
                 "SELECT x + 1 FROM n) SELECT 0 AS zoom_level, 0 AS tile_column, "
                 "0 AS tile_row, x AS tile_data FROM n")
    conn.commit()
    conn.close()
    refused(bundle_dir, mapped(), "consultation.map.tiles")
