"""Labels on a map without overlap (pure Python, no Kivy: tests/unit/test_map_labels.py).

Each label belongs to a point (an area's anchor) and is a box of a known size. Labels are
placed in the order given (the most important first): on their anchor when it is free, else
at the nearest free spot around it — tried on rings of growing radius — and then drawn with a
leader line back to the anchor. A spot is free when the box lies inside the bounds, keeps
`gap` away from every label already placed, covers no other label's anchor (a reader would
take that anchor for the label's own) and no leader line, and its own leader line crosses no
label placed. A label
that finds no free spot within the bounds is left out (`None`): the caller lists it instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

Box = tuple[float, float, float, float]         # (x0, y0, x1, y1)

# Directions tried on each ring, in order: the horizontal and vertical ones first (a label
# beside or above its anchor reads best), then the diagonals, then the rest.
_ANGLES = (0, 180, 90, 270, 45, 135, 225, 315, 22.5, 157.5, 202.5, 337.5,
           67.5, 112.5, 247.5, 292.5)
# Their cosines and sines, worked out once (the search tries millions of spots on a big map).
_UNITS = tuple((math.cos(math.radians(a)), math.sin(math.radians(a))) for a in _ANGLES)
_CENTRE = ((math.cos(math.radians(0)), math.sin(math.radians(0))),)


@dataclass(frozen=True)
class Placed:
    centre: tuple[float, float]
    box: Box
    moved: bool          # away from its anchor: draw a leader line


def overlaps(a: Box, b: Box, gap: float = 0.0) -> bool:
    """True when the boxes come closer than `gap` (touching at exactly `gap` is fine)."""
    return (a[0] < b[2] + gap and b[0] < a[2] + gap
            and a[1] < b[3] + gap and b[1] < a[3] + gap)


def _box(cx: float, cy: float, w: float, h: float) -> Box:
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _contains(box: Box, point: tuple[float, float], margin: float) -> bool:
    return (box[0] - margin <= point[0] <= box[2] + margin
            and box[1] - margin <= point[1] <= box[3] + margin)


def segment_crosses(box: Box, p: tuple[float, float], q: tuple[float, float]) -> bool:
    """True when the segment p–q passes through the box (Liang–Barsky clipping)."""
    x0, y0 = p
    dx, dy = q[0] - x0, q[1] - y0
    t0, t1 = 0.0, 1.0
    for edge_p, edge_q in ((-dx, x0 - box[0]), (dx, box[2] - x0),
                           (-dy, y0 - box[1]), (dy, box[3] - y0)):
        if edge_p == 0:
            if edge_q < 0:
                return False
            continue
        t = edge_q / edge_p
        if edge_p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True


def place_labels(labels: list[tuple[str, tuple[float, float], tuple[float, float]]],
                 bounds: Box, gap: float, step: float | None = None,
                 anchor_margin: float = 0.0, max_rings: int | None = None) \
        -> dict[str, Placed | None]:
    """Where each label goes: {key: Placed or None}. `labels`: (key, anchor, (w, h)) in order
    of importance. `step`: the distance between rings (half the tallest label by default).
    `max_rings`: how far from its anchor a label may go (0: on its anchor or nowhere — a
    caller that draws no leader lines; the search is then quick for hundreds of labels).

    A label hemmed in by those placed before it (a small commune between larger ones) is
    moved to the front and the placement done again, a few times at most: the layout with
    the fewest labels left out is kept."""
    best = None
    order = list(labels)
    for _attempt in range(min(len(labels), 6) + 1):
        placed = _place_in_order(order, bounds, gap, step, anchor_margin, max_rings)
        failed = [key for key, spot in placed.items() if spot is None]
        if best is None or len(failed) < best[0]:
            best = (len(failed), placed)
        if not failed:
            break
        order = ([item for item in order if item[0] in failed]
                 + [item for item in order if item[0] not in failed])
    return best[1] if best else {}


def _place_in_order(labels, bounds: Box, gap: float, step: float | None,
                    anchor_margin: float, max_rings: int | None = None) \
        -> dict[str, Placed | None]:
    if not labels:
        return {}
    tallest = max(size[1] for _k, _a, size in labels)
    step = step or max(1.0, tallest / 2)
    reach = math.hypot(bounds[2] - bounds[0], bounds[3] - bounds[1])
    rings = max(1, int(reach / step) + 1) if max_rings is None else max_rings
    anchors = {key: anchor for key, anchor, _size in labels}
    placed: dict[str, Placed | None] = {}
    boxes: list[Box] = []
    leaders: list[tuple[tuple[float, float], tuple[float, float]]] = []
    left, bottom, right, top = bounds
    for key, anchor, (w, h) in labels:
        others = [a for k, a in anchors.items() if k != key]
        found = None
        # Past the farthest centre whose box fits the bounds, every ring is off the map.
        farthest = math.hypot(max(abs(anchor[0] - left - w / 2), abs(right - w / 2 - anchor[0])),
                              max(abs(anchor[1] - bottom - h / 2), abs(top - h / 2 - anchor[1])))
        for ring in range(rings + 1):
            r = ring * step
            if r > farthest + 1e-6 * (1 + farthest):
                break
            for cos, sin in (_UNITS if ring else _CENTRE):
                cx = anchor[0] + r * cos
                cy = anchor[1] + r * sin
                if not (cx - w / 2 >= left and cy - h / 2 >= bottom      # the box inside
                        and cx + w / 2 <= right and cy + h / 2 <= top):
                    continue
                box = _box(cx, cy, w, h)
                if any(overlaps(box, b, gap) for b in boxes):
                    continue
                if any(_contains(box, a, anchor_margin) for a in others):
                    continue
                if ring and any(segment_crosses(b, anchor, (cx, cy)) for b in boxes):
                    continue
                if any(segment_crosses(box, p, q) for p, q in leaders):
                    continue
                found = Placed((cx, cy), box, ring > 0)
                break
            if found is not None:
                break
        placed[key] = found
        if found is not None:
            boxes.append(found.box)
            if found.moved:
                leaders.append((anchor, found.centre))
    return placed
