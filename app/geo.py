"""Places on a map, in pure Python: which area of a consultation's perimeter a point falls in,
bounding boxes, Web-Mercator tile maths for the offline base map, and rounding for exports.

Positions are (longitude, latitude) in WGS84 degrees, in that order, as in GeoJSON.
Point-in-polygon is ray casting on longitude/latitude taken as plane coordinates: exact enough
at the scale of communes and neighbourhoods (edges are a few hundred metres long), and what the
bundle's GeoJSON means anyway.

Boundaries belong to the areas they bound (areas are closed sets): a point on the border
between two areas is in both, and `area_of` settles it deterministically (the first area in the
perimeter's order, see there). A point within BOUNDARY_TOLERANCE of an edge counts as on it, so
the rule does not depend on rounding in the last bit of a float.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

Position = tuple[float, float]                  # (lon, lat)
Ring = tuple[Position, ...]                     # closed: the last position repeats the first
BBox = tuple[float, float, float, float]        # (west, south, east, north)

TILE_SIZE = 256
# Web Mercator stops here (the world is a square): atan(sinh(pi)) in degrees.
MAX_LATITUDE = 85.0511287798066
# Degrees (about 0.1 mm): a point this close to an edge is on it.
BOUNDARY_TOLERANCE = 1e-9
# Digits kept in a place's normal form (about 1 m): a tap is never more precise than that,
# and storing the rest would only be false precision about someone's position.
POINT_DECIMALS = 5


# -- polygons ------------------------------------------------------------------------------

def ring_bbox(ring: Sequence[Position]) -> BBox:
    """The bounding box of a ring (or of any positions)."""
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    return (min(xs), min(ys), max(xs), max(ys))


def ring_area(ring: Sequence[Position]) -> float:
    """The signed area of a closed ring in square degrees (positive when counter-clockwise)."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        total += x1 * y2 - x2 * y1
    return total / 2


def ring_position(ring: Sequence[Position], x: float, y: float) -> int:
    """Where (x, y) is against the closed `ring`: 1 inside, 0 on its boundary, -1 outside."""
    inside = False
    tol = BOUNDARY_TOLERANCE
    x1, y1 = ring[0]
    for x2, y2 in ring[1:]:
        # On the edge? Checked only when the point is within the edge's box.
        if (min(x1, x2) - tol <= x <= max(x1, x2) + tol
                and min(y1, y2) - tol <= y <= max(y1, y2) + tol):
            length = math.hypot(x2 - x1, y2 - y1)
            if length == 0.0 or abs((x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)) <= tol * length:
                return 0
        # Crossing of a ray going east from the point (half-open rule on y).
        if (y1 > y) != (y2 > y):
            if x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        x1, y1 = x2, y2
    return 1 if inside else -1


@dataclass(frozen=True)
class Polygon:
    """One polygon: an outer ring and its holes."""
    outer: Ring
    holes: tuple[Ring, ...] = ()
    bbox: BBox = field(init=False, repr=False, compare=False, default=(0.0, 0.0, 0.0, 0.0))

    def __post_init__(self):
        # Computed once: every containment check starts with it.
        object.__setattr__(self, "bbox", ring_bbox(self.outer))

    def contains(self, lon: float, lat: float) -> bool:
        """True inside or on the boundary; False outside or strictly inside a hole."""
        w, s, e, n = self.bbox
        t = BOUNDARY_TOLERANCE
        if not (w - t <= lon <= e + t and s - t <= lat <= n + t):
            return False
        position = ring_position(self.outer, lon, lat)
        if position < 0:
            return False
        if position == 0:
            return True
        return all(ring_position(hole, lon, lat) < 1 for hole in self.holes)


@dataclass(frozen=True)
class Shape:
    """A GeoJSON Polygon or MultiPolygon, ready for point-in-polygon checks."""
    polygons: tuple[Polygon, ...]
    bbox: BBox = field(init=False, repr=False, compare=False, default=(0.0, 0.0, 0.0, 0.0))

    def __post_init__(self):
        object.__setattr__(self, "bbox", bbox_union(p.bbox for p in self.polygons))

    @classmethod
    def from_geojson(cls, geometry: dict) -> "Shape":
        """A shape from a GeoJSON geometry already checked (app.bundle checks bundles')."""
        coordinates = geometry["coordinates"]
        if geometry["type"] == "Polygon":
            coordinates = [coordinates]
        polygons = []
        for rings in coordinates:
            rings = [tuple((float(p[0]), float(p[1])) for p in ring) for ring in rings]
            polygons.append(Polygon(rings[0], tuple(rings[1:])))
        return cls(tuple(polygons))

    def to_geojson(self) -> dict:
        """The shape as a GeoJSON geometry (a Polygon when it has one polygon)."""
        polys = [[[list(p) for p in ring] for ring in (poly.outer, *poly.holes)]
                 for poly in self.polygons]
        if len(polys) == 1:
            return {"type": "Polygon", "coordinates": polys[0]}
        return {"type": "MultiPolygon", "coordinates": polys}

    def contains(self, lon: float, lat: float) -> bool:
        """True when the point is in one of the polygons or on its boundary."""
        return any(polygon.contains(lon, lat) for polygon in self.polygons)


def _edge_distance(polygon: Polygon, x: float, y: float, kx: float) -> float:
    """Distance from (x, y) to the nearest edge of the polygon's rings, in degrees of latitude
    (longitudes scaled by `kx`, the cosine of the latitude)."""
    best = math.inf
    for ring in (polygon.outer, *polygon.holes):
        x1, y1 = ring[0]
        for x2, y2 in ring[1:]:
            ax, ay = (x1 - x) * kx, y1 - y
            dx, dy = (x2 - x1) * kx, y2 - y1
            length = dx * dx + dy * dy
            t = 0.0 if length == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length))
            d = (ax + t * dx) ** 2 + (ay + t * dy) ** 2
            if d < best:
                best = d
            x1, y1 = x2, y2
    return math.sqrt(best)


def visual_centre(shape: Shape, lines: int = 9) -> Position:
    """A point well inside the shape's largest polygon, where a label about the whole area
    reads as belonging to it. Unlike the centroid, never outside a concave shape nor in a
    hole: `lines` horizontal lines cross the polygon; the middle of each stretch inside it is a
    candidate, and the candidate farthest from the polygon's edges wins (close to what
    "polylabel" finds for the compact shapes of communes, in a few milliseconds)."""
    polygon = max(shape.polygons, key=lambda p: abs(ring_area(p.outer)))
    w, s, e, n = polygon.bbox
    kx = math.cos(math.radians((s + n) / 2))
    rings = (polygon.outer, *polygon.holes)
    best, best_d = polygon.outer[0], -1.0
    for k in range(1, lines + 1):
        y = s + (n - s) * k / (lines + 1)
        crossings = []
        for ring in rings:
            x1, y1 = ring[0]
            for x2, y2 in ring[1:]:
                if (y1 > y) != (y2 > y):
                    crossings.append(x1 + (y - y1) * (x2 - x1) / (y2 - y1))
                x1, y1 = x2, y2
        crossings.sort()
        for x_in, x_out in zip(crossings[0::2], crossings[1::2]):
            x = (x_in + x_out) / 2
            d = _edge_distance(polygon, x, y, kx)
            if d > best_d:
                best, best_d = (x, y), d
    return best


def area_of(areas: Iterable[tuple[str, Shape]], lon: float, lat: float) -> str | None:
    """The id of the first area, in the order given, whose shape holds the point (boundary
    included), or None when none does. A point on a border shared by two areas belongs to the
    one listed first."""
    for area_id, shape in areas:
        if shape.contains(lon, lat):
            return area_id
    return None


def distance_m(shape: Shape, lon: float, lat: float, within_m: float) -> float | None:
    """The distance in metres from the point to the nearest edge of `shape` (rings and holes),
    or None when it is farther than `within_m` (only edges near the point are measured).
    Metres from a plane tangent at the point: exact to a fraction of a percent at these
    distances."""
    ky = 110_574.0
    kx = 111_320.0 * math.cos(math.radians(lat))
    dlon, dlat = within_m / max(kx, 1e-9), within_m / ky
    best = None
    for polygon in shape.polygons:
        w, s, e, n = polygon.bbox
        if lon < w - dlon or lon > e + dlon or lat < s - dlat or lat > n + dlat:
            continue
        for ring in (polygon.outer, *polygon.holes):
            west, east, south, north = lon - dlon, lon + dlon, lat - dlat, lat + dlat
            x1, y1 = ring[0]
            for x2, y2 in ring[1:]:
                # Most edges are far on one side: rejected in degrees, before any product.
                if not ((x1 < west and x2 < west) or (x1 > east and x2 > east)
                        or (y1 < south and y2 < south) or (y1 > north and y2 > north)):
                    ax, ay = (x1 - lon) * kx, (y1 - lat) * ky
                    dx, dy = (x2 - x1) * kx, (y2 - y1) * ky
                    length = dx * dx + dy * dy
                    t = 0.0 if length == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length))
                    d = math.hypot(ax + t * dx, ay + t * dy)
                    if d <= within_m and (best is None or d < best):
                        best = d
                x1, y1 = x2, y2
    return best


def nearest_area(areas: Iterable[tuple[str, Shape]], lon: float, lat: float,
                 within_m: float) -> str | None:
    """The id of the area whose boundary is nearest the point, if within `within_m` metres;
    the first in the order given when two are as near. For a point outside every area: the
    slivers where two sources' boundaries do not quite meet, a tap on a drawn border line."""
    best_id, best_d = None, None
    for area_id, shape in areas:
        d = distance_m(shape, lon, lat, within_m)
        if d is not None and (best_d is None or d < best_d):
            best_id, best_d = area_id, d
    return best_id


def simplify_ring(flat: list, tolerance: float) -> list:
    """A closed ring [x0, y0, x1, y1, …, x0, y0] with the vertices dropped that lie within
    `tolerance` of the line through their kept neighbours (Douglas–Peucker), still closed."""
    n = len(flat) // 2
    if n <= 4 or tolerance <= 0:
        return list(flat)
    xs, ys = flat[0::2], flat[1::2]
    # A closed ring has no chord to start from: split it at the vertex farthest from the first.
    far = max(range(n), key=lambda i: (xs[i] - xs[0]) ** 2 + (ys[i] - ys[0]) ** 2)
    keep = [False] * n
    keep[0] = keep[far] = keep[n - 1] = True
    stack = [(0, far), (far, n - 1)]
    tol2 = tolerance * tolerance
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        ax, ay, bx, by = xs[a], ys[a], xs[b], ys[b]
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        worst, worst_d = -1, tol2
        for i in range(a + 1, b):
            px, py = xs[i] - ax, ys[i] - ay
            if length2 == 0:
                d = px * px + py * py
            else:
                cross = px * dy - py * dx
                d = cross * cross / length2
            if d > worst_d:
                worst, worst_d = i, d
        if worst >= 0:
            keep[worst] = True
            stack.append((a, worst))
            stack.append((worst, b))
    out = []
    for i in range(n):
        if keep[i]:
            out.extend((xs[i], ys[i]))
    return out


# -- bounding boxes --------------------------------------------------------------------------

def bbox_union(boxes: Iterable[BBox]) -> BBox:
    """The smallest box holding every box given (at least one)."""
    boxes = list(boxes)
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def bbox_contains(bbox: BBox, lon: float, lat: float) -> bool:
    """True when the point is in the box or on its edge."""
    west, south, east, north = bbox
    return west <= lon <= east and south <= lat <= north


def bbox_center(bbox: BBox) -> Position:
    return ((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2)


# -- Web-Mercator tiles (the XYZ scheme: x eastwards, y southwards from the north-west) ----------

def lonlat_to_pixel(lon: float, lat: float, zoom: float,
                    tile_size: int = TILE_SIZE) -> tuple[float, float]:
    """The position of (lon, lat) in pixels of the whole world's map at `zoom` (fractional
    zooms allowed), from its north-west corner; latitudes beyond Web Mercator's are clamped."""
    lat = max(-MAX_LATITUDE, min(MAX_LATITUDE, lat))
    size = tile_size * 2.0 ** zoom
    x = (lon + 180.0) / 360.0 * size
    sin = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + sin) / (1 - sin)) / (4 * math.pi)) * size
    return x, y


def pixel_to_lonlat(x: float, y: float, zoom: float, tile_size: int = TILE_SIZE) -> Position:
    """The inverse of lonlat_to_pixel."""
    size = tile_size * 2.0 ** zoom
    lon = x / size * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / size))))
    return lon, lat


def lonlat_to_tile(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """The (x, y) of the XYZ tile holding (lon, lat) at `zoom`."""
    x, y = lonlat_to_pixel(lon, lat, zoom, 1)
    last = 2 ** zoom - 1
    return min(last, max(0, int(x))), min(last, max(0, int(y)))


def tile_bbox(x: int, y: int, zoom: int) -> BBox:
    """The (west, south, east, north) of XYZ tile (x, y) at `zoom`."""
    west, north = pixel_to_lonlat(x, y, zoom, 1)
    east, south = pixel_to_lonlat(x + 1, y + 1, zoom, 1)
    return (west, south, east, north)


def tiles_covering(bbox: BBox, zoom: int) -> tuple[int, int, int, int]:
    """(x_min, y_min, x_max, y_max), inclusive: the XYZ tiles covering `bbox` at `zoom`."""
    x0, y0 = lonlat_to_tile(bbox[0], bbox[3], zoom)
    x1, y1 = lonlat_to_tile(bbox[2], bbox[1], zoom)
    return x0, y0, x1, y1


def tms_row(y: int, zoom: int) -> int:
    """MBTiles numbers rows from the south (TMS): the tile_row of XYZ row `y`, and back."""
    return 2 ** zoom - 1 - y


def metres_per_pixel(lat: float, zoom: float, tile_size: int = TILE_SIZE) -> float:
    """Ground size of one pixel at `lat` and `zoom` (WGS84 equatorial radius)."""
    return 2 * math.pi * 6378137.0 * math.cos(math.radians(lat)) / (tile_size * 2.0 ** zoom)


# -- rounding --------------------------------------------------------------------------------

def round_position(lon: float, lat: float, decimals: int) -> Position:
    """(lon, lat) rounded to `decimals` decimals: 3 is a grid of about 110 m north–south (less
    east–west), which no longer points at one house; 5 is about 1 m."""
    return round(float(lon), decimals), round(float(lat), decimals)


def is_coordinate(value: Any, limit: float) -> bool:
    """True for a finite number (not a bool) from -limit to limit; huge integers and NaN too
    are refused without converting them."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return -limit <= value <= limit


def is_position(value: Any) -> bool:
    """True for a GeoJSON position in WGS84: [lon, lat] or [lon, lat, altitude]."""
    return (isinstance(value, (list, tuple)) and len(value) in (2, 3)
            and is_coordinate(value[0], 180) and is_coordinate(value[1], 90)
            and (len(value) == 2 or is_coordinate(value[2], 1e6)))
