"""The three vote colours (green / orange / red; yes and no use green and red) stay apart for
colour-blind residents, in both palettes.

Each colour is passed through colorspacious's simulation of protanopia, deuteranopia and
tritanopia at severity 100 (Machado et al. 2009), then the distance between every two of them
is measured in CAM02-UCS (colorspacious.deltaE), where 1 is about one just-noticeable
difference. The threshold, 15, asks for differences about fifteen times the smallest one a
person can see side by side: two of the colours told apart at a glance on two buttons a hand
apart, not in a lab. For comparison, the former palette's green and orange were 6.6 apart
under protanopia: they looked alike.
"""
import itertools

import numpy as np
import pytest
from colorspacious import cspace_convert, deltaE

from screens.theme import PALETTES

VOTE_COLOURS = ("green", "orange", "red")
THRESHOLD = 15.0
VISIONS = [None, "protanomaly", "deuteranomaly", "tritanomaly"]


def seen(rgb, cvd_type):
    rgb = np.asarray(rgb[:3], dtype=float)
    if cvd_type is None:
        return rgb
    space = {"name": "sRGB1+CVD", "cvd_type": cvd_type, "severity": 100}
    return np.clip(cspace_convert(rgb, space, "sRGB1"), 0, 1)


@pytest.mark.parametrize("palette", sorted(PALETTES))
@pytest.mark.parametrize("vision", VISIONS, ids=lambda v: v or "typical")
def test_vote_colours_stay_apart(palette, vision):
    colours = PALETTES[palette]
    for a, b in itertools.combinations(VOTE_COLOURS, 2):
        distance = float(deltaE(seen(colours[a], vision), seen(colours[b], vision),
                                input_space="sRGB1"))
        assert distance >= THRESHOLD, f"{palette}, {vision}: {a}/{b} only {distance:.1f} apart"


def test_the_former_palette_fails():
    """The check catches the fault it was written for."""
    green, orange = (0.13, 0.46, 0.20), (0.70, 0.33, 0.0)
    assert float(deltaE(seen(green, "protanomaly"), seen(orange, "protanomaly"),
                        input_space="sRGB1")) < THRESHOLD
