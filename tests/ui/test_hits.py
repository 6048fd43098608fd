"""Every control drawn takes the taps made on it, and every screen can be left, on every kiosk
and facilitator screen, landscape and portrait, at the three text sizes.

For each button and text field shown (on the window, inside its scroll's visible part), the
widget a touch at its centre goes to, found as Kivy dispatches touches (conftest.widget_at),
must be that very control: not a hidden field lying over it, not a neighbour, not a scroll cue.
Each screen is then left by a real touch on its way out (Stop, Finish, Cancel, Back, the pages
of facilitator mode)."""
import pytest
from kivy.core.window import Window
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.screenmanager import NoTransition, ScreenManager
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput
from kivy.weakproxy import WeakProxy

from tests.ui.conftest import set_size, step, widget_at, window_rect
from tests.ui.test_facilitator import enter_facilitator
from tests.ui.test_taps import FingerClock, UnitTestTouch


def controls(root):
    """The buttons and text fields drawn, with their centre on the window and inside the
    visible part of every scroll they lie in."""
    found = []

    def visit(widget, clip):
        if widget.opacity <= 0 or widget.width <= 0 or widget.height <= 0:
            return
        if isinstance(widget, (ButtonBehavior, TextInput)):
            x0, y0, x1, y1 = window_rect(widget)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            if clip[0] <= cx <= clip[2] and clip[1] <= cy <= clip[3]:
                found.append(widget)
        children = list(widget.children)
        if isinstance(widget, ScreenManager):
            children = [widget.current_screen] if widget.current_screen else []
        if isinstance(widget, ScrollView):
            x0, y0, x1, y1 = window_rect(widget)
            clip = (max(clip[0], x0), max(clip[1], y0), min(clip[2], x1), min(clip[3], y1))
        for child in children:
            visit(child, clip)

    from kivy.uix.modalview import ModalView
    modals = [w for w in Window.children if isinstance(w, ModalView)]
    visit(modals[0] if modals else root, (0, 0, Window.width, Window.height))
    return found


def real(widget):
    """The widget itself (kv's ids are weak proxies)."""
    return widget.__self__ if isinstance(widget, WeakProxy) else widget


def ancestors(widget):
    found = []
    while widget is not None and widget.parent is not widget:
        found.append(widget)
        widget = widget.parent
    return found


def describe(widget):
    if widget is None:
        return "nothing"
    return f"{widget.__class__.__name__}({str(getattr(widget, 'text', ''))[:30]!r})"


def broken_words(root):
    """Labels drawn narrower than their longest word (which Kivy then cuts: "U/n/an")."""
    from kivy.uix.label import Label

    from screens.widgets import longest_word_width
    from kivy.uix.modalview import ModalView
    modals = [w for w in Window.children if isinstance(w, ModalView)]
    cut = []

    def visit(widget):
        if widget.opacity <= 0 or widget.width <= 0 or widget.height <= 0:
            return
        if isinstance(widget, Label) and widget.text.strip() and not widget.markup \
                and widget.text_size[0] is not None:
            room = widget.text_size[0] - widget.padding[0] - widget.padding[2]
            if longest_word_width(widget.text, widget.font_size, widget.bold) > room + 2:
                cut.append(widget)
        children = list(widget.children)
        if isinstance(widget, ScreenManager):
            children = [widget.current_screen] if widget.current_screen else []
        for child in children:
            visit(child)

    visit(modals[0] if modals else root)
    return cut


SHOT = {"question yes_no", "question place", "facilitator session", "facilitator projector",
        "facilitator display", "facilitator ideas editor", "welcome"}


def hit_faults(where, root, found, k=None):
    step(3)
    if k is not None:
        # The screens this walk was written for, for people to look at (build/screenshots).
        lang, text_size, size = where.split(" ", 2)[:3]
        name = where.split(") ", 1)[1]
        if name in SHOT:
            orientation = "portrait" if size.startswith("(800") else "landscape"
            k.shot(f"hits-{orientation}-{text_size}-{name.replace(' ', '-')}", lang)
    for label in broken_words(root):
        found.append(f"{where}: a word cut in {describe(label)}")
    shown = controls(root)
    assert shown, f"{where}: no control shown"
    for control in shown:
        x0, y0, x1, y1 = window_rect(control)
        got = widget_at(Window, (x0 + x1) / 2, (y0 + y1) / 2)
        if control.disabled and got is not None and got.disabled and got in ancestors(control):
            continue     # a greyed field inside its greyed box: the tap goes nowhere, rightly
        if got is not control:
            found.append(f"{where}: a tap on {describe(control)} goes to {describe(got)}")


class Finger:
    """Real touches on a kiosk whose tap guard reads the finger's clock (a resident reads
    each new screen before tapping)."""

    def __init__(self, k):
        self.k = k
        self.clock = FingerClock(k.root.tap_guard)
        k.root.tap_guard.clock = self.clock

    def tap(self, widget, where, found):
        self.clock.now += 1
        from screens.widgets import CueScroll
        scroll = next((a for a in ancestors(widget)[1:] if isinstance(a, CueScroll)), None)
        if scroll is not None:
            scroll.scroll_to_show(widget)       # a person scrolls to what is below first
            step(2)
        x0, y0, x1, y1 = window_rect(widget)
        x, y = (x0 + x1) / 2, (y0 + y1) / 2
        got = widget_at(Window, x, y)
        if got is not real(widget):
            found.append(f"{where}: cannot reach {describe(widget)}, {describe(got)} is there")
            return False
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        step(1)
        touch.touch_up()
        step(3)
        self.k.settle()
        return True


def leave(k, finger, where, button, to, found):
    if button.disabled:
        found.append(f"{where}: the way out {describe(button)} is greyed")
    if finger.tap(button, where, found) and k.root.current != to:
        found.append(f"{where}: {describe(button)} led to {k.root.current}, not {to}")
    if k.root.current != to:
        k.root.go(to)
        step(2)


def walk(k, tag, found):
    root = k.root
    root.go("welcome")
    root.manager.transition = NoTransition()
    finger = Finger(k)
    k.session.submit_idea(title="Bancs publics", text="Des bancs place du marché")
    hit_faults(f"{tag} welcome", root.get_root_window(), found, k)
    leave(k, finger, f"{tag} welcome", root.welcome.ids.start, "question", found)
    question = root.question
    seen = set()
    for index, q in enumerate(k.session.consultation.questions):
        if q.kind in seen:
            continue
        seen.add(q.kind)
        k.session.index = index
        question.show()
        where = f"{tag} question {q.kind}"
        hit_faults(where, root.get_root_window(), found, k)
        # Stop opens its question; Continue goes back to the ballot.
        if finger.tap(question.ids.stop, where, found) and question.confirm_stop:
            dialog = question.confirm_stop
            hit_faults(f"{where} stop?", root.get_root_window(), found)
            finger.tap(dialog.ids.stay, f"{where} stop?", found)
            if dialog.parent is not None:
                found.append(f"{where}: Continue did not close the question")
                dialog.dismiss(animation=False)
    if finger.tap(question.ids.stop, f"{tag} stop", found):
        leave(k, finger, f"{tag} stop", question.confirm_stop.ids.leave, "welcome", found)
    else:
        root.reset_resident()
    root.start_ballot()
    root._show_thanks()
    hit_faults(f"{tag} thanks", root.get_root_window(), found)
    leave(k, finger, f"{tag} thanks", root.thanks.ids.finish, "welcome", found)
    for name, opened, way_out, to in (
            ("idea", root.open_idea, lambda: root.idea.ids.cancel, "welcome"),
            ("signup", lambda: root.go("signup"), lambda: root.signup_form.ids.cancel, "thanks"),
            ("follow", lambda: root.go("follow"), lambda: root.follow_idea.ids.back, "welcome"),
            ("card", lambda: root.go("card"), lambda: root.card_entry.ids.cancel, "welcome"),
            ("pin", root.open_pin, lambda: root.pin_screen.ids.cancel, "welcome")):
        opened()
        step(2)
        hit_faults(f"{tag} {name}", root.get_root_window(), found)
        leave(k, finger, f"{tag} {name}", way_out(), to, found)
        if root.current != "welcome":
            root.go("welcome")
    fac = enter_facilitator(k)
    fac.ids.pages.transition = NoTransition()
    for page, button in fac.nav_buttons.items():
        if not finger.tap(button, f"{tag} facilitator nav", found):
            fac.show_page(page)
        hit_faults(f"{tag} facilitator {page}", root.get_root_window(), found, k)
        if page == "ideas":
            ideas = fac.pages["ideas"]
            card = ideas.ids.ideas.children[0]
            finger.tap(card.ids.openb, f"{tag} facilitator ideas", found)
            hit_faults(f"{tag} facilitator ideas editor", root.get_root_window(), found, k)
            finger.tap(ideas.ids.close, f"{tag} facilitator ideas editor", found)
            hit_faults(f"{tag} facilitator ideas closed", root.get_root_window(), found)
    leave(k, finger, f"{tag} facilitator", fac.ids.back, "welcome", found)


@pytest.mark.parametrize("lang, text_size", [
    ("fr", "normal"), ("it", "large"), ("fr", "very_large"), ("it", "very_large")])
def test_every_control_takes_its_taps_and_every_screen_can_be_left(kiosk_factory, lang,
                                                                   text_size):
    found = []
    k = kiosk_factory(lang=lang, text_size=text_size)
    for size in ((1280, 800), (800, 1280)):
        set_size(*size)
        walk(k, f"{lang} {text_size} {size}", found)
    assert not found, "\n".join(found)
