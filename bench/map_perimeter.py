"""Which area of the perimeter a tap falls in:
`python bench/map_perimeter.py [--points N] [--quick]`.

Draws N points (default 10,000; seeded) uniformly over the demo perimeter's bounding box —
16 communes on both sides of the French–Italian border, about 2,000 positions — and times, in
the same run and interleaved in blocks so that a noisy neighbour hits both alike:

* ConsultationMap.area_of: point in polygon over the perimeter, the most nested area first,
  and for points in no area the distance to the nearest within snap_metres (the slow path);
* validate_place: what the kiosk runs between the tap and the pin (rounding, area_of);
* the baseline: a bounding-box-only check of the same points.

Prints p50/p95/p99 per check and the ratio to the baseline. Target: the tap → pin path stays
well within the kiosk's 100 ms p95; one check far under 1 ms.
"""
import argparse
import json
import random
import time

from _common import percentile

from app.answers import validate_place
from app.bundle import parse_bundle
from app.errors import ValidationError
from app.geo import area_of, bbox_contains
from app.paths import DEMO_BUNDLE_DIR


def mapped_demo():
    data = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text(encoding="utf-8"))
    data["consultation"]["map"] = json.loads(
        (DEMO_BUNDLE_DIR / "map" / "map.json").read_text(encoding="utf-8"))
    return parse_bundle(data)


def timed(fn, points):
    times = []
    for lon, lat in points:
        t0 = time.perf_counter()
        fn(lon, lat)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 points (CI smoke)")
    args = parser.parse_args()
    total = 1000 if args.quick else args.points
    consultation = mapped_demo()
    perimeter = consultation.map
    box = perimeter.bbox
    rng = random.Random(16)
    points = [(rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])) for _ in range(total)]

    def place(lon, lat):
        try:
            validate_place(consultation, {"lon": lon, "lat": lat}, "q-place")
        except ValidationError:
            pass

    found = {"area": [], "place": [], "bbox": []}
    block = 500
    for start in range(0, total, block):
        chunk = points[start:start + block]
        found["area"] += timed(perimeter.area_of, chunk)
        found["place"] += timed(place, chunk)
        found["bbox"] += timed(lambda lon, lat: bbox_contains(box, lon, lat), chunk)
    inside = sum(1 for p in points if perimeter.area_of(*p))
    strict = [(a.id, a.shape) for a in perimeter.areas]
    snapped = sum(1 for p in points if area_of(strict, *p) is None and perimeter.area_of(*p))

    positions = sum(len(ring) for a in perimeter.areas for poly in a.shape.polygons
                    for ring in (poly.outer, *poly.holes))
    print(f"map_perimeter: {total} points over the demo perimeter's bounding box "
          f"({len(perimeter.areas)} areas, {positions} positions); {inside} fall in an area "
          f"({snapped} of them by snapping within {perimeter.snap_metres} m)")
    base = percentile(found["bbox"], 50)
    for name, label in (("area", "ConsultationMap.area_of"), ("place", "validate_place"),
                        ("bbox", "bounding box only")):
        times = found[name]
        p50, p95, p99 = (percentile(times, p) * 1e3 for p in (50, 95, 99))
        print(f"  {label:<24} p50 {p50:.4f} ms   p95 {p95:.4f} ms   p99 {p99:.4f} ms"
              f"   total {sum(times) * 1e3:.1f} ms   ratio (p50) {p50 / (base * 1e3):.0f}")
    print("  target: one check far under 1 ms (p99), well within the kiosk's 100 ms tap p95")


if __name__ == "__main__":
    main()
