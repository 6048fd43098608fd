"""Widgets shared by several screens; their kv rules are in widgets.kv beside this file."""
import contextlib
import hashlib
import math
import os
import tempfile
import threading

from kivy.clock import Clock
from kivy.graphics import Color, Line
from kivy.metrics import dp
from kivy.properties import (BooleanProperty, ListProperty, NumericProperty, ObjectProperty,
                             StringProperty)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.image import Image
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from screens import load_kv


_widths = {}


class FittedImage(Image):
    """An image drawn whole inside its widget ("contain", the kiosk's only way): Kivy's Image
    clips every image with a stencil (two widget-sized rectangles and a stencil test a frame,
    needed for "cover" only), which software OpenGL pays at every frame (widgets.kv).

    With `FittedImage.copies` set (a folder; the app sets it under its data folder), a
    picture shown much smaller than its file is kept there scaled to the size it is shown at,
    and later loads read that copy: the welcome's 960×600 cover, shown at 377×235, cost its
    decoding and upload (~15 ms of the kiosk's start) for pixels never drawn. A copy smaller
    than where it is shown (another window size) gives way to the file at once, and a copy of
    the new size is made, off the UI thread, once the size has held for two seconds."""

    copies = None        # the folder of scaled copies (str); None: the files only

    def __init__(self, **kwargs):
        self._from_copy = False
        self._copy_soon = Clock.create_trigger(self._copy_if_worth, 2.0)
        super().__init__(**kwargs)
        self.fbind("norm_image_size", self._check_copy)
        self._check_copy()

    def texture_update(self, *_args):
        copy = scaled_copy(self.copies, self.source) if self.copies and self.source else None
        self._from_copy = copy is not None
        self.set_texture_from_resource(copy or self.source)
        if copy is not None and self.texture is None:     # the copy gone or unreadable:
            forget_copy(self.copies, self.source)          # the file, and no such copy again
            self._from_copy = False
            self.set_texture_from_resource(self.source)

    def _shown(self):
        return tuple(int(math.ceil(v)) for v in self.norm_image_size)

    def _check_copy(self, *_args):
        if not self.copies or self.texture is None:
            return
        (width, height), (tw, th) = self._shown(), self.texture.size
        if self._from_copy and (width > tw + 1 or height > th + 1):
            self._from_copy = False                      # too small here: the file itself
            self.set_texture_from_resource(self.source)
        elif not self._from_copy:
            self._copy_soon()

    def _copy_if_worth(self, *_args):
        (width, height), texture = self._shown(), self.texture
        if not self.copies or not self.source or self._from_copy or texture is None:
            return
        if width * height * 2 > texture.width * texture.height or min(width, height) < 8:
            return                                       # not half the pixels saved
        threading.Thread(target=write_scaled_copy, daemon=True,
                         args=(self.copies, self.source, (width, height))).start()


_copies_listed = {}        # folder -> {copy's key: file name}, read once, kept up to date
_copies_lock = threading.Lock()


def _copy_key(source: str):
    """A picture file's key among the copies: its path, modification time and size (a new
    file under the same name is another picture), or None when it cannot be read."""
    try:
        stat = os.stat(source)
    except OSError:
        return None
    digest = hashlib.sha1(os.path.abspath(source).encode("utf-8")).hexdigest()[:16]
    return f"{digest}-{stat.st_mtime_ns}-{stat.st_size}"


def _listed(folder: str) -> dict:
    with _copies_lock:
        if folder not in _copies_listed:
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            _copies_listed[folder] = {n.rsplit("-", 1)[0]: n for n in names
                                      if n.endswith(".png") and n.count("-") == 3}
        return _copies_listed[folder]


def scaled_copy(folder: str, source: str) -> str | None:
    """The path of the scaled copy of `source` kept in `folder`, or None."""
    key = _copy_key(source)
    name = _listed(folder).get(key) if key else None
    return os.path.join(folder, name) if name else None


def forget_copy(folder: str, source: str) -> None:
    """`source`'s copy is no longer listed (and its file removed if it is still there)."""
    key = _copy_key(source)
    with _copies_lock:
        name = _copies_listed.get(folder, {}).pop(key, None) if key else None
    if name:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))


def write_scaled_copy(folder: str, source: str, size) -> str | None:
    """Keep `source` scaled to `size` (width, height) in `folder`, in place of an earlier copy
    of it; None when it cannot be made (the file alone is used, as before)."""
    key = _copy_key(source)
    if key is None or min(size) < 1:
        return None
    try:
        from PIL import Image as Picture
        os.makedirs(folder, exist_ok=True)
        with Picture.open(source) as picture:
            if picture.mode not in ("RGB", "RGBA", "L", "LA") or "transparency" in picture.info:
                return None     # a palette, 16-bit grey, a transparent colour: the file itself
                                # (Kivy reads them right; a converted copy had them wrong)
            # Fitted inside `size` with the picture's own proportions: the size asked for was
            # measured on the picture shown then, and the file may since be another picture
            # under the same name (a new version; a closed kiosk's late request) — never
            # stretched to another picture's shape.
            scale = min(size[0] / picture.width, size[1] / picture.height)
            if scale >= 1:
                return None              # as large as the file: the file itself
            fitted = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
            scaled = picture.resize(fitted, Picture.LANCZOS)
        if _copy_key(source) != key:
            return None                  # replaced while it was read: no copy of either
        name = f"{key}-{fitted[0]}x{fitted[1]}.png"
        path = os.path.join(folder, name)
        # A temporary file of this thread's own (two threads of one kiosk, a closed one's and
        # the new one's, may write the same copy at once), put in place whole.
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                scaled.save(out, format="PNG", compress_level=1)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except Exception:                  # a picture PIL cannot read, a full disk: no copy
        return None
    listed, digest = _listed(folder), key.split("-", 1)[0]
    with _copies_lock:              # one copy a picture file: the earlier ones go
        for other_key, other in list(listed.items()):
            if other_key.split("-", 1)[0] == digest and other != name:
                try:
                    os.unlink(os.path.join(folder, other))
                except OSError:
                    pass
                del listed[other_key]
        listed[key] = name
    return path


def backdrop(size, clear_colour, colour):
    """The size of a screen's full-window background rectangle: none when the window already
    clears to that colour (the kiosk sets its clear colour to the theme's background). In
    software OpenGL a full-window blended rectangle costs about a fifth of every frame; two
    screens cross-fading drew two. kv: `size: backdrop(self.size, Window.clearcolor, colour)`
    (both colours named, so that the rule follows either)."""
    return (0, 0) if list(clear_colour) == list(colour) else size


def text_width(text: str, font_size: float, bold: bool = True) -> float:
    """How wide `text` is drawn on one line (kept for the texts already measured)."""
    key = (text, round(font_size, 2), bold)
    if key not in _widths:
        from kivy.core.text import Label as CoreLabel
        label = CoreLabel(text=text, font_size=font_size, bold=bold)
        label.refresh()
        if len(_widths) > 2000:
            _widths.clear()
        _widths[key] = label.texture.size[0]
    return _widths[key]


def longest_word_width(text: str, font_size: float, bold: bool = True) -> float:
    """The widest word of `text`: a label narrower than this breaks a word in two."""
    words = text.replace("\n", " ").split()
    return max((text_width(w, font_size, bold) for w in words), default=0)


class DrawsEmoji:
    """A label whose text may hold emoji or symbols (authored texts): Kivy draws a label in
    one font, and Roboto has none of them, so the runs Roboto lacks are drawn in the fallback
    font (app.glyphs.emoji_font) through markup. A text without such a run is left as it is
    (no markup: a "[" in it stays a "[")."""

    def on_text(self, _label, text):
        drawn = getattr(self, "_drawn", None)
        if drawn == text:
            return
        from app.glyphs import emoji_font, fallback_runs, may_need_fallback
        runs = fallback_runs(text) if may_need_fallback(text) else []
        if not any(emoji for _run, emoji in runs) or emoji_font() is None:
            if drawn is not None:         # markup was ours, for the text before
                self._drawn = None
                self.markup = False
            return
        from kivy.utils import escape_markup
        font = emoji_font()
        self._drawn = "".join(f"[font={font}]{escape_markup(run)}[/font]" if emoji
                              else escape_markup(run) for run, emoji in runs)
        self.markup = True
        self.text = self._drawn


class WrapsInItsWidth:
    """A label that wraps its text in the width a layout gives it (kv: `text_size: self.width,
    None`) is drawn once it has one: before that, while the window's size reaches it through
    the nested layouts (a few passes before the first frame), its width is 0 or less, and Kivy
    measured and drew its text a word a line for nothing (at the kiosk's start, a third of the
    welcome's label renders, and the costliest)."""

    def texture_update(self, *largs):
        width = self.text_size[0]
        if width is not None and width < 1 and self.text:
            self.texture = None
            self.texture_size = (0, 0)
            return
        super().texture_update(*largs)


class WrappedLabel(WrapsInItsWidth, Label):
    """A plain Label that wraps in its own width (kv: `text_size: self.width, None`)."""


class Heading(WrapsInItsWidth, DrawsEmoji, Label):
    pass


class Title(WrapsInItsWidth, DrawsEmoji, Label):
    pass


class BodyText(WrapsInItsWidth, DrawsEmoji, Label):
    pass


class MutedText(BodyText):
    pass


class ErrorText(Label):
    pass


class Chip(Label):
    pass


class RoundedButton(WrapsInItsWidth, DrawsEmoji, ButtonBehavior, Label):
    """A large, rounded touch target (at least theme.touch high) with a text label."""
    background = ListProperty([0, 0, 0, 1])
    foreground = ListProperty([1, 1, 1, 1])
    radius = NumericProperty(0)
    wrap = BooleanProperty(True)     # False: one line, and the button sizes to its text


class SecondaryButton(RoundedButton):
    """A quieter action: surface background, primary text, an outline."""


class DangerButton(SecondaryButton):
    """An action that undoes or refuses (Reject, Quit): outlined, never filled like the main
    action beside it, in the error colour, with a cross drawn before its word."""
    cross_x = NumericProperty(0)      # where the cross starts: just before the widest line

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fbind("texture_size", self._place_cross)
        self.fbind("pos", self._place_cross)
        self.fbind("size", self._place_cross)

    def _place_cross(self, *_args):
        # A wrapped label's texture is as wide as its box: the lines say how wide the words
        # are (kivy==2.3.1's laid-out lines). Without this the cross sat on the left edge.
        lines = getattr(self._label, "_cached_lines", None) or []
        padding = self.padding[0] + self.padding[2]
        ink = max((line.w for line in lines), default=self.texture_size[0] - padding)
        ink_left = self.center_x + (self.padding[0] - self.padding[2]) / 2 - ink / 2
        self.cross_x = max(self.x + dp(14), ink_left - dp(58))


class ToggleCard(RoundedButton):
    """An option that can be selected; selection shows by colour, a ring and a check mark,
    never by colour alone."""
    selected = BooleanProperty(False)
    badge = StringProperty("")
    _badge = None        # its CardBadge: most cards never have one (the language buttons)

    def on_badge(self, _card, badge):
        if badge and self._badge is None:
            self._badge = CardBadge(card=self)
            self.add_widget(self._badge)


class CardBadge(Label):
    """A ranked card's place, drawn at its left (widgets.kv)."""
    card = ObjectProperty(None, allownone=True)


# Icons drawn as lines in a unit square, so they stay crisp at any size and need no font.
_ICONS = {
    "check": [[(0.18, 0.52), (0.42, 0.28), (0.84, 0.74)]],
    "cross": [[(0.22, 0.22), (0.78, 0.78)], [(0.22, 0.78), (0.78, 0.22)]],
    "wave": [[(0.14, 0.5), (0.3, 0.66), (0.5, 0.5), (0.7, 0.34), (0.86, 0.5)]],
    "circle": [],
    "plus": [[(0.2, 0.5), (0.8, 0.5)], [(0.5, 0.2), (0.5, 0.8)]],
    "minus": [[(0.2, 0.5), (0.8, 0.5)]],
    "back": [[(0.62, 0.18), (0.3, 0.5), (0.62, 0.82)]],
    "next": [[(0.38, 0.18), (0.7, 0.5), (0.38, 0.82)]],
    "undo": [[(0.3, 0.62), (0.66, 0.62), (0.8, 0.48), (0.66, 0.3), (0.36, 0.3)],
             [(0.42, 0.78), (0.26, 0.62), (0.42, 0.46)]],
    # A large and a small letter A: the resident's display and voice settings.
    "display": [[(0.04, 0.16), (0.27, 0.84), (0.5, 0.16)], [(0.13, 0.42), (0.41, 0.42)],
                [(0.58, 0.16), (0.74, 0.6), (0.9, 0.16)], [(0.64, 0.33), (0.84, 0.33)]],
    # A loudspeaker and its sound: read aloud.
    "speaker": [[(0.12, 0.38), (0.3, 0.38), (0.52, 0.18), (0.52, 0.82), (0.3, 0.62),
                 (0.12, 0.62), (0.12, 0.38)],
                [(0.66, 0.34), (0.72, 0.5), (0.66, 0.66)],
                [(0.78, 0.24), (0.88, 0.5), (0.78, 0.76)]],
    # A square: stop (reading).
    "stop": [[(0.26, 0.26), (0.74, 0.26), (0.74, 0.74), (0.26, 0.74), (0.26, 0.26)]],
    # "Aa" and a loudspeaker side by side (twice as wide as high): display and voice.
    "display_voice": [[(0.04, 0.16), (0.27, 0.84), (0.5, 0.16)], [(0.13, 0.42), (0.41, 0.42)],
                      [(0.58, 0.16), (0.74, 0.6), (0.9, 0.16)], [(0.64, 0.33), (0.84, 0.33)],
                      [(1.12, 0.38), (1.3, 0.38), (1.52, 0.18), (1.52, 0.82), (1.3, 0.62),
                       (1.12, 0.62), (1.12, 0.38)],
                      [(1.66, 0.34), (1.72, 0.5), (1.66, 0.66)],
                      [(1.78, 0.24), (1.88, 0.5), (1.78, 0.76)]],
}
# Icons wider than high: their width in heights.
_ICON_RATIOS = {"display_voice": 2}


class Icon(Widget):
    kind = StringProperty("check")
    color = ListProperty([1, 1, 1, 1])
    line_width = NumericProperty(dp(3))

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, kind=self._draw, color=self._draw,
                  line_width=self._draw)
        self._draw()

    def _draw(self, *_args):
        self.canvas.clear()
        ratio = _ICON_RATIOS.get(self.kind, 1)
        side = min(self.width / ratio, self.height)
        x0 = self.x + (self.width - side * ratio) / 2
        y0 = self.y + (self.height - side) / 2
        with self.canvas:
            Color(*self.color)
            if self.kind == "circle":
                Line(circle=(x0 + side / 2, y0 + side / 2, side * 0.32), width=self.line_width)
            for stroke in _ICONS.get(self.kind, []):
                points = []
                for px, py in stroke:
                    points += [x0 + px * side, y0 + py * side]
                Line(points=points, width=self.line_width, cap="round", joint="round")


class IconButton(ButtonBehavior, BoxLayout):
    """A big button with an icon above a word (the colour vote, yes/no)."""
    text = StringProperty("")
    icon = StringProperty("check")
    background = ListProperty([0, 0, 0, 1])
    foreground = ListProperty([1, 1, 1, 1])
    selected = BooleanProperty(False)
    ink = ListProperty([1, 1, 1, 1])      # the icon's and word's colour as drawn


class PicturedButton(ButtonBehavior, BoxLayout):
    """A secondary button with a drawn picture before its words (the resident's display
    settings, read aloud): the words say what it does, the picture helps find it."""
    text = StringProperty("")
    icon = StringProperty("display")
    selected = BooleanProperty(False)
    ink = ListProperty([0, 0, 0, 1])
    # Its picture, words and padding side by side (the class rule's): a screen that hides the
    # button sets `width: 0 if … else self.natural_width` rather than reaching into its ids
    # (a kv binding through another rule's ids keeps the widget in Builder's handlers).
    natural_width = NumericProperty(0)


class LanguageBar(BoxLayout):
    """Language buttons, each written in its own language; the current one is selected."""
    languages = ListProperty([])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from screens.i18n import tr
        self.bind(languages=self._build)
        tr.bind(lang=self._mark)
        self._build()

    def _build(self, *_args):
        from app.i18n import LANGUAGE_NAMES
        from kivy.factory import Factory
        self.clear_widgets()
        for lang in self.languages:
            button = Factory.LanguageChoice(text=LANGUAGE_NAMES.get(lang, lang))
            button.lang = lang
            button.bind(on_release=self._choose)
            self.add_widget(button)
        self._mark()

    def _choose(self, button):
        from screens.i18n import tr
        tr.lang = button.lang

    def _mark(self, *_args):
        from screens.i18n import tr
        for button in self.children:
            button.selected = getattr(button, "lang", None) == tr.lang


class Meter(Widget):
    """A thin rounded bar: `value` of `maximum`."""
    value = NumericProperty(0)
    maximum = NumericProperty(1)
    bar_colour = ListProperty([0, 0, 0, 1])
    track_colour = ListProperty([0.9, 0.9, 0.9, 1])


class TextField(BoxLayout):
    """A labelled text input with its live character count and its error. `purpose`, when
    given, is a line under the label saying what the field is for: unlike the hint, it stays
    visible while the resident types."""
    label = StringProperty("")
    purpose = StringProperty("")
    hint = StringProperty("")
    text = StringProperty("")
    error = StringProperty("")
    max_length = NumericProperty(0)
    multiline = BooleanProperty(False)
    input = ObjectProperty(None)


class CollapsingBox(BoxLayout):
    """A BoxLayout in which a child shrunk to nothing along the box's direction (a hidden
    button whose height is 0) takes no spacing either, so hiding a widget leaves no gap."""

    def add_widget(self, widget, *args, **kwargs):
        widget.bind(opacity=self._trigger_layout)
        super().add_widget(widget, *args, **kwargs)

    def remove_widget(self, widget, *args, **kwargs):
        widget.unbind(opacity=self._trigger_layout)
        super().remove_widget(widget, *args, **kwargs)

    def collapsed(self, child) -> bool:
        if self.orientation == "vertical":
            return child.size_hint_y is None and child.height <= 0
        return child.size_hint_x is None and child.width <= 0

    def do_layout(self, *largs):
        shown = [c for c in self.children if not self.collapsed(c)]
        if not shown:
            left, top, right, bottom = self.padding
            self.minimum_size = left + right, top + bottom
            return
        # BoxLayout's own arithmetic (kivy==2.3.1 is pinned), over the shown children only.
        for i, x, y, w, h in self._iterate_layout(
                [(c.size, c.size_hint, c.pos_hint, c.size_hint_min, c.size_hint_max)
                 for c in shown]):
            c = shown[i]
            c.pos = x, y
            shw, shh = c.size_hint
            if shw is None:
                if shh is not None:
                    c.height = h
            else:
                if shh is None:
                    c.width = w
                else:
                    c.size = (w, h)


class ChoiceRow(BoxLayout):
    """Toggle cards side by side while each keeps its longest word whole, one above the other
    otherwise (portrait, very large text): a word is never cut ("U/n/an"). All the cards get
    the height of the tallest, at least `card_height`."""
    card_height = NumericProperty(0)
    reserve = NumericProperty(dp(112))     # what a ToggleCard keeps beside its text

    def __init__(self, **kwargs):
        from kivy.clock import Clock
        self._arrange = Clock.create_trigger(self.arrange)
        super().__init__(**kwargs)
        self.size_hint_y = None
        self.fbind("width", self._arrange)
        self.fbind("spacing", self._arrange)
        self.fbind("card_height", self._arrange)

    def add_widget(self, widget, *args, **kwargs):
        widget.size_hint_y = 1
        for name in ("text", "texture_size", "font_size"):
            widget.fbind(name, self._arrange)
        super().add_widget(widget, *args, **kwargs)
        self._arrange()

    def arrange(self, *_args):
        cards = [c for c in self.children if hasattr(c, "text")]
        if not cards:
            return
        for card in cards:           # the row sets their height (a card built by a kv rule
            card.size_hint_y = 1     # got its class's size_hint_y after add_widget: taller
                                     # cards than the row covered the heading above it)
        n = len(cards)
        share = (self.width - self.spacing * (n - 1)) / n - self.reserve
        # `words`: a card's text without its markup (the scale's), when it has markup.
        side_by_side = all(longest_word_width(getattr(c, "words", "") or c.text, c.font_size,
                                              c.bold) + dp(4) <= share for c in cards)
        self.orientation = "horizontal" if side_by_side else "vertical"
        tallest = max(max(c.texture_size[1] for c in cards) + dp(28),
                      self.card_height or dp(64))
        self.height = tallest if side_by_side else tallest * n + self.spacing * (n - 1)


class CueScroll(ScrollView):
    """A vertical ScrollView that never hides content silently: while something lies below
    the visible part, a labelled "More below" tab is drawn over its bottom edge (only drawn: a
    tap there goes to what lies under it), and its scroll bar is wide and always drawn. Every
    scrolling part of the kiosk and facilitator screens is one of these; the layout test
    (tests/ui/test_layout.py) accepts content below the fold only inside one."""
    more_below = BooleanProperty(False)
    more_above = BooleanProperty(False)
    cue_text = StringProperty("")
    cue_height = NumericProperty(0)
    # A sibling widget under the scroll (a strip its screen keeps while more lies below): the
    # pill is drawn there, not over the content (the idea form: it covered the consent
    # sentence). The scroll clips what it draws itself to its own box.
    cue_host = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs):
        from kivy.graphics import InstructionGroup
        self._cue_label = Label(bold=True)
        self._cue_words = None          # the words, size and colour its texture was made with
        self._cue = InstructionGroup()
        super().__init__(**kwargs)
        self.canvas.after.add(self._cue)
        self._cue_canvas, self._cue_old_host = self.canvas.after, None   # where it is drawn
        self.fbind("scroll_y", self._update_cue)
        self.fbind("size", self._update_cue)
        self.fbind("pos", self._draw_cue)
        self.fbind("more_below", self._draw_cue)
        self.fbind("cue_text", self._draw_cue)
        self.fbind("cue_host", self._move_cue)
        self.fbind("cue_height", self._update_cue)
        self.fbind("children", self._watch_child)
        from screens.theme import theme
        # bind, not fbind: the theme lives as long as the process, a scroll does not.
        theme.bind(colours=self._draw_cue, font_small=self._draw_cue)

    def _draw_cue(self, *_args):
        from kivy.graphics import RoundedRectangle, Rectangle
        from screens.theme import theme
        self._cue.clear()
        label = self._cue_label
        words = (self.cue_text, theme.font_small, tuple(theme.colours["on_primary"]))
        if words != self._cue_words:   # drawn again at every move: its words rendered once
            label.text, label.font_size, label.color = self.cue_text, words[1], words[2]
            label.texture_update()
            self._cue_words = words
        tw, th = label.texture_size
        self.cue_height = max(theme.touch, th + dp(16))
        if not self.more_below:
            return
        h = self.cue_height
        width = tw + dp(88)
        # Centred on the host in its coordinates (a facilitator page's scroll is in a Screen,
        # a RelativeLayout: its own x is not the strip's).
        host = self.cue_host if self.cue_host is not None else self
        x = host.center_x - width / 2
        y = host.top - h if self.cue_host is not None else self.y
        self._cue.add(Color(*theme.colours["primary"]))
        self._cue.add(RoundedRectangle(pos=(x, y + dp(2)), size=(width, h - dp(4)),
                                       radius=[h / 2]))
        self._cue.add(Color(*theme.colours["on_primary"]))
        self._cue.add(Rectangle(texture=label.texture, size=(tw, th),
                                pos=(x + dp(60), y + (h - th) / 2)))
        ax = x + dp(30)
        self._cue.add(Line(points=[ax - dp(12), y + h * 0.6, ax, y + h * 0.38,
                                   ax + dp(12), y + h * 0.6],
                           width=dp(2.5), cap="round", joint="round"))

    def _move_cue(self, *_args):
        # Out of the canvas that held it, the previous host's too (the facilitator's pages
        # share one strip: a page no longer shown left its pill there).
        if self._cue in self._cue_canvas.children:
            self._cue_canvas.remove(self._cue)
        if self._cue_old_host is not None:
            self._cue_old_host.funbind("pos", self._draw_cue)
        host = self.cue_host
        if host is not None:
            self._cue_canvas = host.canvas.after
            host.fbind("pos", self._draw_cue)
        else:
            self._cue_canvas = self.canvas.after
        self._cue_canvas.add(self._cue)
        self._cue_old_host = host
        self._draw_cue()

    def _watch_child(self, *_args):
        for child in self.children:
            child.fbind("height", self._update_cue)
            if hasattr(child, "padding"):
                child.fbind("padding", self._rule_padding)
        self._update_cue()

    def _rule_padding(self, *_args):
        self._pad_for_cue(rule_only=True)

    def overflow(self) -> float:
        """How much of the content lies below the view, not counting the room kept for the
        cue at its end (`_pad_for_cue`)."""
        child = self.children[0] if self.children else None
        if child is None:
            return 0.0
        added = getattr(child, "_cue_padding", (0.0, 0.0))[1]
        return max(0.0, child.height - added - self.height)

    def _pad_for_cue(self, *_args, rule_only: bool = False) -> None:
        """While the content overflows, its layout gets a bottom padding as high as the cue,
        so that its last row can scroll clear of the cue (never hidden under it). The layout's
        own padding (from its rule) is kept: the cue's share is added to it, added again when
        the rule sets it anew (`rule_only`: only that, on a padding change, whose new height
        is not known yet), and taken off when everything fits. Only for content as high as it
        needs (size_hint_y None)."""
        child = self.children[0] if self.children else None
        padding = getattr(child, "padding", None)
        if child is None or child.size_hint_y is not None or padding is None or \
                len(padding) != 4:
            return
        added = getattr(child, "_cue_padding", None)
        if added is not None and abs(padding[3] - added[0]) < 0.01:
            if rule_only:
                return
            base, current = added[0] - added[1], added[1]
        else:                                   # first time, or its rule set it again
            base, current = padding[3], 0.0
            if rule_only:
                wanted = added[1] if added is not None else 0.0
                child._cue_padding = (base + wanted, wanted)
                if wanted:
                    child.padding = [padding[0], padding[1], padding[2], base + wanted]
                return
        wanted = self.cue_height if child.height - current - self.height > 1 else 0.0
        child._cue_padding = (base + wanted, wanted)
        if abs(padding[3] - (base + wanted)) >= 0.01:
            child.padding = [padding[0], padding[1], padding[2], base + wanted]

    def _update_cue(self, *_args):
        self._pad_for_cue()
        extra = self.overflow()
        self.more_below = extra > 1 and self.scroll_y > 1 / max(extra, 1)
        self.more_above = extra > 1 and self.scroll_y < 1 - 1 / max(extra, 1)
        self._draw_cue()

    # The cue takes no touch: drawn over the content's bottom edge, it would take a tap meant
    # for the field or the button under it (an idea once went without its contact). A finger
    # scrolls the content; the wide bar scrolls too.

    def scroll_to(self, widget, padding=10, animate=True):
        """ScrollView's, and a jump (animate=False) that stays: Kivy sets `scroll_y` but not
        its scroll effect, whose spring — still bouncing back from the overscroll a page that
        has just grown leaves (the Ideas editor opening in portrait) — wrote its own position
        over the jump on the next frames: the view ended at the bottom, its Close out of sight."""
        super().scroll_to(widget, padding=padding, animate=animate)
        if not animate:
            self._settle_effect()

    def _settle_effect(self):
        effect = self.effect_y
        if effect is None or not self._viewport:
            return
        effect.velocity = 0
        if hasattr(effect, "overscroll"):
            effect.overscroll = 0
        effect.value = effect.max * self.scroll_y      # as ScrollView keeps it in its bounds

    def scroll_to_show(self, widget):
        """Scroll so that `widget` (inside this view) is entirely visible."""
        self.scroll_to(widget, padding=self.cue_height + 8, animate=False)
        self._update_cue()


def scroll_to_top(widget) -> None:
    """Every scrolling part inside `widget` back at its top: a screen opens clean, never
    scrolled where the previous person left it."""
    for child in widget.walk(restrict=True):
        if isinstance(child, ScrollView) and child.do_scroll_y:
            child.scroll_y = 1
            if isinstance(child, CueScroll):
                child._update_cue()


class Confirmation(ModalView):
    """A question with a way back; `when_confirmed` is called only on the yes."""
    when_confirmed = ObjectProperty(None, allownone=True)

    def confirmed(self):
        if self.when_confirmed is not None:
            self.when_confirmed()


class ConfirmQuit(Confirmation):
    """'Quit the application?'"""


class ConfirmStop(Confirmation):
    """'Stop here?' on a ballot: Continue, or stop (the answers given are kept)."""


class Separator(Widget):
    pass


class Spacer(Widget):
    pass


class Card(BoxLayout):
    """A white surface with rounded corners, holding a group of things."""


class Tile(BoxLayout):
    """A figure and what it counts (facilitator figures)."""
    figure = StringProperty("")
    caption = StringProperty("")


load_kv(__file__.replace("__init__", "widgets"))
