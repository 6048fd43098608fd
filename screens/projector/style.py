"""The projector's look: a dark palette with bright text (a washed-out projector keeps dark
backgrounds dark enough and bright text readable), and sizes in units of the projector's
height, so 1920×1080 and 1280×720 show the same layout at the same proportions.

kv rules read `pstyle.u` (one hundredth of the height), `pstyle.colours[...]` and the font
sizes. Text helpers put every interface word in one or two languages (bilingual display);
numbers, percentages and amounts go through app/formatting.py, like the kiosk's.
"""
from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.lang import global_idmap
from kivy.properties import DictProperty, NumericProperty
from kivy.utils import escape_markup

from app.formatting import number
from app.i18n import gettext_for, ngettext_for
from app.model import localized

# RGBA 0..1. Vote colours are bright so that dark text reads on them and they read on the
# dark background; every meaning is also written in words.
PALETTE = {
    "background": (0.055, 0.07, 0.10, 1),
    "surface": (0.12, 0.145, 0.19, 1),
    "track": (0.20, 0.23, 0.29, 1),
    "text": (1, 1, 1, 1),
    "text_muted": (0.80, 0.84, 0.90, 1),
    "second_lang": (0.62, 0.86, 1.0, 1),     # the second language of a bilingual display
    "accent": (1.0, 0.80, 0.25, 1),          # median, highlights
    "primary": (0.42, 0.74, 1.0, 1),         # neutral bars (choice, ranking, budget)
    "green": (0.33, 0.80, 0.42, 1),
    "orange": (1.0, 0.65, 0.20, 1),
    "red": (1.0, 0.45, 0.43, 1),
    "grey": (0.66, 0.69, 0.74, 1),           # abstain
    "on_bar": (0.03, 0.04, 0.06, 1),
    "warning": (1.0, 0.78, 0.45, 1),
}

# (text, background) pairs drawn on screen; tests/ui/test_projector_contrast checks ≥ 7:1
# where text is small and ≥ 4.5:1 everywhere (WCAG AAA / AA).
TEXT_PAIRS = [("text", "background"), ("text", "surface"), ("text_muted", "background"),
              ("text_muted", "surface"), ("second_lang", "background"),
              ("second_lang", "surface"), ("accent", "background"), ("accent", "surface"),
              ("on_bar", "green"), ("on_bar", "orange"), ("on_bar", "red"),
              ("on_bar", "grey"), ("on_bar", "primary"), ("on_bar", "accent"),
              ("warning", "background"), ("green", "background"), ("orange", "background"),
              ("red", "background"), ("primary", "background"), ("green", "surface")]


class ProjectorStyle(EventDispatcher):
    u = NumericProperty(10.8)          # one hundredth of the projector's height, in pixels
    colours = DictProperty(PALETTE)
    font_title = NumericProperty(0)
    font_body = NumericProperty(0)
    font_small = NumericProperty(0)
    font_big = NumericProperty(0)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(u=self._sizes)
        self._sizes()

    def fit(self, width: float, height: float) -> None:
        """Set the unit for a projector of this size (a very wide screen goes by its width)."""
        self.u = max(4.0, min(height / 100.0, width / 160.0))

    def _sizes(self, *_args):
        u = self.u
        # Nothing the room reads is under 40 px on a 1080p projector (u = 10.8): font_small,
        # the smallest size, is 3.75 u; tests/ui/test_projector_type.py measures it.
        self.font_title = u * 5.4
        self.font_body = u * 4.4
        self.font_small = u * 3.75
        self.font_big = u * 13


pstyle = ProjectorStyle()
global_idmap["pstyle"] = pstyle


def hex_colour(name: str) -> str:
    r, g, b = PALETTE[name][:3]
    return "{:02x}{:02x}{:02x}".format(round(r * 255), round(g * 255), round(b * 255))


def say(langs, msgid: str, sep: str = " · ", *, coloured: bool = True, **params) -> str:
    """An interface string (msgid) in each language of `langs`, as Kivy markup: the second
    language in its own colour (unless `coloured` is False: text on a filled badge)."""
    return join_langs([gettext_for(lang)(msgid).format(**params) for lang in langs], sep,
                      coloured=coloured)


def say_n(langs, singular: str, plural: str, n: int, sep: str = " · ", **params) -> str:
    return join_langs([ngettext_for(lang)(singular, plural, n).format(n=number(n, lang), **params)
                  for lang in langs], sep)


def content(langs, text, sep: str = "\n") -> str:
    """A content string (multilingual map) in each language, as markup; the same text twice
    (a language missing) is written once."""
    texts = []
    for lang in langs:
        value = localized(text, lang)
        if value and value not in texts:
            texts.append(value)
    return join_langs(texts, sep)


def join_langs(texts, sep: str, *, coloured: bool = True) -> str:
    """Texts in successive languages, as markup: the second one in its own colour."""
    parts = [escape_markup(t) for t in texts]
    if len(parts) > 1 and coloured:
        colour = hex_colour("second_lang")
        parts[1:] = [f"[color={colour}]{p}[/color]" for p in parts[1:]]
    return sep.join(parts)
