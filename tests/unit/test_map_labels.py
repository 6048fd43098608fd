"""Counts on the projector's map laid out without overlap (screens/projector/labels.py) and
the point inside an area they belong to (app.geo.visual_centre)."""
import itertools
import random

from app.geo import Polygon, Shape, visual_centre
from screens.projector.labels import overlaps, place_labels, segment_crosses

BOUNDS = (0.0, 0.0, 400.0, 300.0)


def check_layout(labels, placed, gap, anchor_margin=0.0):
    anchors = {k: a for k, a, _s in labels}
    boxes = {k: p.box for k, p in placed.items() if p is not None}
    for a, b in itertools.combinations(boxes, 2):
        assert not overlaps(boxes[a], boxes[b], gap), (a, b)
    for key, box in boxes.items():
        assert BOUNDS[0] <= box[0] and box[2] <= BOUNDS[2]
        assert BOUNDS[1] <= box[1] and box[3] <= BOUNDS[3]
        for other, (x, y) in anchors.items():
            if other != key:
                assert not (box[0] - anchor_margin <= x <= box[2] + anchor_margin
                            and box[1] - anchor_margin <= y <= box[3] + anchor_margin)
        spot = placed[key]
        if spot.moved:
            for other, other_box in boxes.items():
                if other != key:
                    assert not segment_crosses(other_box, anchors[key], spot.centre)
        else:
            assert spot.centre == anchors[key]


def test_free_labels_stay_on_their_anchors():
    labels = [("a", (50.0, 50.0), (40.0, 30.0)), ("b", (200.0, 150.0), (40.0, 30.0))]
    placed = place_labels(labels, BOUNDS, gap=4)
    assert not placed["a"].moved and not placed["b"].moved
    assert placed["a"].centre == (50.0, 50.0)


def test_neighbours_are_moved_apart_the_first_keeps_its_place():
    labels = [("saorge", (200.0, 150.0), (60.0, 30.0)), ("fontan", (245.0, 150.0), (60.0, 30.0))]
    placed = place_labels(labels, BOUNDS, gap=4, anchor_margin=6)
    assert not placed["saorge"].moved and placed["fontan"].moved
    check_layout(labels, placed, gap=4, anchor_margin=6)


def test_a_label_never_hides_another_areas_anchor():
    # Fontan and Saorge 20 px apart: a label on either anchor would hide the other's.
    labels = [("saorge", (200.0, 150.0), (40.0, 30.0)), ("fontan", (215.0, 160.0), (40.0, 30.0))]
    placed = place_labels(labels, BOUNDS, gap=4, anchor_margin=6)
    assert placed["saorge"].moved and placed["fontan"].moved
    check_layout(labels, placed, gap=4, anchor_margin=6)


def test_a_crowd_of_labels_never_overlaps():
    rnd = random.Random(16)
    for _round in range(20):
        labels = [(f"k{i}", (rnd.uniform(120, 280), rnd.uniform(90, 210)),
                   (rnd.uniform(30, 70), 30.0)) for i in range(12)]
        placed = place_labels(labels, BOUNDS, gap=3, anchor_margin=4)
        assert all(p is not None for p in placed.values())
        check_layout(labels, placed, gap=3, anchor_margin=4)


def test_a_label_with_no_room_is_left_out_not_overlapped():
    small = (0.0, 0.0, 100.0, 40.0)
    labels = [("a", (30.0, 20.0), (50.0, 36.0)), ("b", (70.0, 20.0), (50.0, 36.0))]
    placed = place_labels(labels, small, gap=2)
    assert sum(p is None for p in placed.values()) == 1
    assert place_labels([], small, gap=2) == {}


def test_segment_crossing():
    box = (10.0, 10.0, 20.0, 20.0)
    assert segment_crosses(box, (0.0, 15.0), (30.0, 15.0))
    assert segment_crosses(box, (15.0, 15.0), (15.0, 40.0))        # from inside
    assert not segment_crosses(box, (0.0, 0.0), (30.0, 5.0))
    assert not segment_crosses(box, (0.0, 30.0), (5.0, 0.0))


def square(x0, y0, x1, y1):
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))


def test_visual_centre_is_inside_a_concave_shape_and_out_of_holes():
    # A U: its centroid falls in the empty middle.
    u_ring = ((0.0, 0.0), (3.0, 0.0), (3.0, 3.0), (2.0, 3.0), (2.0, 1.0), (1.0, 1.0),
              (1.0, 3.0), (0.0, 3.0), (0.0, 0.0))
    u_shape = Shape((Polygon(u_ring),))
    x, y = visual_centre(u_shape)
    assert u_shape.contains(x, y) and not (1.0 < x < 2.0 and y > 1.0)
    # A ring with a big hole in the middle.
    holed = Shape((Polygon(square(0, 0, 4, 4), (square(1, 1, 3, 3),)),))
    x, y = visual_centre(holed)
    assert holed.contains(x, y) and not (1 < x < 3 and 1 < y < 3)
    # Several polygons: in the largest.
    two = Shape((Polygon(square(0, 0, 1, 1)), Polygon(square(5, 5, 9, 9))))
    assert 5 < visual_centre(two)[0] < 9


def test_visual_centre_of_every_demo_area_is_inside_it(demo):
    for area in demo.map.areas:
        assert area.shape.contains(*visual_centre(area.shape)), area.id


def test_simplify_ring_keeps_the_shape_within_the_tolerance():
    from app.geo import simplify_ring
    import math
    # A circle of 400 vertices, radius 100: a 0.5 tolerance keeps far fewer, all on it.
    flat = []
    for i in range(401):
        a = 2 * math.pi * (i % 400) / 400
        flat += [100 * math.cos(a), 100 * math.sin(a)]
    kept = simplify_ring(flat, 0.5)
    assert kept[:2] == kept[-2:] == flat[:2]                # still closed, same start
    assert 10 < len(kept) // 2 < 100
    pairs = list(zip(kept[0::2], kept[1::2]))
    assert all(abs(math.hypot(x, y) - 100) < 1e-9 for x, y in pairs)
    # Every dropped vertex is within the tolerance of the kept outline.
    for x, y in zip(flat[0::2], flat[1::2]):
        best = min(_segment_distance((x, y), p, q) for p, q in zip(pairs, pairs[1:]))
        assert best <= 0.5 + 1e-9
    assert simplify_ring(flat, 0) == flat
    square = [0, 0, 10, 0, 10, 10, 0, 10, 0, 0]
    assert simplify_ring(square, 0.5) == square             # corners stay


def _segment_distance(point, p, q):
    import math
    (x, y), (x1, y1), (x2, y2) = point, p, q
    dx, dy = x2 - x1, y2 - y1
    length = dx * dx + dy * dy
    t = 0 if length == 0 else max(0, min(1, ((x - x1) * dx + (y - y1) * dy) / length))
    return math.hypot(x - x1 - t * dx, y - y1 - t * dy)


def test_labels_kept_on_their_anchor_only_for_a_map_of_hundreds_of_areas():
    """The kiosk draws a name on its own area or not at all (max_rings=0): 229 communes in a
    600-pixel map (a city's own map, issue 27) are placed without searching around anchors."""
    rnd = random.Random(27)
    labels = [(f"a{i}", (rnd.uniform(0, 800), rnd.uniform(0, 600)), (70, 22))
              for i in range(229)]
    placed = place_labels(labels, (0, 0, 800, 600), gap=2, max_rings=0)
    kept = [spot for spot in placed.values() if spot is not None]
    assert set(placed) == {key for key, _a, _s in labels}
    assert kept and all(not spot.moved for spot in kept)
    assert all(not overlaps(a.box, b.box, 2) for a, b in itertools.combinations(kept, 2))
    anchors = dict((key, anchor) for key, anchor, _s in labels)
    assert all(spot.centre == anchors[key] for key, spot in placed.items() if spot)
