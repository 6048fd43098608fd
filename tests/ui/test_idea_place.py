"""Issue 16 on a real window: a resident proposing an idea can put it on the map — the same
picker as the place question (a tap, then Confirm; or a commune from the list), a tap outside
the perimeter refused in the resident's language, the place said in words on the form,
changed or removed — or send it without a place. The idle reset forgets the place. The
facilitator's ideas page says where each idea is. Screenshots (FR/IT, normal and very large
text, landscape and portrait) to build/screenshots/kiosk/<lang>/."""
import pytest
from kivy.metrics import dp

from tests.ui.conftest import set_size, step
from tests.ui.test_place import (MENTON, outside_point, real_image, touch_tap,
                                 whole_perimeter_shown, window_xy)


def open_form(k, title="Un banc à l'ombre", text="Sur le front de mer, face au port."):
    k.tap(k.root.welcome.ids.idea)
    idea = k.root.idea
    assert idea.ids.modes.current == "form" and idea.has_map
    k.type(idea.ids.title, title)
    k.type(idea.ids.text, text)
    return idea


def open_picker(k, idea):
    k.tap(idea.ids.place_button)
    assert idea.ids.modes.current == "place"
    step(4)
    return idea.picker


def test_an_idea_put_on_the_map_is_sent_with_its_place(kiosk):
    k = kiosk
    idea = open_form(k)
    assert idea.place is None and idea.ids.remove_place.disabled
    picker = open_picker(k, idea)
    mapview = picker.ids.map
    assert picker.ids.confirm.disabled and not mapview.pin
    touch_tap(*window_xy(mapview, *MENTON))
    assert picker.pin_area == "menton" and "Menton" in picker.ids.pin_label.text
    assert idea.place is None                             # nothing kept before Confirm
    k.tap(picker.ids.confirm)
    assert idea.ids.modes.current == "form"
    assert idea.place["area"] == "menton" and abs(idea.place["lon"] - MENTON[0]) < 1e-3
    assert "Menton" in idea.ids.place_text.text and not idea.ids.remove_place.disabled
    k.tap(idea.ids.send)
    assert k.root.current == "thanks"
    held = k.store.proposal(k.session.proposal.id)
    assert held.place == idea_place(held) and held.place["area"] == "menton"
    assert k.store.events()[-1].payload["place"] == held.place


def idea_place(proposal):
    return {"lon": proposal.place["lon"], "lat": proposal.place["lat"], "area": "menton"}


def test_the_list_path_change_and_remove(kiosk):
    k = kiosk
    idea = open_form(k)
    picker = open_picker(k, idea)
    card = picker.area_cards["ventimiglia"]
    assert card.text == "Vintimille" and min(card.size) >= dp(48) - 0.5
    k.tap(card)                                            # a commune: back to the form at once
    assert idea.ids.modes.current == "form" and idea.place == {"area": "ventimiglia"}
    assert "Vintimille" in idea.ids.place_text.text
    picker = open_picker(k, idea)                          # opening again shows the choice
    assert picker.area_cards["ventimiglia"].selected and not picker.pin
    k.tap(idea.ids.place_back)                             # back without change
    assert idea.place == {"area": "ventimiglia"}
    k.tap(idea.ids.remove_place)
    assert idea.place is None and idea.ids.remove_place.disabled
    k.tap(idea.ids.send)
    assert k.store.proposal(k.session.proposal.id).place is None
    assert "place" not in k.store.events()[-1].payload


@pytest.mark.parametrize("lang, words, text_size", [("fr", "hors", "normal"),
                                                     ("it", "fuori", "very_large")])
def test_a_tap_outside_is_refused_in_the_residents_language(kiosk_factory, lang, words,
                                                            text_size):
    from app.answers import validate_place
    from app.errors import ValidationError
    from screens.i18n import tr
    k = kiosk_factory(lang=lang, text_size=text_size)
    idea = open_form(k)
    picker = open_picker(k, idea)
    picker.ids.map.zoom_out()
    picker.ids.map.zoom_out()
    step(2)
    touch_tap(*outside_point(picker))
    with pytest.raises(ValidationError) as refusal:
        validate_place(k.session.consultation, {"lon": 0.0, "lat": 0.0}, "place")
    assert idea.place_error == refusal.value.describe(tr._) and words in idea.place_error.lower()
    assert idea.ids.place_error.opacity == 1 and not picker.pin and picker.ids.confirm.disabled
    assert idea.place is None and idea.ids.modes.current == "place"
    step(3)
    assert whole_perimeter_shown(picker.ids.map)            # with the message above it
    touch_tap(*window_xy(picker.ids.map, *MENTON))          # a tap inside clears the message
    assert picker.pin and idea.place_error == ""


def test_the_idle_reset_forgets_the_place_and_the_pin(kiosk):
    k = kiosk
    idea = open_form(k)
    picker = open_picker(k, idea)
    k.tap(picker.area_cards["menton"])
    picker = open_picker(k, idea)
    touch_tap(*window_xy(picker.ids.map, *MENTON))
    assert picker.pin and idea.place
    k.root.reset_resident()
    k.settle()
    assert idea.place is None and not picker.pin and not picker.ids.map.pin
    assert not any(card.selected for card in picker.area_cards.values())
    assert idea.ids.modes.current == "form" and idea.place_error == ""
    k.tap(k.root.welcome.ids.idea)
    assert idea.ids.modes.current == "form" and idea.ids.title.text == ""


def test_the_facilitators_ideas_page_says_where(kiosk):
    from screens.i18n import tr
    from tests.ui.test_facilitator import enter_facilitator
    k = kiosk
    k.session.submit_idea(title="Banc", text="Un banc", place={"lon": MENTON[0], "lat": MENTON[1]})
    k.session.submit_idea(title="Fontaine", text="Une fontaine", place={"area": "ventimiglia"})
    k.session.submit_idea(title="Partout", text="Sans lieu")
    fac = enter_facilitator(k)
    fac.show_page("ideas")
    step(3)
    metas = {c.proposal.title: c.meta for c in k.root.walk()
             if c.__class__.__name__ == "IdeaCard"}
    assert tr._("Pin on the map: {place}").format(place="Menton") in metas["Banc"]
    assert tr._("Place: {place}").format(place="Vintimille") in metas["Fontaine"]
    assert "Vintimille" not in metas["Partout"] and "Menton" not in metas["Partout"]


@pytest.mark.parametrize("lang", ["fr", "it"])
@pytest.mark.parametrize("text_size", ["normal", "very_large"])
def test_idea_place_screenshots(kiosk_factory, lang, text_size):
    k = kiosk_factory(lang=lang, text_size=text_size)
    prefix = "" if text_size == "normal" else "large-"
    for size, orient in (((1280, 800), ""), ((800, 1280), "portrait-")):
        set_size(*size)
        idea = open_form(k, *(("Un banc à l'ombre", "Face au port.") if lang == "fr"
                              else ("Una panchina all'ombra", "Davanti al porto.")))
        picker = open_picker(k, idea)
        touch_tap(*window_xy(picker.ids.map, *MENTON))
        real_image(k.shot(f"{prefix}{orient}18-idea-place", lang), size)
        picker.ids.map.zoom_out()
        touch_tap(*outside_point(picker))
        step(4)
        real_image(k.shot(f"{prefix}{orient}18-idea-place-refused", lang), size)
        touch_tap(*window_xy(picker.ids.map, *MENTON))
        k.tap(picker.ids.confirm)
        idea.ids.scroll.scroll_y = 0
        step(4)
        real_image(k.shot(f"{prefix}{orient}18-idea-with-place", lang), size)
        k.root.reset_resident()
        k.settle()
    set_size(1280, 800)
