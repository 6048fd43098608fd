"""Places on the map: point in polygon (holes, MultiPolygons, borders), the perimeter's areas,
Web-Mercator tile maths and rounding (app/geo.py, ConsultationMap in app/model.py)."""
import json
import math

import pytest

from app.geo import (BOUNDARY_TOLERANCE, Shape, area_of, bbox_contains, bbox_union,
                     distance_m, is_coordinate, is_position, lonlat_to_pixel, lonlat_to_tile,
                     metres_per_pixel, nearest_area, pixel_to_lonlat, ring_area, round_position,
                     tile_bbox, tiles_covering, tms_row)
from app.model import ConsultationMap, MapArea
from app.paths import DEMO_BUNDLE_DIR


def square(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def polygon(*rings):
    return Shape.from_geojson({"type": "Polygon", "coordinates": list(rings)})


def multipolygon(*polygons):
    return Shape.from_geojson({"type": "MultiPolygon", "coordinates": list(polygons)})


# -- point in polygon ------------------------------------------------------------------------

def test_polygon_with_a_hole():
    shape = polygon(square(0, 0, 4, 4), square(1, 1, 2, 2))
    assert shape.contains(3, 3)
    assert not shape.contains(1.5, 1.5)          # in the hole
    assert shape.contains(1, 1.5)                # on the hole's edge: the boundary is the area's
    assert shape.contains(0, 2) and shape.contains(4, 4)      # outer edge and corner
    assert not shape.contains(5, 2) and not shape.contains(-0.1, 2)
    assert shape.bbox == (0, 0, 4, 4)


def test_ring_orientation_does_not_matter():
    clockwise = list(reversed(square(0, 0, 4, 4)))
    assert ring_area(square(0, 0, 4, 4)) == 16 and ring_area(clockwise) == -16
    assert polygon(clockwise).contains(2, 2) and not polygon(clockwise).contains(5, 2)


def test_concave_polygon():
    u_shape = polygon([[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]])
    assert u_shape.contains(0.5, 2) and u_shape.contains(2.5, 2)
    assert not u_shape.contains(1.5, 2)          # between the arms
    assert u_shape.contains(1.5, 0.5)


def test_multipolygon_with_an_island_in_another_areas_hole():
    """Like Pigna's exclave inside a hole of Castel Vittorio in the Italian data."""
    mainland = [square(0, 0, 4, 4), square(1, 1, 2, 2)]
    island = [square(1.25, 1.25, 1.75, 1.75)]
    pigna = multipolygon([square(5, 0, 8, 4)], island)
    castel_vittorio = polygon(*mainland)
    assert pigna.contains(1.5, 1.5) and pigna.contains(6, 2)
    assert not pigna.contains(3, 3) and not pigna.contains(4.5, 2)
    areas = [("castel-vittorio", castel_vittorio), ("pigna", pigna)]
    assert area_of(areas, 1.5, 1.5) == "pigna"
    assert area_of(areas, 1.1, 1.1) is None       # in the hole, not on the island
    assert area_of(areas, 3, 3) == "castel-vittorio"


def test_a_point_on_a_border_belongs_to_the_first_area_listed():
    west, east = polygon(square(0, 0, 1, 1)), polygon(square(1, 0, 2, 1))
    for point in [(1, 0.5), (1, 0), (1, 1), (1, 0.123456789)]:
        assert west.contains(*point) and east.contains(*point)
        assert area_of([("west", west), ("east", east)], *point) == "west"
        assert area_of([("east", east), ("west", west)], *point) == "east"
    assert area_of([("west", west), ("east", east)], 1.5, 0.5) == "east"


def test_the_boundary_tolerance():
    shape = polygon(square(0, 0, 1, 1))
    assert shape.contains(1 + BOUNDARY_TOLERANCE / 2, 0.5)
    assert not shape.contains(1 + BOUNDARY_TOLERANCE * 10, 0.5)
    slanted = polygon([[0, 0], [3, 1], [0, 2], [0, 0]])
    lon = 1.7
    on_edge = lon / 3                             # y on the edge from (0, 0) to (3, 1)
    assert slanted.contains(lon, on_edge) and slanted.contains(lon, on_edge + 1e-12)
    assert not slanted.contains(lon, on_edge - 1e-6)


def demo_perimeter():
    section = json.loads((DEMO_BUNDLE_DIR / "map" / "map.json").read_text(encoding="utf-8"))
    return [MapArea(a["id"], a["name"], Shape.from_geojson(a["geometry"]))
            for a in section["areas"]]


def test_a_point_on_a_border_between_two_demo_communes():
    """Menton and Castellar share vertices in the French data: a shared vertex and the middle
    of a shared edge are in both communes; the area is the one listed first (Menton)."""
    areas = {a.id: a for a in demo_perimeter()}
    menton, castellar = areas["menton"].shape, areas["castellar"].shape
    edges = lambda shape: {frozenset((a, b)) for p in shape.polygons  # noqa: E731
                           for a, b in zip(p.outer, p.outer[1:])}
    shared = sorted(tuple(sorted(e)) for e in edges(menton) & edges(castellar))
    assert shared, "Menton and Castellar share a border"
    (ax, ay), (bx, by) = shared[0]
    for point in [(ax, ay), ((ax + bx) / 2, (ay + by) / 2)]:
        assert menton.contains(*point) and castellar.contains(*point)
        perimeter = ConsultationMap("map/x.mbtiles", point, 11, 9, 13, {}, tuple(areas.values()))
        assert perimeter.area_of(*point) == "menton"
        reversed_map = ConsultationMap("map/x.mbtiles", point, 11, 9, 13, {},
                                       tuple(reversed(list(areas.values()))))
        assert reversed_map.area_of(*point) == "castellar"


def test_demo_places():
    perimeter = ConsultationMap("map/x.mbtiles", (7.5, 43.8), 11, 9, 13, {},
                                tuple(demo_perimeter()))
    assert perimeter.area_of(7.4975, 43.7745) == "menton"          # Menton's old town
    assert perimeter.area_of(7.6075, 43.7905) == "ventimiglia"     # Ventimiglia
    assert perimeter.area_of(7.5944, 44.0913) == "tende"           # Tende
    assert perimeter.area_of(7.2620, 43.7034) is None              # Nice, outside
    assert perimeter.area_of(7.55, 43.70) is None                  # the sea


# -- nested areas and snapping ------------------------------------------------------------------

def test_nested_areas_the_most_nested_wins():
    commune = MapArea("commune", {"fr": "C"}, polygon(square(0, 0, 4, 4)))
    quarter = MapArea("quarter", {"fr": "Q"}, polygon(square(0, 0, 2, 2)), parent="commune")
    other = MapArea("other", {"fr": "O"}, polygon(square(4, 0, 8, 4)))
    perimeter = ConsultationMap("m.mbtiles", (1, 1), 11, 9, 13, {}, (commune, quarter, other))
    assert perimeter.area_of(1, 1) == "quarter"
    assert perimeter.area_of(3, 3) == "commune"
    assert perimeter.area_of(4, 3) == "commune"         # the border: first of the same depth
    assert perimeter.ancestors("quarter") == ("commune",)
    assert perimeter.ancestors("commune") == () and perimeter.ancestors("ghost") == ()
    assert perimeter.bbox == (0, 0, 8, 4)


def test_distance_and_snapping_to_the_nearest_area():
    lat = 44.0
    metre = 1 / (111_320 * math.cos(math.radians(lat)))          # a metre east, in degrees
    west = polygon(square(7.0, 43.9, 7.1, 44.1))
    east = polygon(square(7.1 + 200 * metre, 43.9, 7.2, 44.1))   # a 200 m sliver between
    in_sliver = 7.1 + 50 * metre
    assert distance_m(west, in_sliver, lat, 100) == pytest.approx(50, rel=1e-3)
    assert distance_m(east, in_sliver, lat, 100) is None         # 150 m: farther than asked
    areas = [("west", west), ("east", east)]
    assert area_of(areas, in_sliver, lat) is None
    assert nearest_area(areas, in_sliver, lat, 250) == "west"
    assert nearest_area(areas, 7.1 + 150 * metre, lat, 250) == "east"
    assert nearest_area(areas, 7.1 + 100 * metre, lat, 50) is None
    twin = [("first", west), ("second", polygon(square(7.0, 43.9, 7.1, 44.1)))]
    assert nearest_area(twin, in_sliver, lat, 250) == "first"          # as near: first listed
    strict = ConsultationMap("m.mbtiles", (7.05, 44.0), 11, 9, 13, {},
                             (MapArea("west", {}, west), MapArea("east", {}, east)))
    snapping = ConsultationMap("m.mbtiles", (7.05, 44.0), 11, 9, 13, {}, strict.areas,
                               snap_metres=250)
    assert strict.area_of(in_sliver, lat) is None
    assert snapping.area_of(in_sliver, lat) == "west"
    assert snapping.area_of(7.5, lat) is None                     # far away stays outside


# -- bounding boxes, coordinates, rounding ----------------------------------------------------

def test_bounding_boxes():
    box = bbox_union([(0, 0, 1, 1), (-1, 0.5, 0.5, 3)])
    assert box == (-1, 0, 1, 3)
    assert bbox_contains(box, -1, 3) and not bbox_contains(box, 1.01, 1)


@pytest.mark.parametrize("value,ok", [
    (7.5, True), (-180, True), (180.0, True), (180.0001, False), (float("nan"), False),
    (float("inf"), False), (-float("inf"), False), (True, False), ("7.5", False), (None, False),
    (10 ** 400, False), (1e308, False), ([7.5], False)])
def test_coordinates(value, ok):
    assert is_coordinate(value, 180) is ok


def test_positions():
    assert is_position([7.5, 43.8]) and is_position([7.5, 43.8, 120.0])
    assert not is_position([7.5]) and not is_position([7.5, 95]) and not is_position("7,43")
    assert not is_position([7.5, 43.8, 1, 2]) and not is_position({"lon": 7.5, "lat": 43.8})


def test_rounding_for_exports():
    assert round_position(7.5012345, 43.7765432, 3) == (7.501, 43.777)
    assert round_position(7.5012345, 43.7765432, 0) == (8.0, 44.0)
    assert round_position(7, 43, 5) == (7.0, 43.0)


# -- Web-Mercator tiles ---------------------------------------------------------------------------

def reference_tile(lon, lat, zoom):
    """The slippy-map formula as OpenStreetMap's wiki writes it."""
    n = 2 ** zoom
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


@pytest.mark.parametrize("lon,lat", [(7.4975, 43.7745), (7.6075, 43.7905), (7.5944, 44.0913),
                                     (0, 0), (-122.4194, 37.7749), (151.2093, -33.8688),
                                     (179.99, 85.0), (-179.99, -85.0)])
def test_tile_maths_round_trips(lon, lat):
    for zoom in (0, 3, 9, 11, 13, 18):
        x, y = lonlat_to_pixel(lon, lat, zoom)
        back = pixel_to_lonlat(x, y, zoom)
        assert back == pytest.approx((lon, lat), abs=1e-9)
        tile = lonlat_to_tile(lon, lat, zoom)
        assert tile == reference_tile(lon, lat, zoom)
        assert tile == (int(x // 256), int(y // 256))
        west, south, east, north = tile_bbox(*tile, zoom)
        assert west <= lon <= east and south <= lat <= north
        assert tms_row(tms_row(tile[1], zoom), zoom) == tile[1]


def test_fractional_zoom_and_pixel_scale():
    x11, y11 = lonlat_to_pixel(7.5, 43.8, 11)
    x12, y12 = lonlat_to_pixel(7.5, 43.8, 12)
    x_half, _ = lonlat_to_pixel(7.5, 43.8, 11.5)
    assert x12 == pytest.approx(2 * x11) and y12 == pytest.approx(2 * y11)
    assert x_half == pytest.approx(x11 * 2 ** 0.5)
    assert metres_per_pixel(0, 0) == pytest.approx(156_543.03, rel=1e-6)
    assert metres_per_pixel(43.8, 13) == pytest.approx(13.8, abs=0.1)


def test_tiles_at_the_edges_of_the_world():
    assert lonlat_to_tile(-180, 85.06, 0) == (0, 0)
    assert lonlat_to_tile(180, -89.9, 2) == (3, 3)       # clamped, not (4, 4)
    assert lonlat_to_pixel(0, 90, 0)[1] == pytest.approx(0, abs=1e-6)
    assert tms_row(0, 0) == 0 and tms_row(0, 13) == 8191


def test_tiles_covering_the_demo_perimeter():
    box = bbox_union(a.shape.bbox for a in demo_perimeter())
    x0, y0, x1, y1 = tiles_covering(box, 13)
    assert (x0, y0) == lonlat_to_tile(box[0], box[3], 13)
    assert (x1, y1) == lonlat_to_tile(box[2], box[1], 13)
    assert 50 <= (x1 - x0 + 1) * (y1 - y0 + 1) <= 200
