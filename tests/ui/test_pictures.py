"""Pictures shown smaller than their files (screens.widgets.FittedImage with a copies folder):
the first load reads the file and keeps a copy scaled to the size shown; the next loads read
that copy, drawn at the same place and size; a copy smaller than where it is shown gives way
to the file at once; a changed file is never matched by an old copy."""
import hashlib
import os
import time

import pytest
from kivy.core.window import Window
from PIL import Image as Picture

from screens.widgets import FittedImage, scaled_copy
from tests.ui.conftest import step


@pytest.fixture
def copies(window, tmp_path, monkeypatch):
    folder = tmp_path / "pictures"
    monkeypatch.setattr(FittedImage, "copies", str(folder))
    return folder


@pytest.fixture
def shown():
    """Shows FittedImages of a given size on the window; all taken away after the test."""
    made = []

    def show(source, size):
        image = FittedImage(source=str(source), size_hint=(None, None), size=size)
        Window.add_widget(image)
        made.append(image)
        step(3)
        return image
    yield show
    for image in made:
        Window.remove_widget(image)


def copies_of(folder, source):
    """The copies in `folder` of the picture file at `source` (another window-test's kiosk in
    this process may keep copies of its own pictures there meanwhile: only these count)."""
    digest = hashlib.sha1(os.path.abspath(str(source)).encode("utf-8")).hexdigest()[:16]
    return sorted(n for n in os.listdir(folder) if n.startswith(digest + "-")) \
        if os.path.isdir(folder) else []


def picture(path, size=(960, 600)):
    gradient = Picture.linear_gradient("L").resize(size).convert("RGB")
    gradient.save(path)
    return path


def copy_made(image, folder):
    """Ask for the copy now (the widget asks two seconds after its size last changed) and
    wait for the thread that writes it; the copy's path."""
    width, height = image._shown()
    image._copy_if_worth()
    for _ in range(500):
        found = scaled_copy(str(folder), image.source)
        if found and found.endswith(f"-{width}x{height}.png"):
            return found
        time.sleep(0.01)
    return None


def test_a_picture_shown_smaller_is_read_back_from_its_scaled_copy(copies, shown, tmp_path):
    source = picture(tmp_path / "cover.png")
    first = shown(source, (300, 300))
    assert tuple(first.texture.size) == (960, 600)            # the file, the first time
    path = copy_made(first, copies)
    assert path is not None and os.path.dirname(path) == str(copies)
    with Picture.open(path) as copy:
        assert copy.size == (300, 188)                        # 300 × 187.5, shown
    again = shown(source, (300, 300))
    assert tuple(again.texture.size) == (300, 188)            # the copy
    # Drawn at the same size, to the rounding of the copy's pixels (under one pixel).
    assert all(abs(a - b) < 1 for a, b in zip(again.norm_image_size, first.norm_image_size))
    assert again.center == first.center
    assert copies_of(copies, source) == [os.path.basename(path)]


def test_a_copy_too_small_gives_way_to_the_file_and_is_replaced(copies, shown, tmp_path):
    source = picture(tmp_path / "cover.png")
    assert copy_made(shown(source, (300, 300)), copies)
    larger = shown(source, (640, 640))
    assert tuple(larger.texture.size) == (960, 600)           # not the 300-wide copy
    path = copy_made(larger, copies)
    with Picture.open(path) as copy:
        assert copy.size == (640, 400)
    assert copies_of(copies, source) == [os.path.basename(path)]  # the smaller copy is gone


def test_no_copy_of_a_picture_shown_near_its_size_nor_of_a_changed_file(copies, shown,
                                                                         tmp_path):
    small = picture(tmp_path / "small.png", (320, 200))
    near = shown(small, (300, 300))
    near._copy_if_worth()
    step(2)
    assert copies_of(copies, small) == []                     # not half the pixels saved
    source = picture(tmp_path / "cover.png")
    assert copy_made(shown(source, (300, 300)), copies)
    picture(source, (900, 600))                                # the file replaced
    os.utime(source, ns=(0, os.stat(source).st_mtime_ns + 10**9))
    assert scaled_copy(str(copies), str(source)) is None
    assert not shown(source, (300, 300))._from_copy           # the file itself


def test_a_copy_asked_at_another_pictures_shape_keeps_the_files_own_proportions(copies,
                                                                               tmp_path):
    """A closed kiosk (not yet collected) can still ask for a copy at the size its old picture
    was shown at, after a new version put another picture under the same name: the copy is
    the new picture fitted in that size with its own proportions, never stretched to the old
    shape (a resident then saw a squashed picture)."""
    from screens.widgets import write_scaled_copy
    source = picture(tmp_path / "p-bus.png", (1200, 400))        # 3:1, the new version's
    made = write_scaled_copy(str(copies), str(source), (358, 224))  # the old 1.6:1 shape
    assert made is not None
    with Picture.open(made) as copy:
        assert copy.size == (358, 119)                           # 358 / 3, not 224
    assert write_scaled_copy(str(copies), str(source), (2400, 800)) is None   # never larger


def test_no_copy_of_a_picture_a_copy_would_show_wrong(copies, tmp_path):
    """A 16-bit grey picture, or one with a transparent colour, is read right by the kiosk from
    its file; a converted copy showed them white or without their transparency: no copy."""
    from screens.widgets import write_scaled_copy
    grey = tmp_path / "grey16.png"
    Picture.new("I;16", (960, 600), 40000).save(grey)
    keyed = tmp_path / "keyed.png"
    Picture.new("RGB", (960, 600), (0, 255, 0)).save(keyed, transparency=(0, 255, 0))
    for source in (grey, keyed):
        assert write_scaled_copy(str(copies), str(source), (300, 188)) is None
    assert write_scaled_copy(str(copies), str(picture(tmp_path / "p.png")), (0, 10)) is None


def test_a_copy_gone_from_under_a_picture_gives_way_to_the_file(copies, shown, tmp_path):
    source = picture(tmp_path / "cover.png")
    image = shown(source, (300, 300))
    made = copy_made(image, copies)
    assert made
    os.unlink(made)                               # removed (by another kiosk, by hand)
    again = shown(source, (300, 300))
    assert again.texture is not None and tuple(again.texture.size) == (960, 600)
    assert not again._from_copy
    listed = scaled_copy(str(copies), str(source))     # none, or a new one already written
    assert listed is None or os.path.isfile(listed)    # (two seconds on): never a lost file
