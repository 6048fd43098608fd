#!/usr/bin/env python3
"""Make the demo consultation's map from the reference commune boundaries.

Usage::

    python tools/make_demo_map.py [--geo DIR] [--out DIR] [--min-zoom 9] [--max-zoom 13]

`--geo` is the folder of the reference data (default `../shared/data/geo/` from the
repository's root: `communes-06-alpes-maritimes.geojson` and `comuni-imperia.geojson`, see its
README for sources and licences); `--out` defaults to `assets/demo/map/`. Writes:

* ``alpimed.mbtiles``   the offline base map: raster MBTiles 1.3, 256-pixel PNG tiles, XYZ
  zooms min..max over the perimeter's bounding box and a margin. Sea and land (the union of
  the communes of both files: what neither file covers, such as the province of Cuneo, is
  drawn like the sea), the perimeter's communes lighter, every commune outlined, the
  French–Italian border as a wide dashed line; no text (the tablet draws the communes' names
  itself, in the reader's language and at a size people read: at 8-10 px, names drawn in
  the tiles were too small on the kiosk and the projector). `--tile-labels` draws them in
  the tiles as before (the perimeter communes' names with their name in the other language
  beneath, from the zoom where they fit inside the commune; the countries; the sea).
* ``perimeter.geojson`` the perimeter: a FeatureCollection of the 16 communes (RFC 7946:
  outer rings counter-clockwise, coordinates rounded to 5 decimals), with `id`, their names in
  French, Italian and English, country and official code.
* ``map.json``          the `map` section of the demo bundle (docs/bundle-format.md): the areas
  of perimeter.geojson, the base map's path, first view, zoom limits, the attribution the
  sources require, the export rounding. Copy it into `consultation.map` of bundle.json.

The output is deterministic: the same inputs, Pillow, zlib and SQLite give the same bytes
(fixed metadata, no timestamps, tiles inserted in order, the database vacuumed).
Fonts: Roboto from the installed Kivy package (pinned), unless `--font-dir` says otherwise.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from pathlib import Path

from PIL import ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.geo import Shape, bbox_union, pixel_to_lonlat, ring_area, tms_row  # noqa: E402
# The drawing and the MBTiles file are python -m server map build's (a city's own map).
from server.mapbuild import (COMMUNE_LINE, LAND, NO_DATA, PERIMETER_FILL,  # noqa: E402
                             PERIMETER_LINE, SUPERSAMPLE, Canvas,
                             chain, clean_geometry, geojson_text, polygons_of, write_mbtiles)

FRENCH_FILE = "communes-06-alpes-maritimes.geojson"
ITALIAN_FILE = "comuni-imperia.geojson"
TILES_FILE = "alpimed.mbtiles"
PERIMETER_FILE = "perimeter.geojson"
SECTION_FILE = "map.json"

# The perimeter, in the bundle's order (a point on a shared border belongs to the first):
# (country, name in the source file, area id, French, Italian, English).
PERIMETER = [
    ("FR", "Menton", "menton", "Menton", "Mentone", "Menton"),
    ("FR", "Roquebrune-Cap-Martin", "roquebrune-cap-martin", "Roquebrune-Cap-Martin",
     "Roccabruna", "Roquebrune-Cap-Martin"),
    ("FR", "Castellar", "castellar", "Castellar", "Castellaro", "Castellar"),
    ("FR", "Sospel", "sospel", "Sospel", "Sospello", "Sospel"),
    ("FR", "Breil-sur-Roya", "breil-sur-roya", "Breil-sur-Roya", "Breglio", "Breil-sur-Roya"),
    ("FR", "Saorge", "saorge", "Saorge", "Saorgio", "Saorge"),
    ("FR", "Fontan", "fontan", "Fontan", "Fontano", "Fontan"),
    ("FR", "Tende", "tende", "Tende", "Tenda", "Tende"),
    ("FR", "Brigue", "la-brigue", "La Brigue", "Briga Marittima", "La Brigue"),
    ("IT", "Ventimiglia", "ventimiglia", "Vintimille", "Ventimiglia", "Ventimiglia"),
    ("IT", "Camporosso", "camporosso", "Camporosso", "Camporosso", "Camporosso"),
    ("IT", "Dolceacqua", "dolceacqua", "Dolceacqua", "Dolceacqua", "Dolceacqua"),
    ("IT", "Airole", "airole", "Airole", "Airole", "Airole"),
    ("IT", "Olivetta San Michele", "olivetta-san-michele", "Olivetta San Michele",
     "Olivetta San Michele", "Olivetta San Michele"),
    ("IT", "Rocchetta Nervina", "rocchetta-nervina", "Rocchetta Nervina", "Rocchetta Nervina",
     "Rocchetta Nervina"),
    ("IT", "Pigna", "pigna", "Pigna", "Pigna", "Pigna"),
]

# What ../shared/data/geo/README.md requires, word for word, and that the data were changed.
SOURCES = ("Source : IGN – Admin Express COG 2018 ; INSEE – COG 2018 (via "
           "gregoiredavid/france-geojson, Licence Ouverte). Confini amministrativi © ISTAT "
           "(CC BY); elaborazione Openpolis, openpolis/geojson-italy (CC BY 4.0).")
ATTRIBUTION = {
    "fr": SOURCES + " Données modifiées pour Piazzetta (coordonnées arrondies).",
    "it": SOURCES + " Dati modificati per Piazzetta (coordinate arrotondate).",
    "en": SOURCES + " Data changed for Piazzetta (coordinates rounded).",
}

MARGIN = 0.03                      # degrees around the perimeter's bounding box
# North of this line nothing is sea: what the files do not cover there is land of other
# provinces (Cuneo, Savona), drawn as land without data rather than as sea. West of 7.95° E
# the line runs north of the coast; east of the Imperia province it follows the coast of
# Savona's roughly (seen at zooms 9-10 only).
COAST_LIMIT = [(7.95, 43.86), (8.12, 43.93), (8.17, 44.0), (8.22, 44.05), (8.30, 44.12),
               (8.40, 44.18), (8.50, 44.25), (9.5, 44.4)]
VIEW_ZOOM = 11
EXPORT_DECIMALS = 3
# The French and Italian boundaries come from different sources and leave slivers up to about
# 220 m wide between them; the drawn border line is some 6 px wide (80 m at zoom 13, 320 m at
# zoom 11). A tap there counts in the nearest commune rather than being refused.
SNAP_METRES = 250

BORDER_HALO = (214, 184, 224)
BORDER_LINE = (106, 44, 122)
LABEL = (34, 34, 34)
LABEL_OTHER = (80, 80, 80)
HALO = (255, 255, 255)
COUNTRY = (120, 110, 100)
SEA_LABEL = (60, 110, 150)


# -- data -------------------------------------------------------------------------------------

def load(geo: Path) -> tuple[list[dict], list[dict]]:
    french = json.loads((geo / FRENCH_FILE).read_text(encoding="utf-8"))["features"]
    italian = json.loads((geo / ITALIAN_FILE).read_text(encoding="utf-8"))["features"]
    return french, italian


def source_name(feature: dict) -> str:
    props = feature["properties"]
    return props.get("nom") or props.get("name")


def source_code(feature: dict) -> str:
    props = feature["properties"]
    return props.get("code") or props.get("com_istat_code")


def perimeter_features(french: list[dict], italian: list[dict]) -> list[dict]:
    by_name = {("FR", source_name(f)): f for f in french}
    by_name.update({("IT", source_name(f)): f for f in italian})
    features = []
    for country, name, area_id, fr, it, en in PERIMETER:
        source = by_name[(country, name)]
        features.append({
            "type": "Feature", "id": area_id,
            "properties": {"name": {"fr": fr, "it": it, "en": en}, "country": country,
                           "code": source_code(source)},
            "geometry": clean_geometry(source["geometry"])})
    return features


def map_section(features: list[dict], zooms: tuple[int, int]) -> dict:
    menton = next(f for f in features if f["id"] == "menton")
    ventimiglia = next(f for f in features if f["id"] == "ventimiglia")
    # The first view: between Menton and Ventimiglia, where most residents live.
    centre_lon = round((Shape.from_geojson(menton["geometry"]).bbox[2]
                        + Shape.from_geojson(ventimiglia["geometry"]).bbox[0]) / 2, 4)
    return {
        "tiles": f"map/{TILES_FILE}",
        "center": {"lon": centre_lon, "lat": 43.83},
        "zoom": VIEW_ZOOM, "min_zoom": zooms[0], "max_zoom": zooms[1],
        "attribution": ATTRIBUTION,
        "export_decimals": EXPORT_DECIMALS,
        "snap_metres": SNAP_METRES,
        "areas": [{"id": f["id"], "name": f["properties"]["name"], "geometry": f["geometry"]}
                  for f in features],
    }


# -- the national border ---------------------------------------------------------------------

def border_lines(french: list[dict], italian: list[dict]) -> list[list[tuple[float, float]]]:
    """The French–Italian border near the perimeter: the edges of the French communes that no
    other French commune shares (the department's outline), except the coast. The coast is
    told apart because, in this corner, the land border leaves the sea at Pont Saint-Louis
    (43.7847° N): outline edges south of it are coast, or Monaco's boundary; edges near an
    Italian commune's outline are border too."""
    counts: dict = {}
    for feature in french:
        for rings in polygons_of(feature["geometry"]):
            for ring in rings:
                for a, b in zip(ring, ring[1:]):
                    key = (min(tuple(a), tuple(b)), max(tuple(a), tuple(b)))
                    counts[key] = counts.get(key, 0) + 1
    italian_points = [tuple(p) for f in italian for rings in polygons_of(f["geometry"])
                      for ring in rings for p in ring]
    grid: dict = {}
    for lon, lat in italian_points:
        grid.setdefault((int(lon * 200), int(lat * 200)), []).append((lon, lat))

    def near_italy(lon, lat):
        cx, cy = int(lon * 200), int(lat * 200)
        for gx in (cx - 1, cx, cx + 1):
            for gy in (cy - 1, cy, cy + 1):
                for x, y in grid.get((gx, gy), ()):
                    if abs(x - lon) < 0.0015 and abs(y - lat) < 0.0015:
                        return True
        return False

    edges = []
    for (a, b), n in sorted(counts.items()):
        if n != 1 or min(a[0], b[0]) < 7.2:
            continue
        mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        if mid[1] > 43.79 or near_italy(*mid):
            edges.append((a, b))
    return chain(edges)


# -- labels ---------------------------------------------------------------------------------

def label_point(shape: Shape) -> tuple[float, float]:
    """A point well inside the commune's largest polygon: the grid point farthest from its
    edges (a coarse pole of inaccessibility), in a plane scaled to the latitude."""
    polygon = max(shape.polygons, key=lambda p: abs(ring_area(p.outer)))
    west, south, east, north = polygon.bbox
    scale = math.cos(math.radians((south + north) / 2))
    rings = (polygon.outer, *polygon.holes)
    best, best_d = ((west + east) / 2, (south + north) / 2), -1.0
    steps = 28
    for i in range(1, steps):
        for j in range(1, steps):
            lon = west + (east - west) * i / steps
            lat = south + (north - south) * j / steps
            if not polygon.contains(lon, lat):
                continue
            d = min(segment_distance(lon * scale, lat, a[0] * scale, a[1], b[0] * scale, b[1])
                    for ring in rings for a, b in zip(ring, ring[1:]))
            if d > best_d:
                best, best_d = (lon, lat), d
    return best


def segment_distance(px, py, ax, ay, bx, by) -> float:
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def font_dir(given: str | None) -> Path:
    if given:
        return Path(given)
    spec = importlib.util.find_spec("kivy")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("Kivy's fonts are not installed: give --font-dir")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "fonts"


# -- drawing ----------------------------------------------------------------------------------

def fits(shape: Shape, canvas: Canvas, centre, width, height) -> bool:
    """True when a width × height box centred on `centre` (pixels) lies inside the commune."""
    cx, cy = centre
    pad = 3
    left, right = cx - width / 2 - pad, cx + width / 2 + pad
    top, bottom = cy - height / 2 - pad, cy + height / 2 + pad
    samples = []
    steps = max(2, int((right - left) // 6))
    for i in range(steps + 1):
        x = left + (right - left) * i / steps
        samples += [(x, top), (x, bottom)]
    for j in range(5):
        y = top + (bottom - top) * j / 4
        samples += [(left, y), (right, y)]
    for x, y in samples:
        lon, lat = pixel_to_lonlat(x + canvas.x0 * 256, y + canvas.y0 * 256, canvas.zoom)
        if not shape.contains(lon, lat):
            return False
    return True


def draw_labels(canvas: Canvas, areas, fonts):
    zoom = canvas.zoom
    if zoom <= 10:
        big = fonts["country"][zoom]
        for text, lon, lat in (("FRANCE", 7.40, 44.10), ("ITALIA", 7.78, 44.02)):
            canvas.draw.text(canvas.xy(lon, lat, 1), text, font=big, fill=COUNTRY,
                             anchor="mm", stroke_width=2, stroke_fill=HALO)
    if zoom >= 10:
        sea = fonts["sea"][min(zoom, 13)]
        canvas.draw.text(canvas.xy(7.50, 43.735, 1), "Mer Méditerranée · Mar Mediterraneo",
                         font=sea, fill=SEA_LABEL, anchor="mm")
    if zoom < 10:
        return
    name_font, other_font = fonts["name"][zoom], fonts["other"][zoom]
    for area in areas:
        centre = canvas.xy(*area["label"], 1)
        main = area["local"]
        other = area["other"]
        w, h = text_size(canvas.draw, main, name_font)
        if not fits(area["shape"], canvas, centre, w, h):
            continue
        if other:
            ow, oh = text_size(canvas.draw, other, other_font)
            both_h = h + oh + 2
            if fits(area["shape"], canvas, centre, max(w, ow), both_h):
                top = centre[1] - both_h / 2
                canvas.draw.text((centre[0], top + h / 2), main, font=name_font, fill=LABEL,
                                 anchor="mm", stroke_width=2, stroke_fill=HALO)
                canvas.draw.text((centre[0], top + h + 2 + oh / 2), other, font=other_font,
                                 fill=LABEL_OTHER, anchor="mm", stroke_width=2,
                                 stroke_fill=HALO)
                continue
        canvas.draw.text(centre, main, font=name_font, fill=LABEL, anchor="mm",
                         stroke_width=2, stroke_fill=HALO)


def text_size(draw, text, font):
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, anchor="mm",
                                             stroke_width=2)
    return right - left, bottom - top


def render(zoom, box, land, perimeter, borders, areas, fonts, labels=False):
    canvas = Canvas(zoom, box)
    s = SUPERSAMPLE
    limit = [(box[0] - 1, COAST_LIMIT[0][1]), *COAST_LIMIT]
    canvas.fill([limit + [(limit[-1][0], 85), (limit[0][0], 85), limit[0]]], NO_DATA)
    for rings in land:
        canvas.fill(rings[:1], LAND)
    for rings in perimeter:
        canvas.fill(rings[:1], PERIMETER_FILL)
        canvas.fill(rings[1:], LAND)
    for rings in land:
        for ring in rings:
            canvas.line(ring, COMMUNE_LINE, s)
    for rings in perimeter:
        for ring in rings:
            canvas.line(ring, PERIMETER_LINE, 2 * s if zoom >= 11 else s + 1)
    halo = (4 if zoom <= 10 else 6) * s
    for line in borders:
        canvas.line(line, BORDER_HALO, halo)
    for line in borders:
        canvas.dashed(line, BORDER_LINE, 2 * s, 10 * s, 6 * s)
    canvas.reduce()
    if labels:
        draw_labels(canvas, areas, fonts)
    return canvas


# -- the MBTiles file -------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--geo", type=Path, default=ROOT.parent / "shared" / "data" / "geo")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "demo" / "map")
    parser.add_argument("--min-zoom", type=int, default=9)
    parser.add_argument("--max-zoom", type=int, default=13)
    parser.add_argument("--font-dir", default=None)
    parser.add_argument("--tile-labels", action="store_true",
                        help="draw the names in the tiles (the tablet draws them otherwise)")
    args = parser.parse_args()

    french, italian = load(args.geo)
    features = perimeter_features(french, italian)
    shapes = [Shape.from_geojson(f["geometry"]) for f in features]
    bbox = bbox_union(s.bbox for s in shapes)
    box = (bbox[0] - MARGIN, bbox[1] - MARGIN, bbox[2] + MARGIN, bbox[3] + MARGIN)

    near = (box[0] - 0.3, box[1] - 0.3, box[2] + 0.3, box[3] + 0.3)
    land = []
    for feature in french + italian:
        for rings in polygons_of(feature["geometry"]):
            w, s, e, n = Shape.from_geojson({"type": "Polygon", "coordinates": rings}).bbox
            if w < near[2] and e > near[0] and s < near[3] and n > near[1]:
                land.append(rings)
    perimeter = [rings for f in features for rings in polygons_of(f["geometry"])]
    borders = border_lines(french, italian)
    areas = []
    for (country, _n, area_id, fr, it, _en), shape in zip(PERIMETER, shapes):
        local, other = (fr, it) if country == "FR" else (it, fr)
        areas.append({"id": area_id, "shape": shape, "label": label_point(shape),
                      "local": local, "other": other if other != local else None})

    fonts_at = font_dir(args.font_dir)
    zooms = range(args.min_zoom, args.max_zoom + 1)
    fonts = {
        "name": {z: ImageFont.truetype(str(fonts_at / "Roboto-Bold.ttf"), 10 + 2 * (z - 10))
                 for z in zooms},
        "other": {z: ImageFont.truetype(str(fonts_at / "Roboto-Italic.ttf"), 9 + 2 * (z - 10))
                  for z in zooms},
        "country": {z: ImageFont.truetype(str(fonts_at / "Roboto-Bold.ttf"), 12 + 3 * (z - 9))
                    for z in zooms},
        "sea": {z: ImageFont.truetype(str(fonts_at / "Roboto-Italic.ttf"), 10 + 2 * (z - 10))
                for z in zooms},
    }
    tiles = []
    for zoom in zooms:
        canvas = render(zoom, box, land, perimeter, borders, areas, fonts, args.tile_labels)
        for x, y, data in canvas.tiles():
            tiles.append((zoom, x, tms_row(y, zoom), data))

    args.out.mkdir(parents=True, exist_ok=True)
    section = map_section(features, (args.min_zoom, args.max_zoom))
    metadata = {
        "name": "Piazzetta demo: Alpes-Méditerranée / Alpi-Mediterraneo",
        "format": "png", "type": "baselayer", "version": "1",
        "description": "Communes of the demo consultation's perimeter, on both sides of the "
                       "French-Italian border (tools/make_demo_map.py).",
        "bounds": ",".join(f"{v:.5f}" for v in box),
        "center": f"{section['center']['lon']},{section['center']['lat']},{VIEW_ZOOM}",
        "minzoom": str(args.min_zoom), "maxzoom": str(args.max_zoom),
        "attribution": ATTRIBUTION["en"],
    }
    write_mbtiles(args.out / TILES_FILE, metadata, tiles)
    collection = {"type": "FeatureCollection", "features": features}
    (args.out / PERIMETER_FILE).write_text(geojson_text(collection), encoding="utf-8")
    (args.out / SECTION_FILE).write_text(geojson_text(section), encoding="utf-8")
    size = (args.out / TILES_FILE).stat().st_size
    print(f"{TILES_FILE}: {len(tiles)} tiles, zooms {args.min_zoom}-{args.max_zoom}, "
          f"{size:,} bytes; {PERIMETER_FILE}: {len(features)} communes")


if __name__ == "__main__":
    main()
