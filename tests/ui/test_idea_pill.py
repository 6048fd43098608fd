"""Issue 27: the "More below" pill of the idea form never covers the consent sentence, in
portrait with very large text (the resident reads what they agree to): the form keeps a strip
under its scroll for the pill. Screenshots
build/screenshots/kiosk/<lang>/portrait-very-large-10-idea-consent.png."""
import pytest

from tests.ui.conftest import step, set_size, wait_settled, window_rect


def pill_rect(scroll):
    """Where the pill is drawn (window coordinates), from its canvas instructions."""
    from kivy.graphics import RoundedRectangle
    shapes = [i for i in scroll._cue.children if isinstance(i, RoundedRectangle)]
    assert len(shapes) == 1
    x, y = scroll.to_window(*shapes[0].pos)
    return x, y, x + shapes[0].size[0], y + shapes[0].size[1]


def overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_the_pill_leaves_the_consent_sentence_readable(kiosk_factory, lang):
    set_size(800, 1280)
    k = kiosk_factory(lang=lang, text_size="very_large")
    k.root.open_idea()
    step(6)
    idea = k.root.idea
    scroll, consent, send = idea.ids.scroll, idea.ids.consent, idea.ids.send
    assert scroll.more_below                       # the form is longer than the screen
    seen = 0
    for i in range(41):
        scroll.scroll_y = 1 - i / 40
        step(2)
        if not scroll.more_below:
            break
        view = window_rect(scroll)
        c = window_rect(consent)                  # the part of the consent the scroll shows
        shown = (c[0], max(c[1], view[1]), c[2], min(c[3], view[3]))
        pill = pill_rect(scroll)
        if shown[1] < shown[3]:
            assert not overlap(pill, shown)
        assert not overlap(pill, window_rect(send))
        assert pill[3] <= view[1] + 0.5           # under the scroll, not on it
        seen += shown[1] < shown[3]
    assert seen                                     # the consent was in view, pill drawn
    scroll.scroll_y = 0.25
    wait_settled()
    path = k.shot("portrait-very-large-10-idea-consent", lang)
    # The pill is on the screenshot, in the primary colour, where its instructions say.
    from PIL import Image
    from screens.theme import theme
    assert scroll.more_below
    x0, y0, x1, y1 = pill_rect(scroll)
    with Image.open(path) as image:
        pixel = image.convert("RGB").getpixel((int(x0 + 8), int(image.height - (y0 + y1) / 2)))
    primary = tuple(round(c * 255) for c in theme.colours["primary"][:3])
    assert all(abs(a - b) <= 8 for a, b in zip(pixel, primary)), (pixel, primary)
    set_size(1280, 800)
