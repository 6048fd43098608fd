"""Taps as people make them: a finger that comes down twice or three times, 50 to 300 ms
apart, on an answer that moves on at once (yes/no, scale, a colour, a single choice, a commune).
Only the first tap is an answer the resident saw; what the later taps land on (the next
question's buttons, drawn under the same finger) must record nothing. Real touches go through
the window as a finger's would, in landscape and portrait, at normal and very large text."""
import time
from dataclasses import replace

import pytest
from kivy.base import EventLoop
from kivy.tests.common import UnitTestTouch
from kivy.uix.scrollview import ScrollView

from screens.tap_guard import SETTLE_SECONDS
from kivy.uix.behaviors import ButtonBehavior

from tests.ui.conftest import set_size, step, wait_settled, widget_at
from tests.ui.conftest import window_rect
from kivy.core.window import Window
from kivy.metrics import dp

# (taps, ms apart): every burst is a double or a triple tap, at the intervals people tap.
BURSTS = [(2, 50), (3, 150), (2, 300), (3, 50), (2, 150), (3, 300), (2, 100), (3, 250)]


def window_centre(widget):
    return widget.to_window(*widget.center)


def reachable(widget):
    """The widget's centre is on the window and inside every scroll it lies in."""
    x, y = window_centre(widget)
    node = widget.parent
    while node is not None and node is not node.parent:
        if isinstance(node, ScrollView):
            x0, y0 = node.to_window(node.x, node.y)
            if not (x0 <= x <= x0 + node.width and y0 <= y <= y0 + node.height):
                return False
        node = node.parent
    return 0 <= x <= EventLoop.window.width and 0 <= y <= EventLoop.window.height


class FingerClock:
    """The time the kiosk's tap guard reads: the finger's, so that taps come at the intervals
    people tap at, whatever time this machine takes to draw a frame."""

    def __init__(self, guard=None):
        # On from where the guard stands (it may have been armed on the machine's clock).
        self.now = max(1000.0, guard.until if guard is not None else 0.0)

    def __call__(self):
        return self.now


def finger(clock, x, y, taps, interval_ms):
    """`taps` touches at one place, `interval_ms` apart on the guard's clock (each held 40 ms
    or half the interval); frames run in between, so what a tap changes is laid out under the
    finger before the next one comes down."""
    start = clock.now
    for n in range(taps):
        clock.now = start + n * interval_ms / 1000
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        EventLoop.idle()
        clock.now += min(0.04, interval_ms / 2000)
        touch.touch_up()
        step(3)


@pytest.fixture
def screen_fade():
    """The kiosk's own fade between screens: these taps come during it."""


# The kinds whose answer moves on at a tap, all tapped in bursts below.
BURST_KINDS = {"colour", "yes_no", "scale", "choice", "place"}


def test_every_kind_that_moves_on_at_a_tap_is_tapped_in_bursts(single_choice_demo):
    from screens.vote_kinds import BODIES
    declared = {kind for kind, body in BODIES.items() if body.auto_advance}
    declared |= {q.kind for q in single_choice_demo.questions
                 if q.kind == "choice" and not q.multiple}     # decided per question
    assert declared == BURST_KINDS


@pytest.fixture
def single_choice_demo(demo):
    """The demo, its choice question made a single one (a tap records it and goes on)."""
    questions = tuple(replace(q, multiple=False, max_choices=1) if q.kind == "choice" else q
                      for q in demo.questions)
    return replace(demo, questions=questions)


@pytest.mark.parametrize("size, text_size", [
    ((1280, 800), "normal"), ((800, 1280), "normal"),
    ((1280, 800), "very_large"), ((800, 1280), "very_large")])
def test_a_double_or_triple_tap_records_only_the_answer_seen(kiosk_factory, single_choice_demo,
                                                            size, text_size):
    k = kiosk_factory(consultation=single_choice_demo, text_size=text_size)
    set_size(*size)
    q = k.root.question
    k.tap(k.root.welcome.ids.start)
    ballot = k.session.ballot_id
    kinds = [question.kind for question in k.session.consultation.questions]
    for index in reversed(range(len(kinds))):     # every body built and laid out once
        k.session.index = index
        q.show()
        step(2)
    clock = k.root.tap_guard.clock = FingerClock(k.root.tap_guard)
    bursts = iter(BURSTS)
    expected = {}
    landed = []      # what the later taps of each burst came down on

    def burst_on(widget):
        clock.now += 2 * SETTLE_SECONDS       # the resident reads the new question first
        k.settle()
        step(2)
        assert reachable(widget), widget
        taps, interval = next(bursts)
        x, y = window_centre(widget)
        start = clock.now
        finger(clock, x, y, 1, interval)
        landed.append(widget_at(k.root.get_root_window(), x, y))
        clock.now = start + interval / 1000
        finger(clock, x, y, taps - 1, interval)
        k.settle()

    def jump_to(kind):
        k.session.index = kinds.index(kind)
        q.show()
        step(3)

    # colour: two projects, each by a burst on a vote button
    body = k.body()
    burst_on(body.ids.green)
    expected["q-colour"] = {"p-bus": "green"}
    assert k.store.answers_of(ballot) == expected and body.project.id == "p-bike"
    burst_on(body.ids.orange)
    expected["q-colour"]["p-bike"] = "orange"
    assert k.store.answers_of(ballot) == expected and body.project.id == "p-market"
    # yes/no, then scale, then the single choice: each burst lands on the next one's buttons
    jump_to("yes_no")
    burst_on(k.body().ids.yes)
    expected["q-ticket"] = "yes"
    assert k.session.question.kind == "scale"
    assert k.store.answers_of(ballot) == expected, "a tap recorded on the scale unseen"
    two = [c for c in k.body().ids.grid.children if c.value == 2][0]
    burst_on(two)
    expected["q-cooperation"] = 2
    assert k.session.question.kind == "choice"
    assert k.store.answers_of(ballot) == expected and not k.body().selected_ids
    card = next(c for c in reversed(k.body().ids.options.children) if reachable(c))
    burst_on(card)
    expected["q-themes"] = [card.option_id]
    assert k.session.question.kind == "ranking"
    assert k.store.answers_of(ballot) == expected and k.body().ranked == []
    # the place, from the list of communes: the last question, the thanks screen comes next
    jump_to("place")
    area = next(c for c in reversed(k.body().ids.areas.children) if reachable(c))
    burst_on(area)
    expected["q-place"] = {"area": area.area_id}
    assert k.root.current == "thanks", "a later tap left the thanks screen"
    assert k.store.answers_of(ballot) == expected
    # The later taps came down on the next question's answers: that is what was tested.
    assert sum(isinstance(w, ButtonBehavior) for w in landed) >= 2, landed


def test_a_tap_during_a_transition_records_nothing(kiosk):
    k = kiosk
    start = k.root.welcome.ids.start
    k.tap(start)       # dispatched at once: the fade to the question has just begun
    green = k.body().ids.green
    k.root.manager.transition.duration = 0.5
    k.root.go("welcome")
    k.root.go("question")
    assert k.root.manager.transition.is_active
    touch = UnitTestTouch(*window_centre(green))
    touch.touch_down()
    EventLoop.idle()
    touch.touch_up()
    k.settle()
    assert k.store.answers_of(k.session.ballot_id) == {}
    wait_settled()
    touch = UnitTestTouch(*window_centre(green))     # once settled, the same tap counts
    touch.touch_down()
    EventLoop.idle()
    touch.touch_up()
    step(2)
    assert k.store.answers_of(k.session.ballot_id) == {"q-colour": {"p-bus": "green"}}


def test_next_in_the_colour_vote_shows_every_project(kiosk):
    """Next on an answered project shows the next project, not the next question."""
    k = kiosk
    k.tap(k.root.welcome.ids.start)
    body = k.body()
    q = k.root.question
    k.tap(body.ids.green)
    k.tap(q.ids.back)
    seen = [body.project.id]
    while k.session.question.kind == "colour":
        assert not q.ids.next.disabled
        k.tap(q.ids.next)
        if k.session.question.kind == "colour":
            seen.append(body.project.id)
    assert seen == [p.id for p in body.projects]
    assert k.store.answers_of(k.session.ballot_id) == {"q-colour": {"p-bus": "green"}}


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_stop_keeps_the_answers_and_shows_nothing_of_them(kiosk_factory, lang):
    k = kiosk_factory(lang=lang)
    q = k.root.question
    k.tap(k.root.welcome.ids.start)
    ballot = k.session.ballot_id
    k.tap(k.body().ids.red)
    k.session.index = 5
    q.show()
    step(3)
    budget = k.body()
    k.tap(budget.rows["p-bus"].ids.quick)
    k.tap(q.ids.next)
    k.session.index = 5
    q.show()
    step(3)
    assert q.ids.stop.text == {"fr": "Arrêter de voter", "it": "Interrompere il voto"}[lang]
    # Navigation, not a vote: outlined like Back, never red nor crossed like "Contre".
    from screens.widgets import DangerButton, SecondaryButton
    assert isinstance(q.ids.stop, SecondaryButton) and not isinstance(q.ids.stop, DangerButton)
    k.tap(q.ids.stop)
    dialog = q.confirm_stop
    assert dialog.parent is not None
    k.shot("18-stop-confirm", lang)
    k.tap(dialog.ids.stay)                 # Continue: nothing changes
    assert k.root.current == "question" and dialog.parent is None
    k.tap(q.ids.stop)
    k.tap(q.confirm_stop.ids.leave)
    assert k.root.current == "welcome"
    assert k.store.answers_of(ballot) == {"q-colour": {"p-bus": "red"},
                                          "q-budget": {"p-bus": 240000}}
    status = k.store.conn.execute("SELECT status FROM ballots WHERE id = ?", (ballot,))
    assert status.fetchone()[0] != "open"
    # The next person: nothing of the previous one on any screen.
    k.tap(k.root.welcome.ids.start)
    assert k.session.ballot_id != ballot
    assert k.body().chosen == "" and k.body().project.id == "p-bus"
    k.session.index = 5
    q.show()
    step(3)
    budget = k.body()
    assert budget.left == budget.question.budget_total and not any(budget.amounts.values())
    meter = next(w for w in budget.walk() if w.__class__.__name__ == "Meter")
    assert meter.value == 0


def test_every_screen_opens_at_its_top(kiosk):
    k = kiosk
    k.root.open_idea()
    k.settle()
    scroll = next(w for w in k.root.idea.walk() if isinstance(w, ScrollView))
    step(3)
    scroll.scroll_y = 0
    step(2)
    k.root.reset_resident()
    k.settle()
    k.root.open_idea()
    k.settle()
    assert scroll.scroll_y == 1


@pytest.mark.parametrize("size", [(1280, 800), (800, 1280)])
def test_the_onscreen_keyboard_never_hides_back_next_or_the_field(kiosk_factory, size):
    from kivy.core.window import Window

    from screens.kiosk import KioskKeyboard
    from tests.ui.conftest import window_rect
    k = kiosk_factory(onscreen_keyboard=True)
    set_size(*size)
    q = k.root.question
    k.tap(k.root.welcome.ids.start)
    k.session.index = [x.kind for x in k.session.consultation.questions].index("open")
    q.show()
    step(3)
    field = k.body().ids.field.input
    field.focus = True
    step(6)
    keyboard = next(w for w in Window.children if isinstance(w, KioskKeyboard))
    keyboard_top = keyboard.y + keyboard.height * keyboard.scale
    for widget in (q.ids.back, q.ids.next, q.ids.stop, field):
        assert window_rect(widget)[1] >= keyboard_top - 1, widget
    field.focus = False
    step(4)
    assert k.root.manager.y == 0 and k.root.manager.height == Window.height


def test_the_more_below_cue_lets_a_tap_reach_the_button_under_it(kiosk):
    """The cue is drawn over the bottom of a scroll; a tap there goes to what lies under it."""
    from tests.ui.conftest import window_rect
    from screens.widgets import CueScroll
    k = kiosk
    q = k.root.question
    k.tap(k.root.welcome.ids.start)
    k.session.index = [x.kind for x in k.session.consultation.questions].index("budget")
    q.show()
    step(3)
    body = k.body()
    scroll = next(w for w in body.walk() if isinstance(w, CueScroll))
    assert scroll.more_below
    sx0, sy0, sx1, sy1 = window_rect(scroll)
    band = (sy0 + 2, sy0 + scroll.cue_height - 2)
    # A row's quick button brought into the cue's band, under the cue's pill.
    rows = sorted(body.rows.values(), key=lambda r: -window_rect(r)[1])   # top to bottom
    for row in [r for r in rows if window_rect(r.ids.quick)[1] < band[0]]:   # below the band
        quick = row.ids.quick
        for _ in range(40):
            x0, y0, x1, y1 = window_rect(quick)
            if band[0] <= (y0 + y1) / 2 <= band[1]:
                break
            scroll.scroll_y = max(0.0, min(1.0, scroll.scroll_y + (
                ((y0 + y1) / 2 - sum(band) / 2) / max(1, scroll.overflow()))))
            step(1)
        x0, y0, x1, y1 = window_rect(quick)
        if band[0] <= (y0 + y1) / 2 <= band[1] and scroll.more_below:
            break
    else:
        pytest.skip("no button could be brought under the cue at this size")
    x, y = (x0 + x1) / 2, (y0 + y1) / 2
    clock = k.root.tap_guard.clock = FingerClock(k.root.tap_guard)
    clock.now += 1
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    step(1)
    touch.touch_up()
    step(3)
    assert body.amounts[row.project.id] > 0, "the tap went to the cue, not to the button"


def test_the_last_row_scrolls_clear_of_the_more_below_cue(kiosk):
    """Scrolled to its end, an overflowing scroll shows its last row above the cue's band."""
    from tests.ui.conftest import window_rect
    from screens.widgets import CueScroll
    k = kiosk
    q = k.root.question
    k.tap(k.root.welcome.ids.start)
    k.session.index = [x.kind for x in k.session.consultation.questions].index("budget")
    q.show()
    step(3)
    body = k.body()
    scroll = next(w for w in body.walk() if isinstance(w, CueScroll))
    assert scroll.more_below and scroll.cue_height > 0
    content = scroll.children[0]
    assert content.padding[3] >= scroll.cue_height
    last = min(body.rows.values(), key=lambda r: window_rect(r)[1])      # the lowest row
    scroll.scroll_y = 0.02          # almost at the end: the cue is still drawn
    step(2)
    if scroll.more_below:
        assert window_rect(last)[1] >= window_rect(scroll)[1] + scroll.cue_height * 0.6
    scroll.scroll_y = 0
    step(2)
    assert window_rect(last)[1] >= window_rect(scroll)[1] + scroll.cue_height - 1


@pytest.mark.parametrize("size, text_size, stacked", [((1280, 800), "normal", False),
                                                      ((800, 1280), "very_large", True)])
def test_the_scale_never_cuts_a_label_word(kiosk_factory, size, text_size, stacked):
    """Scale cards side by side while every label's longest word fits, stacked otherwise."""
    from screens.widgets import longest_word_width
    from tests.ui.conftest import set_size
    k = kiosk_factory(text_size=text_size)
    set_size(*size)
    q = k.root.question
    k.tap(k.root.welcome.ids.start)
    k.session.index = [x.kind for x in k.session.consultation.questions].index("scale")
    q.show()
    step(4)
    row = k.body().ids.grid
    assert (row.orientation == "vertical") == stacked
    for card in row.children:
        assert longest_word_width(card.caption, card.font_size, card.bold) <= card.width - dp(20)
        x0, y0, x1, y1 = window_rect(card)
        assert y0 >= 0 and y1 <= Window.height


def test_no_idle_prompt_over_the_thanks_screen_it_closes_by_itself(kiosk):
    k = kiosk
    k.tap(k.root.welcome.ids.start)
    k.root._show_thanks()
    step(2)
    assert k.root.current == "thanks"
    k.root._idle_reached()                  # the idle time ran out on the thanks screen
    step(2)
    assert k.root.idle_prompt.parent is None and k.root.current == "thanks"
    k.root.finish()                          # its own countdown ends it
    k.settle()
    assert k.root.current == "welcome"


def full_window_rectangles(screen):
    """The rectangles of the screen's own canvas.before as large as the screen itself."""
    from kivy.graphics import Rectangle
    return [i for i in screen.canvas.before.children
            if isinstance(i, Rectangle) and tuple(i.size) == tuple(screen.size)
            and screen.width > 0]


def test_the_residents_screens_draw_no_background_over_the_windows_own(kiosk):
    """The kiosk clears the window to the theme's background: a screen that drew it again
    under its content cost software OpenGL a full-window blended rectangle every frame (two
    during a fade), a tap's frame included. Under another clear colour (a screen shown
    elsewhere), each still draws its own."""
    from screens.theme import theme
    from kivy.graphics import StencilPush
    from screens.widgets import FittedImage
    k = kiosk
    k.tap(k.root.welcome.ids.start)
    # The cover and a project's picture, drawn whole, without Kivy's stencil around them.
    pictures = {name: [w for w in getattr(k.root, name).walk(restrict=True)
                       if isinstance(w, FittedImage)] for name in ("welcome", "question")}
    assert [len(found) for found in pictures.values()] == [1, 1]
    assert pictures["question"][0].texture is not None             # the bus project's
    assert not any(isinstance(i, StencilPush) for found in pictures.values()
                   for p in found for i in p.canvas.children)
    k.root.finish()
    k.settle()
    k.root._show_thanks()                                        # noqa: SLF001
    k.settle()
    screens = [k.root.welcome, k.root.question, k.root.thanks]
    assert list(Window.clearcolor) == list(theme.colours["background"])
    assert [full_window_rectangles(s) for s in screens] == [[], [], []]
    saved = list(Window.clearcolor)
    try:
        Window.clearcolor = (0, 0, 0, 1)
        step(1)
        assert all(len(full_window_rectangles(s)) == 1 for s in screens)
    finally:
        Window.clearcolor = saved
        step(1)
    assert [full_window_rectangles(s) for s in screens] == [[], [], []]


@pytest.mark.parametrize("size", [(1280, 800), (800, 1280)], ids=["landscape", "portrait"])
def test_the_more_below_pill_never_covers_the_answers(kiosk_factory, size):
    """Very large text and high contrast (a 75-year-old alone): the budget's, the choice's and
    the ranking's rows scroll, and the "More below" pill was drawn over their bottom edge
    (over a row's "Fund in full" button in easy read): it sits in a strip under the rows."""
    from screens.widgets import CueScroll
    from tests.ui.test_inclusion import pill_never_over_text, to_question
    set_size(*size)
    k = kiosk_factory(text_size="very_large", high_contrast=True)
    question = to_question(k, "choice")
    seen = 0
    for kind in ("choice", "ranking", "budget"):
        while k.session.question.kind != kind:
            question.skip()
            step(2)
        wait_settled()
        step(4)
        scroll = next(w for w in question.body.walk() if isinstance(w, CueScroll))
        assert scroll.cue_host is not None, kind
        pill_never_over_text(scroll)
        seen += scroll.more_below
        scroll.scroll_y = 0.5           # mid-way: the rows under the view's bottom edge
        step(3)
        pill_never_over_text(scroll)
    k.shot(f"walk-budget-{size[0]}x{size[1]}")
    assert seen, "nothing overflowed: the test no longer reaches a pill"
