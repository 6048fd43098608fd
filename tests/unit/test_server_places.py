"""The map at the hub (issue 16): a mapped bundle's files checked at import and served, place
answers into results, and exports of places with rounded points."""
from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil

import pytest

import app.bundle as app_bundle
from app.bundle import load_bundle, parse_bundle
from app.errors import BundleError, ValidationError
from app.paths import DEMO_BUNDLE_DIR
from server import db
from server.admin import main as admin_main
from server.errors import HubError
from server.exports import (DECIDIM_COLUMNS, areas_geojson, decidim_csv, decidim_rows,
                            places_geojson)
from server.hub import Hub
from server.settings import Settings

DEMO = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text(encoding="utf-8"))
MAP_SECTION = json.loads((DEMO_BUNDLE_DIR / "map" / "map.json").read_text(encoding="utf-8"))
TILES = "map/alpimed.mbtiles"
PLACE_QUESTION = {"id": "q-place", "kind": "place",
                  "prompt": {"fr": "Où ?", "it": "Dove?", "en": "Where?"}}


def mapped_data() -> dict:
    """The demo bundle as it will carry its map (commit e5c9cd8): map + a place question."""
    data = copy.deepcopy(DEMO)
    data["consultation"]["map"] = copy.deepcopy(MAP_SECTION)
    if not any(q["kind"] == "place" for q in data["consultation"]["questions"]):
        data["consultation"]["questions"].append(copy.deepcopy(PLACE_QUESTION))
    return data


@pytest.fixture
def mapped_dir(tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    (folder / "bundle.json").write_text(json.dumps(mapped_data()), encoding="utf-8")
    return folder


@pytest.fixture
def bare_hub(tmp_path):
    h = Hub(Settings.from_env({}, data_dir=tmp_path / "hub"))
    yield h
    h.close()


def stored_paths(hub) -> list[str]:
    with hub.engine.connect() as conn:
        return sorted(conn.execute(db.bundle_files.select()
                                   .with_only_columns(db.bundle_files.c.path)).scalars())


# -- import --------------------------------------------------------------------------------------

def test_a_mapped_bundle_is_stored_and_indexed_with_its_base_map(bare_hub, mapped_dir, tablet):
    consultation = bare_hub.import_bundle(mapped_dir)
    assert consultation.map is not None and consultation.question("q-place")
    assert TILES in stored_paths(bare_hub) and "images/p-bus.png" in stored_paths(bare_hub)
    sha, content = bare_hub.bundle_file(consultation.id, TILES)
    assert content == (mapped_dir / TILES).read_bytes()
    _store, device = tablet(bare_hub)
    listed = {f["path"]: f for f in bare_hub.bundle_index(device)["consultations"][0]["files"]}
    assert listed[TILES]["sha256"] == sha and listed[TILES]["size"] == len(content)
    assert listed[TILES]["url"].endswith("/files/" + TILES)


def _refused(hub, source, files=None) -> BundleError:
    before = stored_paths(hub)
    with pytest.raises(BundleError) as refused:
        hub.import_bundle(source, files)
    assert hub.consultation("alpimed-2030") is None and stored_paths(hub) == before
    return refused.value


def test_a_symlinked_image_is_refused(bare_hub, mapped_dir, tmp_path):
    secret = tmp_path / "secret.png"
    shutil.copy(mapped_dir / "images" / "p-bus.png", secret)
    (mapped_dir / "images" / "p-bus.png").unlink()
    (mapped_dir / "images" / "p-bus.png").symlink_to(secret)
    error = _refused(bare_hub, mapped_dir)
    assert error.params["path"] == "images/p-bus.png" and "link" in error.message


def test_an_image_that_is_not_one_is_refused_from_a_folder_and_from_bytes(bare_hub, mapped_dir):
    (mapped_dir / "images" / "p-bus.png").write_bytes(b"<html>not an image</html>")
    error = _refused(bare_hub, mapped_dir)
    assert error.params["path"] == "images/p-bus.png"
    error = _refused(bare_hub, mapped_data(), {"images/p-bus.png": b"<html>not</html>"})
    assert error.params["path"] == "images/p-bus.png" and "PNG" in error.message
    error = _refused(bare_hub, mapped_data(), {"images/p-bus.png": "text, not bytes"})
    assert error.params["path"] == "images/p-bus.png"


def test_a_symlinked_map_is_refused(bare_hub, mapped_dir, tmp_path):
    outside = tmp_path / "elsewhere.mbtiles"
    shutil.copy(mapped_dir / TILES, outside)
    (mapped_dir / TILES).unlink()
    (mapped_dir / TILES).symlink_to(outside)
    error = _refused(bare_hub, mapped_dir)
    assert error.params["path"] == TILES and "link" in error.message


def test_a_symlinked_map_folder_is_refused(bare_hub, mapped_dir, tmp_path):
    shutil.move(mapped_dir / "map", tmp_path / "maps")
    (mapped_dir / "map").symlink_to(tmp_path / "maps", target_is_directory=True)
    error = _refused(bare_hub, mapped_dir)
    assert error.params["path"] == TILES


@pytest.mark.parametrize("content", [b"PK\x03\x04 a zip" * 100,
                                     b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_broken_map_is_refused_from_a_folder_and_from_bytes(bare_hub, mapped_dir, content):
    (mapped_dir / TILES).write_bytes(content)
    error = _refused(bare_hub, mapped_dir)
    assert error.params["path"] == TILES and "MBTiles" in error.message
    error = _refused(bare_hub, mapped_data(), {TILES: content})
    assert error.params["path"] == TILES and "MBTiles" in error.message


def test_an_oversized_map_is_refused_by_the_maps_own_limit(bare_hub, mapped_dir, monkeypatch):
    size = (mapped_dir / TILES).stat().st_size
    assert size > app_bundle.MAX_IMAGE_BYTES // 8        # not the 5 MiB image limit at work
    monkeypatch.setattr(app_bundle, "MAX_TILES_BYTES", size - 1)
    error = _refused(bare_hub, mapped_dir)
    assert error.params["path"] == TILES and "too large" in error.message
    error = _refused(bare_hub, mapped_data(), {TILES: (mapped_dir / TILES).read_bytes()})
    assert error.params["path"] == TILES and "too large" in error.message


def test_a_real_size_limit_for_a_sparse_giant_map(bare_hub, mapped_dir):
    with open(mapped_dir / TILES, "r+b") as f:
        f.truncate(app_bundle.MAX_TILES_BYTES + 1)         # sparse: costs no disk
    error = _refused(bare_hub, mapped_dir)
    assert error.params["path"] == TILES and "too large" in error.message


def test_a_map_without_the_bundles_zoom_levels_is_refused_from_bytes(bare_hub, mapped_dir,
                                                                     tmp_path):
    from tests.unit.test_bundle import make_mbtiles
    small = tmp_path / "small.mbtiles"
    make_mbtiles(small, tiles=((9, 10, None),))
    error = _refused(bare_hub, mapped_data(), {TILES: small.read_bytes()})
    assert error.params == {"path": TILES, "min": 9, "max": 10}


def test_files_given_with_json_are_checked_then_stored(bare_hub, mapped_dir):
    files = {TILES: (mapped_dir / TILES).read_bytes(),
             "images/p-bus.png": (mapped_dir / "images" / "p-bus.png").read_bytes(),
             "images/unlisted.png": b"ignored"}
    bare_hub.import_bundle(mapped_data(), files)
    assert stored_paths(bare_hub) == ["images/p-bus.png", TILES]


def test_the_json_alone_still_imports(bare_hub):
    assert bare_hub.import_bundle(mapped_data()).map is not None
    assert stored_paths(bare_hub) == []


# -- results and exports -------------------------------------------------------------------------

@pytest.fixture
def mapped_hub(bare_hub, mapped_dir):
    bare_hub.import_bundle(mapped_dir)
    return bare_hub


def vote_places(hub, tablet, push, places) -> None:
    consultation = hub.consultation("alpimed-2030")
    store, device = tablet(hub)
    for place in places:
        ballot = store.start_ballot(consultation)
        store.record_answer(consultation, ballot, "q-place", place)
        store.close_ballot(ballot)
    results = push(hub, store, device)
    assert {r["status"] for r in results} == {"stored"}, results


def points_near_centre(consultation, n=3):
    lon, lat = consultation.map.center
    return [{"lon": lon + 0.00012345 * i, "lat": lat + 0.00006789 * i} for i in range(n)]


def test_place_answers_flow_into_results_per_area(mapped_hub, tablet, push):
    consultation = mapped_hub.consultation("alpimed-2030")
    centre_area = consultation.map.area_of(*consultation.map.center)
    other = next(a for a in consultation.map.area_ids if a != centre_area)
    etag_before, _ = mapped_hub.read_results("alpimed-2030")
    vote_places(mapped_hub, tablet, push,
                points_near_centre(consultation) + [{"area": other}])
    etag, body = mapped_hub.read_results("alpimed-2030")
    assert etag != etag_before
    result = json.loads(body)["questions"]["q-place"]
    assert result["counts"][centre_area] == 3 and result["counts"][other] == 1
    assert result["forms"] == {"point": 3, "area": 1}
    assert all(_decimals(p["lon"]) <= 3 and _decimals(p["lat"]) <= 3 for p in result["points"])


def _decimals(value) -> int:
    text = repr(float(value))
    return len(text.split(".")[1].rstrip("0")) if "." in text and "e" not in text else 0


def _coordinates(geometry):
    if geometry is None:
        return
    stack = [geometry["coordinates"]]
    while stack:
        item = stack.pop()
        if item and isinstance(item[0], (int, float)):
            yield item
        else:
            stack.extend(item)


def test_places_geojson_rounds_points_and_groups_answers(mapped_hub, tablet, push):
    consultation = mapped_hub.consultation("alpimed-2030")
    places = points_near_centre(consultation, 4)
    vote_places(mapped_hub, tablet, push, places + places[:1] + [{"area": "menton"}])
    exported = places_geojson(mapped_hub, "alpimed-2030")
    assert exported["type"] == "FeatureCollection" and exported["export_decimals"] == 3
    features = exported["features"]
    assert sum(f["properties"]["count"] for f in features) == 5     # area answers have no point
    text = json.dumps(exported)
    for place in places:
        assert str(place["lon"]) not in text or _decimals(place["lon"]) <= 3
    for feature in features:
        assert feature["geometry"]["type"] == "Point"
        for lon, lat in _coordinates(feature["geometry"]):
            assert _decimals(lon) <= 3 and _decimals(lat) <= 3
        assert feature["properties"]["name_fr"] and feature["properties"]["name_it"]
    assert "ballot" not in text and "device" not in text


def test_areas_geojson_has_the_perimeter_with_counts(mapped_hub, tablet, push):
    vote_places(mapped_hub, tablet, push, [{"area": "ventimiglia"}, {"area": "menton"},
                                           {"area": "menton"}])
    exported = areas_geojson(mapped_hub, "alpimed-2030")
    by_id = {f["properties"]["id"]: f for f in exported["features"]}
    assert len(by_id) == 16
    assert by_id["menton"]["properties"] == {"question": "q-place", "id": "menton",
                                             "name_fr": "Menton", "name_it": "Mentone",
                                             "count": 2}
    assert by_id["ventimiglia"]["properties"]["name_it"] == "Ventimiglia"
    assert by_id["menton"]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_decidim_csv_has_the_import_columns(mapped_hub, tablet, push):
    consultation = mapped_hub.consultation("alpimed-2030")
    text = decidim_csv(mapped_hub, "alpimed-2030")
    assert tuple(next(csv.reader(io.StringIO(text)))) == DECIDIM_COLUMNS
    lon, lat = consultation.map.center
    rows = decidim_rows(consultation, [
        {"id": "i1", "title": "Un banc", "text": "À l'ombre", "place": {
            "lon": lon + 0.0001234, "lat": lat + 0.0004321}},
        {"id": "i2", "title": "Une piste", "text": "Cyclable", "place": {"area": "menton"}},
        {"id": "i3", "title": "Un marché", "text": "Le samedi"}])
    assert rows[0]["title/fr"] == rows[0]["title/it"] == "Un banc"
    assert rows[0]["address"] and _decimals(rows[0]["latitude"]) <= 3 \
        and _decimals(rows[0]["longitude"]) <= 3
    assert rows[1]["address"] == "Menton" and rows[1]["latitude"] == ""
    assert rows[2]["address"] == rows[2]["latitude"] == rows[2]["longitude"] == ""


def test_export_command_for_places_and_areas(mapped_hub, tablet, push, tmp_path, capsys):
    consultation = mapped_hub.consultation("alpimed-2030")
    vote_places(mapped_hub, tablet, push, points_near_centre(consultation))
    args = ["--data-dir", str(tmp_path / "hub")]
    assert admin_main([*args, "export", "places", "--consultation", "alpimed-2030"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["type"] == "FeatureCollection" and out["features"]
    numbers = re.findall(r"-?\d+\.\d+", json.dumps([f["geometry"] for f in out["features"]]))
    assert numbers and all(len(n.split(".")[1]) <= 3 for n in numbers)
    assert admin_main([*args, "export", "places", "--consultation", "alpimed-2030",
                       "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == ",".join(DECIDIM_COLUMNS)
    assert admin_main([*args, "export", "areas", "--consultation", "alpimed-2030",
                       "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "question,id,name_fr,name_it,count"
    assert admin_main([*args, "export", "results", "--consultation", "alpimed-2030"]) == 0
    assert "q-place" in capsys.readouterr().out


def test_places_of_a_consultation_without_a_map_are_refused(bare_hub):
    data = mapped_data()
    data["consultation"].pop("map", None)
    data["consultation"]["questions"] = [q for q in data["consultation"]["questions"]
                                         if q["kind"] != "place"]
    data["consultation"]["id"] = "unmapped"
    bare_hub.import_bundle(data)
    hub = bare_hub
    with pytest.raises(HubError) as refused:
        places_geojson(hub, "unmapped")
    assert refused.value.code == "consultation_unmapped"
    with pytest.raises(HubError) as unknown:
        places_geojson(hub, "nope")
    assert unknown.value.code == "consultation_unknown"


def test_the_demo_files_load_as_installed(mapped_dir):
    consultation = load_bundle(mapped_dir)
    assert consultation == parse_bundle(mapped_data())


def test_a_located_idea_goes_from_the_tablet_to_the_hub_and_is_public_only_rounded(
        mapped_hub, tablet, push):
    """An idea that says where it would happen keeps its place on the tablet, in its event and
    at the hub; what the public reads (and Decidim's columns) is rounded to the map's export
    precision, a pin on someone's house being personal data."""
    consultation = mapped_hub.consultation("alpimed-2030")
    lon, lat = consultation.map.center
    store, device = tablet(mapped_hub)
    here = store.submit_proposal(consultation, title="Un banc", text="À l'ombre",
                                 place={"lon": lon + 0.0001234, "lat": lat + 0.0004321})
    area = store.submit_proposal(consultation, title="Une piste", text="Cyclable",
                                 place={"area": "menton"})
    plain = store.submit_proposal(consultation, title="Un marché", text="Le samedi")
    assert here.place["area"] == consultation.map.area_of(here.place["lon"], here.place["lat"])
    assert _decimals(here.place["lon"]) == 5 and area.place == {"area": "menton"}
    assert plain.place is None
    with pytest.raises(ValidationError):
        store.submit_proposal(consultation, title="Loin", text="Paris",
                              place={"lon": 2.35, "lat": 48.85})
    results = push(mapped_hub, store, device)
    assert {r["status"] for r in results} == {"stored"}, results
    staff = {i["title"]: i for i in mapped_hub.proposals("alpimed-2030")}
    assert staff["Un banc"]["place"] == here.place            # staff see the stored point
    for idea in (here, area, plain):
        mapped_hub.answer_proposal(idea.id, "received", "")
    for idea in mapped_hub.proposals("alpimed-2030"):
        from sqlalchemy import update

        from server import db
        with mapped_hub.writer.begin() as conn:
            conn.execute(update(db.proposals).where(db.proposals.c.id == idea["id"])
                         .values(status="approved"))
    public = {i["title"]: i for i in mapped_hub.proposals("alpimed-2030", public=True)}
    point = public["Un banc"]["place"]
    assert _decimals(point["lon"]) <= consultation.map.export_decimals
    assert _decimals(point["lat"]) <= consultation.map.export_decimals
    assert public["Une piste"]["place"] == {"area": "menton"}
    assert public["Un marché"]["place"] is None
    rows = {r["title/fr"]: r for r in decidim_rows(consultation, list(public.values()))}
    assert rows["Un banc"]["latitude"] and _decimals(rows["Un banc"]["latitude"]) <= 3
    assert rows["Une piste"]["address"] == "Menton"


def test_an_idea_event_with_a_place_outside_the_perimeter_is_refused_alone(
        mapped_hub, tablet, push):
    consultation = mapped_hub.consultation("alpimed-2030")
    store, device = tablet(mapped_hub)
    store.submit_proposal(consultation, title="Un banc", text="Ici")
    good = json.loads(json.dumps(store.pending_events(limit=10)[0].envelope(store.device_id)))
    forged = json.loads(json.dumps(good))
    forged["id"], forged["seq"] = "forged-place", good["seq"] + 1
    forged["payload"]["proposal_id"] = "forged-place-idea"
    forged["payload"]["place"] = {"lon": 2.35, "lat": 48.85}          # Paris: outside
    answer = mapped_hub.ingest(device, [good, forged])
    assert [a["status"] for a in answer] == ["stored", "rejected"]    # the batch is not sunk
    assert "forged-place-idea" not in {i["id"] for i in mapped_hub.proposals()}
