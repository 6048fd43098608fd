"""Issue 16 on a real window: a resident answers "where?" on the offline map (a tap, then
Confirm) or from the list of communes; a point outside the perimeter is refused in the
resident's language; the idle reset clears the pin; the projector shows a place question's
result on the map. Screenshots to build/screenshots/kiosk/<lang>/ and …/projector/."""
import pytest
from kivy.metrics import dp
from kivy.tests.common import UnitTestTouch
from PIL import Image

from app.tally import tally_answers
from tests.ui.conftest import SHOTS, set_size, step
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
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    step(2)


def outside_point(body):
    """A point shown on the map, away from the buttons, in no area of the perimeter."""
    mapview = body.ids.map
    perimeter = body.consultation.map
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


def test_a_drag_pans_and_places_no_pin(kiosk):
    body = to_place(kiosk)
    mapview = body.ids.map
    before = list(mapview.centre_px)
    x, y = mapview.to_window(mapview.center_x, mapview.center_y)
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
