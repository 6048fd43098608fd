"""Issue 27: a city's own map on a real window. `python -m server map build` on the two
reference files of tests/data/geo (copies of ../shared/data/geo; not the demo's prepared map)
gives a bundle whose place question shows the whole perimeter on the tiles drawn offline; a tap in a commune is recorded
with its code, a tap outside is refused in the resident's language. Screenshots in FR and IT
(build/screenshots/kiosk/<lang>/17-city-map*.png)."""
import pytest

from app.bundle import load_bundle
from server.admin import main
from tests.ui.conftest import set_size, step
from tests.ui.test_place import (MENTON, outside_point, real_image, to_place, touch_tap,
                                 whole_perimeter_shown, window_xy)
from tests.unit.test_mapbuild import build_city_map, bundle_with_map

VENTIMIGLIA = (7.6128, 43.7920)


@pytest.fixture(scope="module")
def city_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("city")
    assert main(build_city_map(root / "map")) == 0
    folder = bundle_with_map(root / "bundle", root / "map")
    return folder, load_bundle(folder)


@pytest.fixture
def city_kiosk(kiosk_factory, city_bundle):
    folder, consultation = city_bundle

    def make(lang="fr"):
        return kiosk_factory(lang=lang, consultation=consultation, bundle_dir=folder)
    return make


@pytest.mark.parametrize("size", [(1280, 800), (800, 1280)])
def test_the_place_question_shows_the_citys_perimeter(city_kiosk, size):
    set_size(*size)
    body = to_place(city_kiosk())
    mapview = body.ids.map
    assert mapview.consultation_map is body.picker_consultation.map
    assert len(mapview.consultation_map.areas) == 229
    assert whole_perimeter_shown(mapview)


def test_a_tap_in_a_commune_records_its_code(city_kiosk):
    k = city_kiosk()
    body = to_place(k)
    touch_tap(*window_xy(body.ids.map, *VENTIMIGLIA))
    assert body.pin_area == "008065" and "Ventimiglia" in body.ids.pin_label.text
    k.tap(body.ids.confirm)
    assert k.store.answers_of(k.session.ballot_id)["q-place"]["area"] == "008065"


@pytest.mark.parametrize("lang, words", [("fr", "hors"), ("it", "fuori")])
def test_a_tap_outside_the_citys_perimeter_is_refused(city_kiosk, lang, words):
    k = city_kiosk(lang)
    body = to_place(k)
    mapview = body.ids.map
    touch_tap(*outside_point(body))
    assert words in k.root.question.error.lower()
    assert not body.pin and body.ids.confirm.disabled
    assert k.store.answers_of(k.session.ballot_id) == {}
    touch_tap(*window_xy(mapview, *MENTON))
    assert body.pin_area == "06083" and k.root.question.error == ""


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_city_map_screenshots(city_kiosk, lang):
    k = city_kiosk(lang)
    for size, name in (((1280, 800), "17-city-map"), ((800, 1280), "portrait-17-city-map")):
        set_size(*size)
        body = to_place(k)
        touch_tap(*window_xy(body.ids.map, *MENTON))
        real_image(k.shot(name, lang), size)
        touch_tap(*outside_point(body))
        step(6)
        real_image(k.shot(name + "-outside", lang), size)
        k.root.reset_resident()
        k.settle()
    set_size(1280, 800)
