"""Every kiosk and facilitator screen, in French and Italian, at normal and very large text,
landscape 1280×800 and portrait 800×1280, with and without high contrast: nothing is lost.

On each screen, every widget shown is either entirely on the window, or inside a CueScroll
whose labelled "More below" tab is shown while it lies below the visible part; no two
widgets of one layout overlap; no text runs out of its label. High contrast changes colours
only (checked below), so each size and orientation is walked once with it and once without,
split across the two languages, to keep the run to a couple of minutes.
"""
import pytest
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import NoTransition, ScreenManager
from kivy.uix.scrollview import ScrollView
from kivy.uix.stacklayout import StackLayout

from app.answers import validate_place
from app.errors import ValidationError
from screens.theme import theme
from screens.widgets import CueScroll
from tests.ui.conftest import set_size, step
from tests.ui.test_facilitator import enter_facilitator

TOL = 1.5
MENTON = (7.50312, 43.77871)


def window_rect(widget):
    x, y = widget.to_window(widget.x, widget.y)
    return x, y, x + widget.width, y + widget.height


def visible_widgets(root):
    """The widgets drawn on the current screens, with their nearest scrolling ancestor."""
    def visit(widget, scroll):
        if widget.opacity <= 0 or widget.width <= 0 or widget.height <= 0:
            return
        yield widget, scroll
        children = list(widget.children)
        if isinstance(widget, ScreenManager):
            children = [widget.current_screen] if widget.current_screen else []
        inner = widget if isinstance(widget, ScrollView) else scroll
        for child in children:
            yield from visit(child, inner)
    yield from visit(root, None)


def text_clipped(label):
    if not label.text.strip() or label.texture_size == [0, 0]:
        return False
    tw, th = label.texture_size
    return tw > label.width + TOL or th > label.height + TOL


def overlap(a, b):
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    return min(ax1, bx1) - max(ax0, bx0) > TOL and min(ay1, by1) - max(ay0, by0) > TOL


def describe(widget):
    return f"{widget.__class__.__name__}({getattr(widget, 'text', '')[:40]!r})"


def layout_faults(root):
    width, height = Window.size
    faults = []
    shown = list(visible_widgets(root))
    for widget, scroll in shown:
        x0, y0, x1, y1 = window_rect(widget)
        if scroll is None:
            if x0 < -TOL or y0 < -TOL or x1 > width + TOL or y1 > height + TOL:
                faults.append(f"off the window: {describe(widget)} at {(x0, y0, x1, y1)}")
        else:
            sx0, sy0, sx1, sy1 = window_rect(scroll)
            # A scroll's content ends with empty room as high as its cue (CueScroll gives it
            # that bottom padding, so the last row can scroll clear of the cue).
            room = getattr(widget, "_cue_padding", (0, 0))[1] if widget in scroll.children \
                else 0
            below = y0 < sy0 - TOL - room
            if below and not (isinstance(scroll, CueScroll) and scroll.more_below):
                faults.append(f"hidden below a scroll with no cue: {describe(widget)}")
            if x0 < sx0 - TOL or x1 > sx1 + TOL:
                faults.append(f"cut at the side of a scroll: {describe(widget)}")
        if isinstance(widget, Label) and text_clipped(widget):
            faults.append(f"text clipped: {describe(widget)} {tuple(widget.texture_size)} "
                          f"in {tuple(widget.size)}")
        if isinstance(widget, (BoxLayout, GridLayout, StackLayout)):
            kids = [c for c in widget.children if c.opacity > 0 and c.width > 0
                    and c.height > 0]
            rects = [window_rect(c) for c in kids]
            for i in range(len(kids)):
                for j in range(i + 1, len(kids)):
                    if overlap(rects[i], rects[j]):
                        faults.append(f"overlap: {describe(kids[i])} and {describe(kids[j])}")
    return sorted(set(faults))


def check(k, where, found):
    step(3)
    faults = layout_faults(k.root)
    if faults:
        found.append(f"{where}: " + "; ".join(faults[:6]))


def walk_every_screen(k, tag, found):
    root = k.root
    root.manager.transition = NoTransition()
    check(k, f"{tag} welcome", found)
    root.start_ballot()
    seen = set()
    for index, question in enumerate(k.session.consultation.questions):
        if question.kind in seen:
            continue
        seen.add(question.kind)
        k.session.index = index
        root.question.show()
        check(k, f"{tag} question {question.kind}", found)
        if question.kind == "place":
            # A pin placed (the place in words beside Confirm); it counts in the figures.
            k.session.record({"lon": MENTON[0], "lat": MENTON[1]})
            root.question.show()
            check(k, f"{tag} question place pinned", found)
    root._show_thanks()
    check(k, f"{tag} thanks", found)
    root.open_idea()
    root.idea.consent = True
    check(k, f"{tag} idea", found)
    idea = root.idea
    idea.open_place()
    check(k, f"{tag} idea place", found)
    with pytest.raises(ValidationError) as refusal:
        validate_place(k.session.consultation, {"lon": 0.0, "lat": 0.0}, "place")
    idea._place_refused(idea.picker, refusal.value)
    check(k, f"{tag} idea place refused", found)
    idea.picker.ids.map.tap_at(*idea.picker.ids.map.to_widget_xy(*MENTON))
    idea.picker.confirm()
    assert idea.place and idea.ids.modes.current == "form"
    check(k, f"{tag} idea with a place", found)
    for name in ("signup", "follow", "card"):
        root.go(name)
        check(k, f"{tag} {name}", found)
    root.reset_resident()
    root.open_pin()
    check(k, f"{tag} pin", found)
    root.pin_screen.entered = ""
    fac = enter_facilitator(k)
    fac.manager.transition = NoTransition() if hasattr(fac, "manager") else None
    fac.ids.pages.transition = NoTransition()
    for page in fac.nav_buttons:
        fac.show_page(page)
        check(k, f"{tag} facilitator {page}", found)


def test_high_contrast_changes_colours_only():
    sizes = ("scale", "font_title", "font_heading", "font_body", "font_small",
             "font_button", "button_height", "big_button_height", "padding", "spacing")
    theme.text_size = "very_large"
    plain = [getattr(theme, name) for name in sizes]
    theme.high_contrast = True
    try:
        assert [getattr(theme, name) for name in sizes] == plain
    finally:
        theme.high_contrast = False
        theme.text_size = "normal"


@pytest.mark.parametrize("lang, text_size, contrast_landscape", [
    ("fr", "normal", False), ("it", "normal", True),
    ("fr", "very_large", True), ("it", "very_large", False)])
def test_nothing_is_lost_on_any_screen(kiosk_factory, lang, text_size, contrast_landscape):
    found = []
    for size, contrast in (((1280, 800), contrast_landscape),
                           ((800, 1280), not contrast_landscape)):
        k = kiosk_factory(lang=lang, text_size=text_size, high_contrast=contrast)
        set_size(*size)
        walk_every_screen(k, f"{lang} {text_size} {size} hc={contrast}", found)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_next_meetings_read_across_the_width_in_portrait(kiosk_factory, lang):
    """Walked in portrait with very large text: "Next meetings" took a column of its own and
    left each meeting a word a line, the first one lower than the second. In portrait the
    heading sits above them; on a wide screen beside them; their tops always aligned."""
    k = kiosk_factory(lang=lang, text_size="very_large", high_contrast=True)
    welcome = k.root.welcome
    assert len(welcome.meetings) == 2
    try:
        for size in ((800, 1280), (1280, 800)):
            set_size(*size)
            step(5)
            heading = window_rect(welcome.ids.meetings_heading)
            first = window_rect(welcome.ids.meeting_first)
            second = window_rect(welcome.ids.meeting_second)
            assert abs(first[3] - second[3]) <= TOL, size            # tops aligned
            assert first[2] <= second[0] + TOL, size                 # side by side
            if size[0] < size[1]:
                assert heading[1] >= first[3] - TOL                  # above them
                for meeting in (first, second):
                    assert meeting[2] - meeting[0] > 0.4 * size[0]
            else:
                assert heading[2] <= first[0] + TOL                  # beside them
                assert abs(heading[3] - first[3]) <= TOL
    finally:
        set_size(1280, 800)
