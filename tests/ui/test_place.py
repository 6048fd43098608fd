"""Issue 16 on a real window: a resident answers "where?" on the offline map (a tap, then
Confirm) or from the list of communes; a point outside the perimeter is refused in the
resident's language; the idle reset clears the pin; the projector shows a place question's
result on the map. Screenshots to build/screenshots/kiosk/<lang>/ and …/projector/."""
import pytest
from kivy.metrics import dp
from kivy.tests.common import UnitTestTouch
from PIL import Image

from app.tally import tally_answers
from app.paths import DEMO_BUNDLE_DIR
from tests.ui.conftest import SHOTS, set_size, step, wait_settled
from tests.ui.test_resident import start

MENTON = (7.50312, 43.77871)


def to_place(k):
    start(k)
    k.session.index = [q.id for q in k.session.consultation.questions].index("q-place")
    k.root.question.show()
    step(4)
    body = k.body()
    assert body.question.kind == "place"
    return body


def window_xy(mapview, lon, lat):
    return mapview.to_window(*mapview.to_widget_xy(lon, lat))


def touch_tap(x, y):
    wait_settled()
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    step(2)


def outside_point(body):
    """A point shown on the map, away from the buttons, in no area of the perimeter."""
    mapview = body.ids.map
    perimeter = body.picker_consultation.map
    for i in range(2, 30):
        for j in range(4, 30):
            x = mapview.x + mapview.width * i / 32
            y = mapview.y + mapview.height * j / 32
            lon, lat = mapview.to_lonlat(x, y)
            if perimeter.area_of(lon, lat) is None:
                return mapview.to_window(x, y)
    raise AssertionError("no point outside the perimeter on screen")


def test_a_tap_places_a_pin_and_confirm_records_it_with_its_area(kiosk):
    k = kiosk
    body = to_place(k)
    mapview = body.ids.map
    assert body.ids.confirm.disabled and not mapview.pin
    touch_tap(*window_xy(mapview, *MENTON))
    assert body.pin_area == "menton" and mapview.pin == body.pin
    assert abs(body.pin[0] - MENTON[0]) < 1e-3 and abs(body.pin[1] - MENTON[1]) < 1e-3
    assert "Menton" in body.ids.pin_label.text            # the place in words, not only a pin
    assert k.store.answers_of(k.session.ballot_id) == {}  # nothing recorded before Confirm
    k.tap(body.ids.confirm)
    held = k.store.answers_of(k.session.ballot_id)["q-place"]
    assert held["area"] == "menton" and set(held) == {"lon", "lat", "area"}
    assert k.root.current == "thanks"                     # the last question: on to the end


@pytest.mark.parametrize("size", [(1280, 800), (800, 1280)])
def test_the_first_view_shows_the_whole_perimeter_above_the_credit(kiosk, size):
    set_size(*size)
    body = to_place(kiosk)
    assert whole_perimeter_shown(body.ids.map)


def whole_perimeter_shown(mapview) -> bool:
    """The perimeter's box lies on the map, above the credit line, and fills much of the
    room there (not zoomed out to the map's limit)."""
    w, s, e, n = mapview.consultation_map.bbox
    (x0, y1), (x1, y0) = mapview.to_widget_xy(w, n), mapview.to_widget_xy(e, s)
    floor = mapview.y + mapview.ids.attribution.height
    return (mapview.x - 0.5 <= x0 and x1 <= mapview.right + 0.5 and floor - 0.5 <= y0
            and y1 <= mapview.top + 0.5
            and ((x1 - x0) > 0.5 * mapview.width or (y1 - y0) > 0.5 * (mapview.top - floor)))


def test_a_drag_pans_and_places_no_pin(kiosk):
    body = to_place(kiosk)
    mapview = body.ids.map
    before = list(mapview.centre_px)
    x, y = mapview.to_window(mapview.center_x, mapview.center_y)
    wait_settled()
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    for step_x in range(1, 6):
        touch.touch_move(x + step_x * dp(20), y)
    touch.touch_up()
    step(2)
    assert mapview.centre_px[0] < before[0] and not body.pin


def test_a_pinch_zooms_within_the_limits(kiosk):
    body = to_place(kiosk)
    mapview = body.ids.map
    zoom = mapview.zoom
    cx, cy = mapview.to_window(mapview.center_x, mapview.center_y)
    wait_settled()
    a, b = UnitTestTouch(cx - 40, cy), UnitTestTouch(cx + 40, cy)
    a.touch_down()
    b.touch_down()
    for i in range(1, 5):
        a.touch_move(cx - 40 - i * 20, cy)
        b.touch_move(cx + 40 + i * 20, cy)
    a.touch_up()
    b.touch_up()
    step(2)
    assert zoom < mapview.zoom <= mapview.max_zoom and not body.pin


def test_the_list_records_an_area(kiosk):
    k = kiosk
    body = to_place(k)
    card = body.area_cards["ventimiglia"]
    assert card.text == "Vintimille" and min(card.size) >= dp(48) - 0.5
    k.tap(card)
    assert k.store.answers_of(k.session.ballot_id)["q-place"] == {"area": "ventimiglia"}


@pytest.mark.parametrize("lang, words", [("fr", "hors"), ("it", "fuori")])
def test_a_tap_outside_the_perimeter_is_refused_in_the_residents_language(kiosk_factory,
                                                                             lang, words):
    from app.answers import validate_place
    from app.errors import ValidationError
    from screens.i18n import tr
    k = kiosk_factory(lang=lang)
    body = to_place(k)
    mapview = body.ids.map
    mapview.zoom_out()
    mapview.zoom_out()
    step(2)
    touch_tap(*outside_point(body))
    error = k.root.question.error
    with pytest.raises(ValidationError) as refusal:
        validate_place(k.session.consultation, {"lon": 0.0, "lat": 0.0}, "q-place")
    assert error == refusal.value.describe(tr._) and words in error.lower()
    assert not body.pin and not mapview.pin and body.ids.confirm.disabled
    assert k.store.answers_of(k.session.ballot_id) == {}
    # A tap inside clears the message.
    touch_tap(*window_xy(mapview, *MENTON))
    assert body.pin and k.root.question.error == ""


def test_the_idle_reset_clears_the_pin(kiosk):
    k = kiosk
    body = to_place(k)
    touch_tap(*window_xy(body.ids.map, *MENTON))
    assert body.pin
    k.root.reset_resident()
    k.settle()
    assert not body.pin and not body.ids.map.pin and body.ids.confirm.disabled


def test_zoom_buttons_stop_at_the_limits(kiosk):
    k = kiosk
    body = to_place(k)
    mapview = body.ids.map
    for button in (mapview.ids.zoom_in, mapview.ids.zoom_out):
        assert min(button.size) >= dp(48)
    for _ in range(10):
        if mapview.ids.zoom_in.disabled:
            break
        k.tap(mapview.ids.zoom_in, frames=1)
    assert mapview.zoom == mapview.max_zoom == 13 and mapview.ids.zoom_in.disabled
    for _ in range(10):
        if mapview.ids.zoom_out.disabled:
            break
        k.tap(mapview.ids.zoom_out, frames=1)
    assert mapview.zoom == mapview.min_zoom == 9 and mapview.ids.zoom_out.disabled
    assert not mapview.ids.zoom_in.disabled


def real_image(path, size):
    with Image.open(path) as image:
        assert image.size == size
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is None or len(colours) > 20, f"{path} looks blank"


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_kiosk_map_screenshots(kiosk_factory, lang):
    k = kiosk_factory(lang=lang)
    for size, name in (((1280, 800), "17-place"), ((800, 1280), "portrait-17-place")):
        set_size(*size)
        body = to_place(k)
        touch_tap(*window_xy(body.ids.map, *MENTON))
        real_image(k.shot(name, lang), size)
        body.ids.map.zoom_out()
        touch_tap(*outside_point(body))
        step(6)
        real_image(k.shot(name + "-refused", lang), size)
        k.root.reset_resident()
        k.settle()
    set_size(1280, 800)


# -- the projector ---------------------------------------------------------------------------

PROJECTOR_SHOTS = SHOTS.parent / "projector"


def place_answers(demo, n=60, seed=16):
    """Points inside the perimeter (more near the coast) and some areas from the list."""
    import random
    rnd = random.Random(seed)
    perimeter = demo.map
    w, s, e, north = perimeter.bbox
    answers = []
    while len(answers) < n:
        if rnd.random() < 0.25:
            answers.append({"area": rnd.choice(perimeter.area_ids)})
            continue
        lon = rnd.uniform(w, e)
        lat = s + (north - s) * rnd.random() ** 2
        area = perimeter.area_of(round(lon, 5), round(lat, 5))
        if area:
            answers.append({"lon": round(lon, 5), "lat": round(lat, 5), "area": area})
    return answers


def test_the_projector_map_view_from_a_tally_result(window, demo):
    from kivy.core.window import Window
    from screens.projector.map import PjMapView
    from screens.projector.style import pstyle
    question = demo.question("q-place")
    result = tally_answers(demo, question, place_answers(demo))
    root_size = (1920, 1080)
    pstyle.fit(*root_size)
    view = PjMapView(consultation=demo, question=question, bundle_dir=str(DEMO_BUNDLE_DIR),
                     langs=["fr", "it"], size_hint=(None, None), size=(1800, 900))
    Window.add_widget(view)
    try:
        view.show(result, animate=False)
        step(4)
        shown_counts = {a: f.text for a, f in view.figures.items() if f.opacity}
        assert shown_counts == {a: str(n) for a, n in result["counts"].items() if n}
        assert min(f.font_size for f in view.figures.values()) >= 40      # at 1080p
        assert len(view.map.points) == len(result["points"]) > 0
        top = view.rows[0]
        best = demo.map.area(result["order"][0])
        assert top.label == f"{best.name['fr']} / [color=9edbff]{best.name['it']}[/color]" \
            or best.name["fr"] in top.label
        assert top.figures == str(result["counts"][best.id])
        assert "IGN" in view.map.attribution and view.map.ids.attribution.opacity == 1
        n = result["ballots"]                                   # one naming on every slide
        assert view.caption.startswith(f"{n} réponses") and f"{n} risposte" in view.caption
    finally:
        Window.remove_widget(view)
        pstyle.fit(*Window.size)


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", ["fr", "bilingual"])
def test_projector_map_screenshots(window, demo, tmp_path, size, mode):
    import screens.projector.app as projector_app
    from app.store import Store
    from sync.results_source import LocalResultsSource, ResultsPoll
    store = Store.open(tmp_path / "store")
    for answer in place_answers(demo, 80):
        ballot = store.start_ballot(demo)
        store.record_answer(demo, ballot, "q-place", answer)
        store.close_ballot(ballot)
    store.close()
    source = LocalResultsSource(tmp_path / "store", demo)
    poll = source.poll()
    source.close()
    settings = {"lang": "fr"} if mode == "fr" else {"lang": "fr", "bilingual": "side_by_side"}
    projector = projector_app.build_projector(demo, None, bundle_dir=DEMO_BUNDLE_DIR,
                                              view="q-place", **settings)
    root = projector.root
    root.size_hint = (None, None)
    root.size = size
    window.add_widget(root)
    try:
        projector.receive(ResultsPoll(True, poll.snapshot))
        step(10)
        view = projector.views["q-place"]
        assert view.parent is not None and any(f.opacity for f in view.figures.values())
        # The base view's controls apply: hidden shows no figure, frozen keeps them.
        projector.apply_control({"hidden": True})
        step(3)
        assert view.parent is None
        projector.apply_control({"hidden": False})
        step(10)
        PROJECTOR_SHOTS.mkdir(parents=True, exist_ok=True)
        path = PROJECTOR_SHOTS / f"q-place-map-{mode}-{size[0]}x{size[1]}.png"
        root.export_to_png(str(path))
        real_image(path, size)
    finally:
        projector.stop()
        window.remove_widget(root)


def every_area_answers(demo, base):
    """Each area of the perimeter chosen from the list, `base` times or more (wide counts)."""
    return [{"area": area_id} for i, area_id in enumerate(demo.map.area_ids)
            for _ in range(base + 37 * i)]


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("langs", [["fr"], ["it"], ["fr", "it"]], ids="+".join)
def test_projector_map_counts_never_overlap(window, demo, size, langs):
    """Neighbouring small communes (Fontan and Saorge, Airole and Olivetta San Michele) get
    their counts side by side, not on top of each other: on the demo map, for several
    distributions of votes, no two counts' boxes overlap, each lies on the map above the
    credit line, none hides another area's dot, and a count moved off its area has a leader
    line back to it; every count with answers is shown."""
    from kivy.core.window import Window
    from screens.projector.map import PjMapView
    from screens.projector.style import pstyle
    from screens.projector.labels import overlaps
    question = demo.question("q-place")
    pstyle.fit(*size)
    width, height = size
    view = PjMapView(consultation=demo, question=question, bundle_dir=str(DEMO_BUNDLE_DIR),
                     langs=langs, size_hint=(None, None),
                     size=(width - 4 * pstyle.u, height - 4 * pstyle.u))
    Window.add_widget(view)
    distributions = [place_answers(demo, n, seed) for n, seed in
                     ((80, 16), (200, 3), (40, 7), (500, 11))]
    distributions += [every_area_answers(demo, 1), every_area_answers(demo, 1000)]
    try:
        for answers in distributions:
            result = tally_answers(demo, question, answers)
            view.show(result, animate=False)
            step(3)
            answered = {a for a, n in result["counts"].items() if n}
            boxes = view.label_boxes()
            listed = {r.label for r in view.rows if r.opacity}
            assert set(boxes) | {a for a in answered if any(
                demo.map.area(a).name[langs[0]] in label for label in listed)} == answered
            assert len(boxes) == len(answered)          # on the demo map, all find room
            if size[1] == 1080:
                assert min(view.figures[a].font_size for a in boxes) >= 40
            mapview = view.map
            floor = mapview.y + mapview.ids.attribution.height
            keys = sorted(boxes)
            for i, a in enumerate(keys):
                x0, y0, x1, y1 = boxes[a]
                assert mapview.x <= x0 and x1 <= mapview.right and floor <= y0 \
                    and y1 <= mapview.top, (a, boxes[a])
                for b in keys[i + 1:]:
                    assert not overlaps(boxes[a], boxes[b]), (a, b, boxes[a], boxes[b])
                for b in keys:
                    if b != a:
                        bx, by = mapview.to_widget_xy(*view.anchors[b])
                        assert not (x0 <= bx <= x1 and y0 <= by <= y1), (a, "hides", b)
            moved = [a for a in keys if not (
                boxes[a][0] <= mapview.to_widget_xy(*view.anchors[a])[0] <= boxes[a][2]
                and boxes[a][1] <= mapview.to_widget_xy(*view.anchors[a])[1] <= boxes[a][3])]
            assert len(view.leaders.lines) >= len(moved)
    finally:
        Window.remove_widget(view)
        pstyle.fit(*Window.size)


def test_a_count_with_no_room_on_a_small_map_is_listed_beside_it(window, demo):
    """Four-digit counts for every area on a small map: those that find no free spot are not
    drawn over others but listed beside the map, first."""
    from kivy.core.window import Window
    from screens.projector.labels import overlaps
    from screens.projector.map import PjMapView
    from screens.projector.style import pstyle
    question = demo.question("q-place")
    pstyle.fit(1920, 1080)
    view = PjMapView(consultation=demo, question=question, bundle_dir=str(DEMO_BUNDLE_DIR),
                     langs=["fr"], size_hint=(None, None), size=(1200, 700))
    Window.add_widget(view)
    try:
        result = tally_answers(demo, question, every_area_answers(demo, 1000))
        view.show(result, animate=False)
        step(3)
        boxes = view.label_boxes()
        assert view.unplaced and len(boxes) + len(view.unplaced) == len(demo.map.areas)
        assert not set(boxes) & set(view.unplaced)
        listed = [r.label for r in view.rows if r.opacity]
        for area_id in view.unplaced[:len(view.rows)]:
            assert demo.map.area(area_id).name["fr"] in listed
        keys = sorted(boxes)
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                assert not overlaps(boxes[a], boxes[b])
    finally:
        Window.remove_widget(view)
        pstyle.fit(*Window.size)
