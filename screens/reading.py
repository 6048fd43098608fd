"""What read aloud finds on a screen (issue 31): the words a button or a label shows, as a
voice reads them, and which of them lies under a finger. Audio-first (screens/kiosk.py) reads
a button at the first touch and lets the second act; a text touched is read and the touch goes
on. Light: no speech is loaded here (screens/speech.py is, once a resident turns it on)."""
import re

from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.stencilview import StencilView


def spoken_words(label) -> str:
    """A label's or a button's words as a voice reads them (no markup, one line)."""
    text = getattr(label, "words", "") or getattr(label, "text", "") or ""
    if not isinstance(text, str):
        return ""
    if getattr(label, "markup", False):
        text = re.sub(r"\[/?[a-z]+[^\]]*\]", "", text)
        text = text.replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")
    return " ".join(text.split())


def holds(widget, x, y) -> bool:
    """Whether the window point (x, y) lies on `widget`."""
    x0, y0 = widget.to_window(widget.x, widget.y)
    if not (x0 <= x <= x0 + widget.width and y0 <= y <= y0 + widget.height):
        return False
    # Scrolled out of sight is not under the finger.
    node = widget.parent
    while node is not None and node is not node.parent:
        if isinstance(node, StencilView):
            return holds(node, x, y)
        node = node.parent
    return True


def _seen(widget) -> bool:
    node = widget
    while node is not None:
        if node.opacity <= 0:
            return False
        node = node.parent if node.parent is not node else None     # the window is its own
    return widget.get_root_window() is not None and widget.width > 0 and widget.height > 0


def audible_buttons(root) -> list:
    """The buttons under `root` that show words, are seen and can be used."""
    return [w for w in root.walk(restrict=True)
            if isinstance(w, ButtonBehavior) and not w.disabled and _seen(w)
            and spoken_words(w)]


def audible_under(root, x, y):
    """(button, label) under the window point (x, y) on `root`: the button whose words a first
    touch reads (None when none, or when it acts at once, as Read aloud itself does), else the
    text label there (None when none)."""
    for button in audible_buttons(root):
        if holds(button, x, y):
            return (None if getattr(button, "acts_at_once", False) else button), None
    label = None
    for widget in root.walk(restrict=True):
        if isinstance(widget, Label) and not isinstance(widget, ButtonBehavior) \
                and spoken_words(widget) and _seen(widget) and holds(widget, x, y):
            label = widget          # the last one walked: the innermost
    return None, label
