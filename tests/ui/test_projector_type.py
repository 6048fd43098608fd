"""The projector's type scale: everything the room reads is at least 40 px high on a 1080p
projector (27 px at 720p, the same share of the height), on every view, in one language and
bilingual. Measured on the labels actually drawn, not on the theme's numbers."""
import pytest

from tests.ui.test_projector import (MODES, ResultsPoll, demo_results, frames,  # noqa: F401
                                     labels, make_projector, window)

MIN_AT_1080 = 40


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)], ids=lambda s: f"{s[1]}p")
@pytest.mark.parametrize("mode", ["fr", "bilingual"])
def test_nothing_the_room_reads_is_small(make_projector, demo_results, size, mode):
    projector = make_projector(size, **MODES[mode])
    projector.receive(ResultsPoll(True, demo_results))
    floor = MIN_AT_1080 * size[1] / 1080 - 0.5
    small = []
    for view in projector.state.views:
        projector.apply_control({"view": view})
        frames(6)
        for label in labels(projector.root):
            # The base map's attribution is a credit the licence asks for, not something the
            # room reads: it stays legible up close, under the floor.
            if type(label.parent).__name__ == "MapView" and \
                    label.text == label.parent.attribution:
                continue
            if label.font_size < floor:
                small.append((view, label.text[:30], round(label.font_size, 1)))
    assert not small, small
