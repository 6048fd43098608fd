"""The map through a real hub (issue 16): a mapped bundle imported by the CLI, pulled and
installed by a tablet with its base map, located answers pushed into results per area, and the
places exported with rounded points."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil

import pytest
import requests

from app.bundle import load_bundle, open_map_tiles
from app.geo import lonlat_to_tile
from app.paths import DEMO_BUNDLE_DIR
from app.store import Store
from server.exports import DECIDIM_COLUMNS
from sync.content import pull_bundles
from sync.enroll import client_for, enroll
from sync.worker import push_pending

from .conftest import HubProcess

TILES = "map/alpimed.mbtiles"


@pytest.fixture(scope="module")
def mapped_hub(tmp_path_factory):
    from tests.unit.test_server_places import mapped_data
    folder = tmp_path_factory.mktemp("bundle") / "alpimed"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    (folder / "bundle.json").write_text(json.dumps(mapped_data()), encoding="utf-8")
    hub = HubProcess(tmp_path_factory.mktemp("hub"))
    imported = hub.cli("import-bundle", str(folder))
    assert imported.returncode == 0, imported.stderr
    hub.start()
    yield hub, folder
    hub.stop()


def test_a_tablet_installs_a_mapped_bundle_and_its_located_answers_reach_results(
        mapped_hub, tmp_path):
    hub, folder = mapped_hub
    store = Store.open(tmp_path / "tablet")
    try:
        enroll(store, hub.url, hub.code())
        client = client_for(store)
        assert pull_bundles(store, client, tmp_path / "tablet" / "bundles") == ["alpimed-2030"]
        installed = tmp_path / "tablet" / "bundles" / "alpimed-2030"
        assert (installed / TILES).read_bytes() == (folder / TILES).read_bytes()
        consultation = load_bundle(installed)            # images and the base map checked
        perimeter = consultation.map
        assert perimeter is not None and consultation.question("q-place")
        with open_map_tiles(installed, perimeter) as tiles:
            assert tiles.tile(perimeter.zoom, *lonlat_to_tile(*perimeter.center,
                                                              perimeter.zoom))
        served = requests.get(f"{hub.url}/api/v1/consultations/alpimed-2030/files/{TILES}",
                              timeout=30)
        assert served.headers["Content-Type"] == "application/vnd.sqlite3"

        # located answers, from the tablet's store through the push to the hub's results
        lon, lat = perimeter.center
        centre_area = perimeter.area_of(lon, lat)
        other = next(a for a in perimeter.area_ids if a != centre_area)
        places = [{"lon": lon + 0.0001234 * i, "lat": lat + 0.0000987 * i} for i in range(5)]
        for place in places + [{"area": other}]:
            ballot = store.start_ballot(consultation)
            store.record_answer(consultation, ballot, "q-place", place)
            store.close_ballot(ballot)
        first = requests.get(f"{hub.url}/api/v1/consultations/alpimed-2030/results",
                             timeout=30)
        counts = push_pending(store, client)
        assert counts["stored"] == 18 and {s for s, n in counts.items() if n} == {"stored"}
        results = hub.results()
        assert results["questions"] == store.results(consultation)
        place = results["questions"]["q-place"]
        assert place["counts"][centre_area] == 5 and place["counts"][other] == 1
        again = requests.get(f"{hub.url}/api/v1/consultations/alpimed-2030/results",
                             timeout=30, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 200 and again.headers["ETag"] != first.headers["ETag"]

        # exports: rounded points, areas with counts, Decidim's columns
        exported = hub.cli("export", "places", "--consultation", "alpimed-2030")
        assert exported.returncode == 0, exported.stderr
        geojson = json.loads(exported.stdout)
        assert sum(f["properties"]["count"] for f in geojson["features"]) == 5
        numbers = re.findall(r"-?\d+\.\d+", json.dumps(
            [f["geometry"] for f in geojson["features"]]))
        assert numbers and all(len(n.split(".")[1]) <= perimeter.export_decimals
                               for n in numbers)
        areas = hub.cli("export", "areas", "--consultation", "alpimed-2030")
        assert areas.returncode == 0, areas.stderr
        by_id = {f["properties"]["id"]: f["properties"]
                 for f in json.loads(areas.stdout)["features"]}
        assert by_id[centre_area]["count"] == 5 and by_id[other]["count"] == 1
        decidim = hub.cli("export", "places", "--consultation", "alpimed-2030",
                          "--format", "csv")
        assert decidim.returncode == 0, decidim.stderr
        header = next(csv.reader(io.StringIO(decidim.stdout)))
        assert tuple(header) == DECIDIM_COLUMNS
    finally:
        store.close()


def test_ideas_put_on_the_map_at_the_kiosk_reach_the_exports_rounded(mapped_hub, tmp_path):
    """The idea form's path (KioskSession.submit_idea with a place), moderated on the tablet,
    pushed to the hub: approved located ideas in the GeoJSON and Decidim exports, their points
    rounded to the bundle's precision; a rejected one and one without a place are not placed."""
    from app.kiosk import KioskSession
    hub, _folder = mapped_hub
    store = Store.open(tmp_path / "tablet")
    try:
        enroll(store, hub.url, hub.code())
        client = client_for(store)
        pull_bundles(store, client, tmp_path / "tablet" / "bundles")
        consultation = load_bundle(tmp_path / "tablet" / "bundles" / "alpimed-2030")
        perimeter = consultation.map
        session = KioskSession(store, consultation)
        lon, lat = perimeter.center
        centre_area = perimeter.area_of(lon, lat)
        other = next(a for a in perimeter.area_ids if a != centre_area)
        pinned = session.submit_idea(title="Banc au soleil", text="Un banc face au port.",
                                     place={"lon": lon + 0.0012345, "lat": lat - 0.0006789})
        listed = session.submit_idea(title="Fontaine", text="Une fontaine sur la place.",
                                     place={"area": other})
        nowhere = session.submit_idea(title="Navette", text="Une navette le dimanche.")
        refused = session.submit_idea(title="Pub", text="Achetez.", place={"area": other})
        for idea in (pinned, listed, nowhere):
            store.moderate_proposal(idea.id, "approved")
        store.moderate_proposal(refused.id, "rejected", reason="Publicité")
        counts = push_pending(store, client)
        assert {s for s, n in counts.items() if n} == {"stored"}

        exported = hub.cli("export", "places", "--consultation", "alpimed-2030")
        assert exported.returncode == 0, exported.stderr
        ideas = {f["properties"]["title"]: f for f in json.loads(exported.stdout)["features"]
                 if f["properties"]["kind"] == "idea"}
        assert set(ideas) == {"Banc au soleil", "Fontaine"}
        point = ideas["Banc au soleil"]
        decimals = perimeter.export_decimals
        assert point["geometry"]["coordinates"] == [
            round(pinned.place["lon"], decimals), round(pinned.place["lat"], decimals)]
        assert point["properties"]["area"] == pinned.place["area"] == centre_area
        assert ideas["Fontaine"]["geometry"] is None
        assert ideas["Fontaine"]["properties"]["area"] == other

        decidim = hub.cli("export", "places", "--consultation", "alpimed-2030",
                          "--format", "csv")
        assert decidim.returncode == 0, decidim.stderr
        rows = {r["title/fr"]: r for r in csv.DictReader(io.StringIO(decidim.stdout))}
        assert "Pub" not in rows
        assert rows["Banc au soleil"]["latitude"] == str(round(pinned.place["lat"], decimals))
        assert rows["Banc au soleil"]["address"] == perimeter.area(centre_area).name["fr"]
        assert rows["Fontaine"]["address"] == perimeter.area(other).name["fr"]
        assert rows["Fontaine"]["latitude"] == rows["Navette"]["address"] == ""
    finally:
        store.close()
