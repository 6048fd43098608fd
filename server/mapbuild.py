"""A consultation's map from a city's own GeoJSON: `python -m server map build` (issue 27).

    python -m server map build AREAS.geojson [MORE.geojson …] --name PROP [--id PROP]
        [--layer CONTEXT.geojson …] [--attribution "…" | --attribution fr="…" …]
        [--out map] [--min-zoom Z] [--max-zoom Z] [--snap-metres M]

The areas (the perimeter: communes, neighbourhoods) come from FeatureCollections of Polygon and
MultiPolygon features in WGS84 longitude/latitude; each area's name is the first of the
properties `--name` lists that the feature has, its identifier the `--id` property's value (or
the name's), made an identifier. Optional `--layer` files are drawn beneath, for context
(neighbouring communes, a lake), and are not areas. The base map's tiles are drawn here, offline,
with Pillow: no tile server, no network. The style: a neutral background, land, every area
filled light with its outline, the perimeter's outline darker. No text in the tiles: the tablet
draws the areas' names itself, in the reader's language and at a size people read (a name
drawn in a tile is cut at the tile's edge and too small on a kiosk).

Writes into `--out` (default `map`, a folder beside the spreadsheet's images): `basemap.mbtiles`
(raster MBTiles 1.3, 256-pixel PNG tiles) and `map.json`, the bundle's `map` section whose
`tiles` path is `<out's name>/basemap.mbtiles` — the spreadsheet's `map` cell then names
`map/map.json`. Zoom levels come from the extent: the lowest shows the whole perimeter on a
tablet, the highest is up to four levels closer as long as the tiles stay under MAX_TILES.

Everything input can grow is bounded before work starts: file size, features, positions
(simplified to fit the bundle's limit), tiles. The output is deterministic (same inputs, Pillow,
zlib and SQLite give the same bytes). tools/make_demo_map.py draws the demo's map with the
pieces of this module.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from app.bundle import MAX_MAP_AREAS, MAX_MAP_POSITIONS, MAX_TILES_BYTES
from app.canonical import compact_json
from app.errors import N_, DomainError
from app.geo import (bbox_center, bbox_union, lonlat_to_pixel, ring_area, simplify_ring,
                     tiles_covering, tms_row)
from app.identifiers import content_id_from, is_content_id

LANGUAGES = ("fr", "it", "en")
MAX_GEOJSON_BYTES = 8 * 1024 * 1024         # one file (the upload's limit for .geojson too)
MAX_FEATURES = 5000                         # per file, areas and context layers alike
MAX_SOURCE_POSITIONS = 1_000_000            # read from all files, before simplifying
MAX_TILES = 3000                            # all zoom levels together
MIN_ZOOM_LIMIT, MAX_ZOOM_LIMIT = 4, 17
ZOOM_LEVELS = 5                             # from the whole perimeter to 4 levels closer
FIT_PIXELS = (900, 560)                     # the lowest zoom shows the perimeter in this
MARGIN = 0.04                               # of the extent, around it
DECIMALS = 5
TILES_FILE = "basemap.mbtiles"
SECTION_FILE = "map.json"
EXPORT_DECIMALS = 3
SUPERSAMPLE = 2
PALETTE_COLOURS = 48

SEA = (170, 211, 230)
NO_DATA = (236, 236, 233)          # what no file covers
LAND = (226, 222, 211)
PERIMETER_FILL = (252, 249, 240)
COMMUNE_LINE = (168, 160, 150)
PERIMETER_LINE = (96, 104, 112)
LAYER_LINE = (120, 150, 170)


class MapBuildError(DomainError):
    """A GeoJSON file `map build` cannot use; names the file (and the feature)."""

    def __init__(self, message: str, file: str, **params: Any):
        self.file = file
        super().__init__(message, None, **params)

    def describe(self, gettext=None) -> str:
        return f"{self.file}: {super().describe(gettext)}"


# -- reading GeoJSON ---------------------------------------------------------------------------

def polygons_of(geometry: dict) -> list:
    """The polygons (lists of rings) of a Polygon or MultiPolygon."""
    return [geometry["coordinates"]] if geometry["type"] == "Polygon" else \
        geometry["coordinates"]


def clean_ring(ring: list, outer: bool, decimals: int = DECIMALS) -> list[list[float]] | None:
    """Rounded to `decimals`, repeated positions dropped, wound as RFC 7946 says (outer rings
    counter-clockwise, holes clockwise); None when nothing of an area is left."""
    points = []
    for lon, lat, *_ in ring:
        p = [round(lon, decimals), round(lat, decimals)]
        if not points or p != points[-1]:
            points.append(p)
    if not points:
        return None
    if points[0] != points[-1]:
        points.append(points[0])
    if len(points) < 4 or ring_area(points) == 0:
        return None
    if (ring_area(points) > 0) != outer:
        points.reverse()
    return points


def clean_geometry(geometry: dict) -> dict | None:
    """The geometry with its rings cleaned (clean_ring); None when no polygon is left."""
    polygons = []
    for rings in polygons_of(geometry):
        outer = clean_ring(rings[0], True)
        if outer is None:
            continue
        holes = [h for h in (clean_ring(r, False) for r in rings[1:]) if h]
        polygons.append([outer, *holes])
    if not polygons:
        return None
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


_WGS84 = re.compile(r"(CRS84|EPSG:?:?4326|EPSG::4326)$", re.IGNORECASE)


def read_collection(path: Path, counter: list[int]) -> dict:
    """The FeatureCollection in `path`, checked: size first, then JSON, type, CRS, and every
    position a finite longitude/latitude. `counter[0]` adds up the positions of all files."""
    name = path.name
    try:
        size = path.stat().st_size
    except OSError:
        raise MapBuildError(N_("The file cannot be read."), name) from None
    if size > MAX_GEOJSON_BYTES:
        raise MapBuildError(N_("The file is too large: at most {max} MB."), name,
                            max=MAX_GEOJSON_BYTES // (1024 * 1024))
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise MapBuildError(N_("This is not a GeoJSON file (JSON text): a FeatureCollection is "
                               "expected."), name) from None
    return check_collection(data, name, counter)


def check_collection(data: Any, name: str, counter: list[int]) -> dict:
    """See read_collection: the checks after parsing."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" \
            or not isinstance(data.get("features"), list):
        raise MapBuildError(N_("This is not a GeoJSON file (JSON text): a FeatureCollection is "
                               "expected."), name)
    crs = data.get("crs")
    if crs is not None:
        crs_name = str(((crs or {}).get("properties") or {}).get("name", "")) \
            if isinstance(crs, dict) else str(crs)
        if not _WGS84.search(crs_name):
            raise MapBuildError(N_("The coordinates are in {crs}: longitude and latitude in "
                                   "WGS84 (EPSG:4326) are expected. Export the file again in "
                                   "EPSG:4326."), name, crs=crs_name or "?")
    if len(data["features"]) > MAX_FEATURES:
        raise MapBuildError(N_("Too many features: at most {max}."), name, max=MAX_FEATURES)
    for i, feature in enumerate(data["features"]):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict):
            continue
        _check_positions(geometry.get("coordinates"), name, i + 1, counter)
    return data


def _check_positions(value: Any, name: str, number: int, counter: list[int]) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if not isinstance(item, list):
            raise MapBuildError(N_("Feature {number} has malformed coordinates."), name,
                                number=number)
        if item and isinstance(item[0], (int, float)) and not isinstance(item[0], bool):
            if len(item) < 2 or not all(isinstance(v, (int, float)) and math.isfinite(v)
                                        for v in item[:2]):
                raise MapBuildError(N_("Feature {number} has malformed coordinates."), name,
                                    number=number)
            lon, lat = item[0], item[1]
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise MapBuildError(N_("Feature {number} has the position {position}, which is "
                                       "not a longitude and latitude in degrees: the file is "
                                       "in another coordinate system. Export it again in WGS84 "
                                       "(EPSG:4326)."), name, number=number,
                                    position=f"{lon}, {lat}")
            counter[0] += 1
            if counter[0] > MAX_SOURCE_POSITIONS:
                raise MapBuildError(N_("Too many positions: at most {max} in all files."), name,
                                    max=f"{MAX_SOURCE_POSITIONS:,}")
        else:
            stack.extend(item)


def _polygonal(data: dict) -> list[dict]:
    return [f for f in data["features"] if isinstance(f, dict)
            and isinstance(f.get("geometry"), dict)
            and f["geometry"].get("type") in ("Polygon", "MultiPolygon")]


# The upload (server/uploads.py) has no --name nor --id: the usual properties, first found.
NAME_PROPERTIES = ("name", "nom", "nome", "NAME", "NOM", "NOME", "libelle", "LIBELLE")
ID_PROPERTIES = ("code", "insee", "INSEE_COM", "com_istat_code", "PRO_COM_T", "id", "ID")


@dataclass
class Area:
    id: str
    name: str
    geometry: dict


def areas_from(collections: list[tuple[str, dict]], name_props: list[str],
               id_props: list[str]) -> list[Area]:
    """The areas of the files, in their order, with names and unique identifiers."""
    areas: list[Area] = []
    seen: dict[str, int] = {}
    for file, data in collections:
        polygonal = _polygonal(data)
        if not polygonal:
            raise MapBuildError(N_("The file holds no Polygon or MultiPolygon features: the "
                                   "areas are polygons."), file)
        for number, feature in enumerate(data["features"], 1):
            if feature not in polygonal:
                continue
            props = feature.get("properties") or {}
            name = next((props[p] for p in name_props
                         if isinstance(props.get(p), (str, int)) and str(props[p]).strip()),
                        None)
            if name is None:
                raise MapBuildError(N_("Feature {number} has none of the properties {names}: "
                                       "name the property that holds the areas' names with "
                                       "--name (found: {found})."), file, number=number,
                                    names=", ".join(name_props),
                                    found=", ".join(sorted(props)) or "-")
            raw_id = next((props[p] for p in id_props if props.get(p) not in (None, "")),
                          None) if id_props else None
            area_id = str(raw_id) if raw_id is not None and is_content_id(str(raw_id)) \
                else content_id_from(raw_id if raw_id is not None else name)
            geometry = clean_geometry(feature["geometry"])
            if geometry is None:
                continue
            if area_id in seen:
                seen[area_id] += 1
                area_id = f"{area_id[:60]}-{seen[area_id]}"
            seen.setdefault(area_id, 1)
            areas.append(Area(area_id, str(name).strip(), geometry))
    if len(areas) > MAX_MAP_AREAS:
        raise MapBuildError(N_("Too many areas: at most {max}."), collections[0][0],
                            max=MAX_MAP_AREAS)
    return areas


def fit_positions(areas: list[Area], limit: int = MAX_MAP_POSITIONS) -> float:
    """Simplify the areas' rings (Douglas–Peucker) until they hold at most `limit` positions in
    all; returns the tolerance used (0: nothing dropped)."""
    tolerance = 0.0
    while _positions(areas) > limit:
        tolerance = tolerance * 2 if tolerance else 10 ** -DECIMALS
        for area in areas:
            polys = []
            for rings in polygons_of(area.geometry):
                kept = []
                for k, ring in enumerate(rings):
                    flat = [v for p in ring for v in p]
                    simple = simplify_ring(flat, tolerance)
                    points = [[simple[i], simple[i + 1]] for i in range(0, len(simple), 2)]
                    if len(points) >= 4 and ring_area(points) != 0:
                        kept.append(points)
                    elif k == 0:
                        kept.append(ring)
                polys.append(kept)
            area.geometry = {"type": area.geometry["type"],
                             "coordinates": polys[0] if area.geometry["type"] == "Polygon"
                             else polys}
    return tolerance


def _positions(areas: Iterable[Area]) -> int:
    return sum(len(r) for a in areas for rings in polygons_of(a.geometry) for r in rings)


def geometry_bbox(geometry: dict):
    points = [p for rings in polygons_of(geometry) for p in rings[0]]
    return (min(p[0] for p in points), min(p[1] for p in points),
            max(p[0] for p in points), max(p[1] for p in points))


def outline_edges(geometries: Iterable[dict]) -> list[list[tuple[float, float]]]:
    """The outline of the union of polygons that share their borders vertex for vertex (areas
    from one source): the edges only one ring uses, joined into polylines."""
    counts: dict = {}
    for geometry in geometries:
        for rings in polygons_of(geometry):
            for ring in rings:
                for a, b in zip(ring, ring[1:]):
                    key = (min(tuple(a), tuple(b)), max(tuple(a), tuple(b)))
                    counts[key] = counts.get(key, 0) + 1
    return chain(sorted(edge for edge, n in counts.items() if n == 1))


def chain(edges: list) -> list[list[tuple[float, float]]]:
    """Edges joined into polylines, so that dashes and joins run on along the line."""
    following: dict = {}
    for a, b in edges:
        following.setdefault(a, []).append(b)
        following.setdefault(b, []).append(a)
    used, lines = set(), []
    starts = sorted(following, key=lambda p: (len(following[p]) != 1, p))
    for start in starts:
        for nxt in sorted(following[start]):
            if (start, nxt) in used:
                continue
            line, prev, cur = [start], start, nxt
            used.update({(prev, cur), (cur, prev)})
            line.append(cur)
            while True:
                options = [p for p in sorted(following[cur]) if (cur, p) not in used]
                if len(options) != 1:
                    break
                prev, cur = cur, options[0]
                used.update({(prev, cur), (cur, prev)})
                line.append(cur)
            lines.append(line)
    return lines


# -- drawing ----------------------------------------------------------------------------------

class Canvas:
    """One zoom level, or a block of its tiles, drawn supersampled, then cut into tiles."""

    def __init__(self, zoom: int, box=None, *, tiles=None, background=SEA):
        from PIL import Image, ImageDraw
        self.zoom = zoom
        self.x0, self.y0, self.x1, self.y1 = tiles if tiles is not None else \
            tiles_covering(box, zoom)
        self.width = (self.x1 - self.x0 + 1) * 256
        self.height = (self.y1 - self.y0 + 1) * 256
        self.image = Image.new("RGB", (self.width * SUPERSAMPLE, self.height * SUPERSAMPLE),
                               background)
        self.draw = ImageDraw.Draw(self.image)

    def xy(self, lon, lat, scale=SUPERSAMPLE):
        x, y = lonlat_to_pixel(lon, lat, self.zoom)
        return ((x - self.x0 * 256) * scale, (y - self.y0 * 256) * scale)

    def ring(self, ring, scale=SUPERSAMPLE):
        return [self.xy(p[0], p[1], scale) for p in ring]

    def fill(self, rings, colour):
        for ring in rings:
            self.draw.polygon(self.ring(ring), fill=colour)

    def line(self, ring, colour, width):
        self.draw.line(self.ring(ring), fill=colour, width=width, joint="curve")

    def dashed(self, points, colour, width, on, off):
        """A dashed polyline; the pattern carries on from one segment to the next."""
        pixels = self.ring(points)
        phase, drawing = on, True
        for (ax, ay), (bx, by) in zip(pixels, pixels[1:]):
            length = math.hypot(bx - ax, by - ay)
            done = 0.0
            while done < length:
                step = min(phase, length - done)
                if drawing:
                    t0, t1 = done / length, (done + step) / length
                    self.draw.line([(ax + (bx - ax) * t0, ay + (by - ay) * t0),
                                    (ax + (bx - ax) * t1, ay + (by - ay) * t1)],
                                   fill=colour, width=width)
                done += step
                phase -= step
                if phase <= 0:
                    drawing = not drawing
                    phase = on if drawing else off

    def reduce(self):
        """Back to tile pixels (anti-aliased); text is drawn after this, at its final size."""
        from PIL import Image, ImageDraw
        self.image = self.image.resize((self.width, self.height), Image.LANCZOS)
        self.draw = ImageDraw.Draw(self.image)

    def tiles(self):
        """(x, y, PNG bytes) of each tile, XYZ rows, west to east then north to south."""
        from PIL import Image
        palette = self.image.quantize(PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT,
                                      dither=Image.Dither.NONE)
        for x in range(self.x0, self.x1 + 1):
            for y in range(self.y0, self.y1 + 1):
                left, top = (x - self.x0) * 256, (y - self.y0) * 256
                tile = palette.crop((left, top, left + 256, top + 256))
                buffer = io.BytesIO()
                tile.save(buffer, "PNG", optimize=True)
                yield x, y, buffer.getvalue()


def write_mbtiles(path: Path, metadata: dict, tiles: list) -> None:
    """A raster MBTiles 1.3 file, written whole beside `path` then moved into place."""
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("PRAGMA application_id = 1297105496")   # 0x4d504258, "MPBX": MBTiles
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    conn.execute("CREATE UNIQUE INDEX name ON metadata (name)")
    conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
                 "tile_row INTEGER, tile_data BLOB)")
    conn.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
    conn.executemany("INSERT INTO metadata VALUES (?, ?)", sorted(metadata.items()))
    conn.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)", sorted(tiles))
    conn.execute("COMMIT")
    conn.execute("VACUUM")
    conn.close()
    os.replace(tmp, path)


def geojson_text(data) -> str:
    """JSON indented like bundle.json, except that each ring of coordinates stays on one
    line (a ring per line keeps the file readable and its diffs short)."""
    rings = {}

    def mark(value):
        if isinstance(value, dict):
            return {k: (mark_coordinates(v) if k == "coordinates" else mark(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    def mark_coordinates(value):
        if value and isinstance(value[0][0], (int, float)):       # a ring
            key = f"@@ring{len(rings)}@@"
            rings[key] = compact_json(value)
            return key
        return [mark_coordinates(v) for v in value]

    text = json.dumps(mark(data), ensure_ascii=False, indent=1)
    for key, ring in rings.items():
        text = text.replace(f'"{key}"', ring)
    return text + "\n"


# -- zoom levels and tiles ---------------------------------------------------------------------

def tile_count(box, zoom: int) -> int:
    x0, y0, x1, y1 = tiles_covering(box, zoom)
    return (x1 - x0 + 1) * (y1 - y0 + 1)


def zoom_levels(box, min_zoom: int | None = None, max_zoom: int | None = None,
                max_tiles: int = MAX_TILES) -> tuple[int, int]:
    """The lowest zoom showing the whole box in FIT_PIXELS, and up to ZOOM_LEVELS - 1 levels
    closer while all levels' tiles stay within `max_tiles` (given limits win; too many tiles for
    them is an error the caller reports)."""
    if min_zoom is None:
        min_zoom = MIN_ZOOM_LIMIT
        for zoom in range(MAX_ZOOM_LIMIT, MIN_ZOOM_LIMIT - 1, -1):
            x0, y0 = lonlat_to_pixel(box[0], box[3], zoom)
            x1, y1 = lonlat_to_pixel(box[2], box[1], zoom)
            if x1 - x0 <= FIT_PIXELS[0] and y1 - y0 <= FIT_PIXELS[1]:
                min_zoom = zoom
                break
    if max_zoom is None:
        max_zoom, total = min_zoom, tile_count(box, min_zoom)
        while max_zoom < min(min_zoom + ZOOM_LEVELS - 1, MAX_ZOOM_LIMIT):
            more = tile_count(box, max_zoom + 1)
            if total + more > max_tiles:
                break
            max_zoom, total = max_zoom + 1, total + more
    return min_zoom, max_zoom


# Tiles drawn together (a block of BLOCK × BLOCK tiles): lines join across tile edges, and the
# memory a canvas takes stays bounded (4 × 4 tiles, supersampled: 2048² pixels, 12 MB).
BLOCK = 4


def render_tiles(zoom: int, box, areas: list[Area], perimeter_lines, layers: list[dict]):
    """(zoom, x, TMS row, PNG) of every tile covering `box` at `zoom`."""
    tx0, ty0, tx1, ty1 = tiles_covering(box, zoom)
    s = SUPERSAMPLE
    area_boxes = [(geometry_bbox(a.geometry), a) for a in areas]
    layer_boxes = [(geometry_bbox(g), g) for g in layers if g["type"] in
                   ("Polygon", "MultiPolygon")]
    lines = [g for g in layers if g["type"] in ("LineString", "MultiLineString")]
    out = []
    for bx in range(tx0, tx1 + 1, BLOCK):
        for by in range(ty0, ty1 + 1, BLOCK):
            block = (bx, by, min(bx + BLOCK - 1, tx1), min(by + BLOCK - 1, ty1))
            canvas = Canvas(zoom, tiles=block, background=NO_DATA)
            west, north = _lonlat(block[0], block[1], zoom)
            east, south = _lonlat(block[2] + 1, block[3] + 1, zoom)
            pad = (east - west) * 0.02

            def near(b):
                return b[0] <= east + pad and b[2] >= west - pad and b[1] <= north + pad \
                    and b[3] >= south - pad
            for b, geometry in layer_boxes:
                if near(b):
                    for rings in polygons_of(geometry):
                        canvas.fill(rings[:1], LAND)
                        canvas.fill(rings[1:], NO_DATA)
                        for ring in rings:
                            canvas.line(ring, COMMUNE_LINE, s)
            for geometry in lines:
                parts = [geometry["coordinates"]] if geometry["type"] == "LineString" \
                    else geometry["coordinates"]
                for part in parts:
                    canvas.line(part, LAYER_LINE, 2 * s)
            for b, area in area_boxes:
                if near(b):
                    for rings in polygons_of(area.geometry):
                        canvas.fill(rings[:1], PERIMETER_FILL)
                        canvas.fill(rings[1:], NO_DATA)
            for b, area in area_boxes:
                if near(b):
                    for rings in polygons_of(area.geometry):
                        for ring in rings:
                            canvas.line(ring, COMMUNE_LINE, s + (1 if zoom >= 11 else 0))
            for line in perimeter_lines:
                canvas.line(line, PERIMETER_LINE, 2 * s if zoom >= 10 else s + 1)
            canvas.reduce()
            for x, y, data in canvas.tiles():
                out.append((zoom, x, tms_row(y, zoom), data))
    return out


def _lonlat(x: int, y: int, zoom: int):
    from app.geo import pixel_to_lonlat
    return pixel_to_lonlat(x * 256, y * 256, zoom)


# -- the whole build ---------------------------------------------------------------------------

@dataclass
class BuiltMap:
    section: dict
    tiles: int
    zooms: tuple[int, int]
    areas: int
    positions: int
    tolerance: float
    tiles_bytes: int


def parse_attribution(values: list[str] | None) -> dict[str, str] | None:
    """`--attribution TEXT` (every language) or `--attribution fr=TEXT` (one)."""
    if not values:
        return None
    found: dict[str, str] = {}
    for value in values:
        lang, sep, text = value.partition("=")
        if sep and lang in LANGUAGES:
            found[lang] = text.strip()
        else:
            for code in LANGUAGES:
                found.setdefault(code, value.strip())
    first = next(iter(found.values()))
    return {code: found.get(code, first) for code in LANGUAGES}


def attribution_of(collections: list[tuple[str, dict]]) -> dict[str, str] | None:
    """The credit the files carry: a top-level `attribution` member (a text, or a text per
    language), else a `license`/`licence` with a `source`; the files' credits joined."""
    parts: dict[str, list[str]] = {code: [] for code in LANGUAGES}
    for file, data in collections:
        given = data.get("attribution")
        if given is None and isinstance(data.get("properties"), dict):
            given = data["properties"].get("attribution")
        if isinstance(given, str) and given.strip():
            for code in LANGUAGES:
                parts[code].append(given.strip())
        elif isinstance(given, dict):
            texts = {k: v.strip() for k, v in given.items() if isinstance(v, str) and v.strip()}
            if texts:
                first = next(iter(texts.values()))
                for code in LANGUAGES:
                    parts[code].append(texts.get(code, first))
        else:
            return None                 # one file without a credit: the officer gives it all
    return {code: " ".join(texts) for code, texts in parts.items()}


def build_map(files: list[Path], out: Path, *, name_props: list[str],
              id_props: list[str] | None = None, layers: list[Path] | None = None,
              attribution: dict[str, str] | None = None, min_zoom: int | None = None,
              max_zoom: int | None = None, snap_metres: int = 0,
              max_tiles: int = MAX_TILES) -> BuiltMap:
    """Read, check and draw; write `out/basemap.mbtiles` and `out/map.json`. Raises
    MapBuildError before writing anything when an input is refused. `max_tiles` bounds the
    drawing (the dashboard's upload draws fewer than the command line)."""
    counter = [0]
    collections = [(p.name, read_collection(p, counter)) for p in files]
    context = [(p.name, read_collection(p, counter)) for p in (layers or [])]
    attribution = attribution or attribution_of(collections + context)
    if attribution is None:
        raise MapBuildError(N_("The file gives no attribution: give the credit its licence "
                               "requires with --attribution \"…\"."), files[0].name)
    areas = areas_from(collections, name_props, id_props or [])
    tolerance = fit_positions(areas)
    bbox = bbox_union(geometry_bbox(a.geometry) for a in areas)
    dx, dy = (bbox[2] - bbox[0]) * MARGIN, (bbox[3] - bbox[1]) * MARGIN
    box = (max(-180.0, bbox[0] - dx), max(-85.0, bbox[1] - dy),
           min(180.0, bbox[2] + dx), min(85.0, bbox[3] + dy))
    low, high = zoom_levels(box, min_zoom, max_zoom, max_tiles)
    if not 0 <= low <= high <= 22:
        raise MapBuildError(N_("The zoom levels must be in order: min_zoom ≤ zoom ≤ max_zoom."),
                            files[0].name)
    total = sum(tile_count(box, z) for z in range(low, high + 1))
    if total > max_tiles:
        raise MapBuildError(N_("Zoom levels {min} to {max} need {count} tiles: at most {limit}. "
                               "Choose a lower --max-zoom."), files[0].name, min=low, max=high,
                            count=f"{total:,}", limit=f"{max_tiles:,}")
    layer_geometries = []
    for _file, data in context:
        for feature in data["features"]:
            g = feature.get("geometry") if isinstance(feature, dict) else None
            if isinstance(g, dict) and g.get("type") in ("Polygon", "MultiPolygon"):
                cleaned = clean_geometry(g)
                if cleaned:
                    layer_geometries.append(cleaned)
            elif isinstance(g, dict) and g.get("type") in ("LineString", "MultiLineString"):
                layer_geometries.append(g)
    perimeter_lines = outline_edges(a.geometry for a in areas)
    tiles = []
    for zoom in range(low, high + 1):
        tiles += render_tiles(zoom, box, areas, perimeter_lines, layer_geometries)
    centre = bbox_center(bbox)
    view = min(high, low + 1) if _fits(bbox, low + 1) else low
    section = {
        "tiles": f"{out.name}/{TILES_FILE}",
        "center": {"lon": round(centre[0], 4), "lat": round(centre[1], 4)},
        "zoom": view, "min_zoom": low, "max_zoom": high,
        "attribution": attribution,
        "export_decimals": EXPORT_DECIMALS,
        "snap_metres": snap_metres,
        "areas": [{"id": a.id, "name": {code: a.name for code in LANGUAGES},
                   "geometry": a.geometry} for a in areas],
    }
    metadata = {
        "name": ", ".join(p.stem for p in files)[:200],
        "format": "png", "type": "baselayer", "version": "1",
        "description": "Drawn by python -m server map build from " + ", ".join(
            p.name for p in files + list(layers or []))[:500],
        "bounds": ",".join(f"{v:.5f}" for v in box),
        "center": f"{section['center']['lon']},{section['center']['lat']},{view}",
        "minzoom": str(low), "maxzoom": str(high),
        "attribution": attribution["en"],
    }
    out.mkdir(parents=True, exist_ok=True)
    write_mbtiles(out / TILES_FILE, metadata, tiles)
    size = (out / TILES_FILE).stat().st_size
    if size > MAX_TILES_BYTES:
        (out / TILES_FILE).unlink()
        raise MapBuildError(N_("The base map would take {size} MB: at most {max} MB. Choose a "
                               "lower --max-zoom."), files[0].name, size=size // 2 ** 20,
                            max=MAX_TILES_BYTES // 2 ** 20)
    _write_text(out / SECTION_FILE, geojson_text(section))
    return BuiltMap(section, len(tiles), (low, high), len(areas), _positions(areas), tolerance,
                    size)


def _fits(bbox, zoom: int) -> bool:
    x0, y0 = lonlat_to_pixel(bbox[0], bbox[3], zoom)
    x1, y1 = lonlat_to_pixel(bbox[2], bbox[1], zoom)
    return x1 - x0 <= FIT_PIXELS[0] and y1 - y0 <= FIT_PIXELS[1]


def _write_text(path: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(temp, 0o644)
    os.replace(temp, path)


# -- command line -------------------------------------------------------------------------------

def _cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m server map",
        description="A consultation's map from GeoJSON (docs/sheet-format.md, \"Your own map\").")
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="draw the base map's tiles and write the map section")
    build.add_argument("areas", type=Path, nargs="+",
                       help="GeoJSON FeatureCollections of the areas (Polygon, MultiPolygon)")
    build.add_argument("--name", required=True,
                       help="the property holding each area's name (several: name,nom)")
    build.add_argument("--id", default=None,
                       help="the property holding each area's code (default: from the name)")
    build.add_argument("--layer", type=Path, action="append", default=[],
                       help="a GeoJSON drawn beneath, for context (not areas); repeatable")
    build.add_argument("--attribution", action="append", default=None,
                       help="the sources' credit, for every language or as fr=…, it=…, en=…")
    build.add_argument("--out", type=Path, default=Path("map"),
                       help="the folder to write, beside the spreadsheet's images (default map)")
    build.add_argument("--min-zoom", type=int, default=None)
    build.add_argument("--max-zoom", type=int, default=None)
    build.add_argument("--snap-metres", type=int, default=0,
                       help="a tap this near an area counts in it (boundaries from two sources)")
    build.add_argument("--lang", choices=LANGUAGES, default=None,
                       help="language of the messages")
    return parser


def main_map(argv: list[str] | None = None) -> int:
    """`python -m server map build …`: 0 written, 1 refused (the reason printed; nothing
    written), 2 bad usage."""
    from app.i18n import gettext_for

    from .sheets import _default_language
    try:
        args = _cli().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    _ = gettext_for(args.lang or _default_language())
    split = (lambda v: [p.strip() for p in v.split(",") if p.strip()])  # noqa: E731
    try:
        built = build_map(args.areas, args.out, name_props=split(args.name),
                          id_props=split(args.id) if args.id else None, layers=args.layer,
                          attribution=parse_attribution(args.attribution),
                          min_zoom=args.min_zoom, max_zoom=args.max_zoom,
                          snap_metres=args.snap_metres)
    except DomainError as exc:
        print(exc.describe(_), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{exc.filename or ''} {exc.strerror or exc}".strip(), file=sys.stderr)
        return 1
    print(_("Written: {path} ({areas} areas; {tiles} tiles, zooms {min} to {max}, {size} "
            "bytes).").format(path=args.out / SECTION_FILE, areas=built.areas,
                              tiles=built.tiles, min=built.zooms[0], max=built.zooms[1],
                              size=f"{built.tiles_bytes:,}"))
    if built.tolerance:
        print(_("The outlines were simplified to {count} positions (the bundle's limit).")
              .format(count=f"{built.positions:,}"))
    return 0
