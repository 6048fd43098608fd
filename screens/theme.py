"""Colours, sizes and fonts, in one place that kv rules read as `theme.…`.

Text size (normal, large, very large) and the high-contrast palette are facilitator settings;
changing them redraws every screen bound to these properties. Contrast ratios of every text
colour on its background are checked by tests/unit/test_theme.py (WCAG AA: at least 4.5:1).
"""
from kivy.event import EventDispatcher
from kivy.lang import global_idmap
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, DictProperty, NumericProperty, OptionProperty

from app.paths import resource_root

# Palettes: RGBA 0..1. Names say what a colour is for, not what it looks like.
PALETTES = {
    "standard": {
        "background": (0.97, 0.96, 0.94, 1),      # warm paper
        "surface": (1, 1, 1, 1),
        "text": (0.11, 0.13, 0.17, 1),
        "text_muted": (0.33, 0.36, 0.42, 1),
        "primary": (0.05, 0.33, 0.55, 1),         # deep sea blue: main actions
        "on_primary": (1, 1, 1, 1),
        "accent": (0.68, 0.29, 0.10, 1),          # terracotta: highlights
        "on_accent": (1, 1, 1, 1),
        "chip": (0.89, 0.93, 0.96, 1),
        "on_chip": (0.05, 0.25, 0.42, 1),
        # The three vote colours differ in lightness and hue so that they stay apart for
        # colour-blind residents too (tests/unit/test_palette.py); each also has its word
        # and its icon, so colour is never alone.
        "green": (0.20, 0.50, 0.475, 1),          # blue-green
        "orange": (0.60, 0.40, 0.0, 1),           # ochre
        "red": (0.60, 0.12, 0.24, 1),             # crimson
        "on_vote": (1, 1, 1, 1),
        "outline": (0.78, 0.80, 0.84, 1),
        "error": (0.68, 0.08, 0.08, 1),
    },
    "high_contrast": {
        "background": (0, 0, 0, 1),
        "surface": (0.08, 0.08, 0.08, 1),
        "text": (1, 1, 1, 1),
        "text_muted": (0.88, 0.88, 0.88, 1),
        "primary": (1, 0.86, 0.0, 1),
        "on_primary": (0, 0, 0, 1),
        "accent": (0.55, 0.85, 1, 1),
        "on_accent": (0, 0, 0, 1),
        "chip": (0.2, 0.2, 0.2, 1),
        "on_chip": (1, 1, 1, 1),
        "green": (0.26, 0.65, 0.617, 1),
        "orange": (1, 0.80, 0.40, 1),
        "red": (1.0, 0.40, 0.30, 1),
        "on_vote": (0, 0, 0, 1),
        "outline": (1, 1, 1, 1),
        "error": (1, 0.55, 0.55, 1),
    },
}

# Pairs (text colour, background colour) that appear on screen; the contrast test reads them.
TEXT_PAIRS = [("text", "background"), ("text", "surface"), ("text_muted", "background"),
              ("text_muted", "surface"), ("on_primary", "primary"), ("on_accent", "accent"),
              ("on_chip", "chip"), ("on_vote", "green"), ("on_vote", "orange"),
              ("on_vote", "red"), ("error", "surface"), ("error", "background"),
              ("primary", "surface"), ("primary", "background"),
              # An unselected vote button: its word in its colour on the surface.
              ("green", "surface"), ("orange", "surface"), ("red", "surface")]

TEXT_SCALES = {"normal": 1.0, "large": 1.25, "very_large": 1.5}

FONT_DIR = resource_root() / "assets" / "fonts"


class Theme(EventDispatcher):
    text_size = OptionProperty("normal", options=list(TEXT_SCALES))
    high_contrast = BooleanProperty(False)
    colours = DictProperty(PALETTES["standard"])
    scale = NumericProperty(1.0)

    # Minimum touch target: 48 dp (invariant 8); main actions are bigger.
    touch = NumericProperty(dp(48))
    button_height = NumericProperty(dp(64))
    big_button_height = NumericProperty(dp(88))
    padding = NumericProperty(dp(24))
    spacing = NumericProperty(dp(16))
    radius = NumericProperty(dp(14))

    # Type scale, in sp, multiplied by the text size setting.
    font_title = NumericProperty(sp(40))
    font_heading = NumericProperty(sp(30))
    font_body = NumericProperty(sp(22))
    font_small = NumericProperty(sp(18))
    font_button = NumericProperty(sp(24))

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(text_size=self._refresh, high_contrast=self._refresh)
        self._refresh()

    def _refresh(self, *_args):
        self.colours = dict(PALETTES["high_contrast" if self.high_contrast else "standard"])
        self.scale = s = TEXT_SCALES[self.text_size]
        self.font_title = sp(40) * s
        self.font_heading = sp(30) * s
        self.font_body = sp(22) * s
        self.font_small = sp(18) * s
        self.font_button = sp(24) * s
        self.button_height = dp(64) * max(1.0, s * 0.9)
        self.big_button_height = dp(88) * max(1.0, s * 0.9)


theme = Theme()
global_idmap["theme"] = theme
