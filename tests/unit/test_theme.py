"""The theme's promises (invariant 8): text contrast of at least 4.5:1 (WCAG 2.x AA) for every
text/background pair the screens use, in both palettes, and touch targets of at least 48 dp at
every text size. No window is opened: the theme is plain properties."""
import pytest

from screens.theme import PALETTES, TEXT_PAIRS, TEXT_SCALES, Theme


def luminance(rgba):
    """WCAG relative luminance of an sRGB colour given as 0..1 floats."""
    def channel(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula_matches_wcag_examples():
    assert contrast((0, 0, 0, 1), (1, 1, 1, 1)) == pytest.approx(21.0)
    assert contrast((1, 1, 1, 1), (1, 1, 1, 1)) == pytest.approx(1.0)
    # #767676 on white is the classic just-passing grey: 4.54:1
    grey = (0x76 / 255,) * 3 + (1,)
    assert contrast(grey, (1, 1, 1, 1)) == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("palette", sorted(PALETTES))
@pytest.mark.parametrize("pair", TEXT_PAIRS, ids=lambda p: f"{p[0]}-on-{p[1]}")
def test_every_text_pair_reaches_4_5_to_1(palette, pair):
    colours = PALETTES[palette]
    foreground, background = pair
    ratio = contrast(colours[foreground], colours[background])
    assert ratio >= 4.5, f"{palette}: {foreground} on {background} is {ratio:.2f}:1"


def test_every_palette_names_the_same_colours():
    names = {frozenset(p) for p in PALETTES.values()}
    assert len(names) == 1


@pytest.mark.parametrize("size", sorted(TEXT_SCALES))
def test_touch_targets_and_text_scale(size):
    from kivy.metrics import dp, sp
    theme = Theme(text_size=size)
    assert theme.touch >= dp(48)
    assert theme.button_height >= dp(48) and theme.big_button_height > theme.button_height
    assert theme.font_body == pytest.approx(sp(22) * TEXT_SCALES[size])
    assert theme.font_title > theme.font_heading > theme.font_body > theme.font_small


def test_high_contrast_switches_the_palette():
    theme = Theme()
    theme.high_contrast = True
    assert theme.colours["background"] == PALETTES["high_contrast"]["background"]
    theme.high_contrast = False
    assert theme.colours["background"] == PALETTES["standard"]["background"]
