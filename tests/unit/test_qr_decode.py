"""Reading QR codes from frames (app/qr_decode.py): the enrollment QR and a participation card,
as a camera would see them — scaled, turned, noisy, mirrored, upside down in a texture — and
frames with nothing to read. QR images are made by the `qrcode` package, as the hub makes them."""
import io
import random
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from app import qr_decode
from app.qr import qr_png
from app.qr_decode import decode_qr, image_from_pixels, qr_decoder_available
from app.cards import card_public_key, card_signing_seed, new_card, read_card, sign_card

ROOT = Path(__file__).resolve().parents[2]
ENROLL = "piazzetta://enroll?hub=http://127.0.0.1:8765&code=ABCD-EFGH"

needs_zbar = pytest.mark.skipif(not qr_decoder_available(),
                                reason="pyzbar or libzbar0 missing: run `make setup`")


def qr_image(text, box_size=6):
    return Image.open(io.BytesIO(qr_png(text, box_size=box_size))).convert("L")


def on_desk(qr, *, canvas=(640, 480), scale=1.0, angle=0.0, at=(0.5, 0.5), grey=205):
    """The QR as a camera frame: on a grey background, scaled, turned, somewhere in the frame."""
    if scale != 1.0:
        qr = qr.resize((int(qr.width * scale), int(qr.height * scale)), Image.BILINEAR)
    if angle:
        qr = qr.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=grey)
    frame = Image.new("L", canvas, grey)
    x = int(at[0] * canvas[0] - qr.width / 2)
    y = int(at[1] * canvas[1] - qr.height / 2)
    frame.paste(qr, (x, y))
    return frame


def with_noise(image, amount, seed=7):
    rng = random.Random(seed)
    data = bytes(max(0, min(255, v + rng.randint(-amount, amount))) for v in image.tobytes())
    return Image.frombytes("L", image.size, data)


def a_card():
    seed = card_signing_seed("hub-secret-for-tests")
    return seed, sign_card(seed, new_card("alpimed-2030"))


@needs_zbar
def test_the_enrollment_qr_reads_back_exactly():
    assert decode_qr(qr_image(ENROLL)) == [ENROLL]


@needs_zbar
def test_a_participation_card_reads_back_and_checks_offline():
    seed, card = a_card()
    texts = decode_qr(on_desk(qr_image(card, box_size=5)))
    assert texts == [card]
    assert read_card(texts[0], "alpimed-2030", card_public_key(seed)).code == card.split(".")[1]


@needs_zbar
@pytest.mark.parametrize("scale", [0.5, 0.8, 1.6])
def test_scaled(scale):
    assert decode_qr(on_desk(qr_image(ENROLL), scale=scale, canvas=(900, 700))) == [ENROLL]


@needs_zbar
@pytest.mark.parametrize("angle", [7, 30, 90, 135, 180, 265])
def test_turned(angle):
    assert decode_qr(on_desk(qr_image(ENROLL), angle=angle, canvas=(800, 800))) == [ENROLL]


@needs_zbar
def test_noisy_blurred_and_dim():
    frame = on_desk(qr_image(ENROLL), scale=1.2, angle=12, at=(0.4, 0.6), canvas=(800, 700))
    frame = frame.filter(ImageFilter.GaussianBlur(1.2))
    frame = frame.point(lambda v: 60 + v * 0.55)        # a dim room: low contrast
    frame = with_noise(frame, 60)
    assert decode_qr(frame, try_mirrored=False) == [ENROLL]


@needs_zbar
def test_mirrored_as_a_front_camera_sees_it():
    # Recent ZBar reads a mirrored QR by itself, older releases (Android's recipe) do not: the
    # mirrored pass answers for them.
    frame = ImageOps.mirror(on_desk(qr_image(ENROLL)))
    assert decode_qr(frame) == [ENROLL]


@needs_zbar
def test_two_codes_in_one_frame_each_once():
    seed, card = a_card()
    frame = Image.new("L", (1100, 600), 230)
    frame.paste(qr_image(ENROLL, box_size=5), (20, 40))
    frame.paste(qr_image(card, box_size=5), (580, 40))
    assert sorted(decode_qr(frame)) == sorted([ENROLL, card])


@needs_zbar
@pytest.mark.parametrize("text", [
    "Élan – città · 🗳️ ok",
    "'; DROP TABLE ballots; --",
    "<script>alert(1)</script>",
    "x" * 1200,
])
def test_nasty_texts_come_back_as_they_were(text):
    assert decode_qr(qr_image(text, box_size=3)) == [text]


@needs_zbar
def test_frames_with_nothing_to_read():
    assert decode_qr(Image.new("L", (640, 480), 255)) == []
    assert decode_qr(Image.new("L", (640, 480), 0)) == []
    noise = with_noise(Image.new("L", (320, 240), 128), 127, seed=3)
    assert decode_qr(noise) == []
    drawing = Image.new("L", (640, 480), 255)
    ImageDraw.Draw(drawing).rectangle((100, 100, 300, 300), outline=0, width=12)
    assert decode_qr(drawing) == []
    assert decode_qr(b"\xff" * (64 * 48), (64, 48)) == []


@needs_zbar
def test_raw_frames_as_the_camera_path_gives_them():
    frame = on_desk(qr_image(ENROLL))
    grey = frame.tobytes()
    rgba = frame.convert("RGBA").tobytes()
    rgb = frame.convert("RGB").tobytes()
    flipped = frame.transpose(Image.Transpose.FLIP_TOP_BOTTOM).convert("RGBA").tobytes()
    nv21 = grey + b"\x80" * (len(grey) // 2)          # the Y plane first, then chroma
    for pixels, bottom_up in ((grey, False), (rgba, False), (rgb, False), (flipped, True),
                              (nv21, False)):
        assert decode_qr(pixels, frame.size, bottom_up=bottom_up, try_mirrored=False) == [ENROLL]


def test_image_from_pixels_refuses_what_is_not_a_frame():
    with pytest.raises(ValueError):
        image_from_pixels(b"\x00" * 10, (64, 48))
    with pytest.raises(ValueError):
        image_from_pixels(b"", (0, 0))
    big = image_from_pixels(b"\x10" * (2560 * 1440), (2560, 1440))
    assert big.size == (1280, 720) and big.mode == "L"
    flipped = image_from_pixels(bytes([0] * 4 + [255] * 4), (4, 2), bottom_up=True)
    assert list(flipped.getdata()) == [255] * 4 + [0] * 4


def test_without_the_decoder_a_clear_error_and_no_crash(monkeypatch):
    monkeypatch.setattr(qr_decode, "_zbar", False)
    assert not qr_decoder_available()
    with pytest.raises(qr_decode.QrDecoderUnavailable) as info:
        decode_qr(Image.new("L", (10, 10), 255))
    assert "type the code" in info.value.describe()


@pytest.mark.process        # a Python process of its own
def test_the_decoder_module_loads_neither_kivy_nor_pyzbar_on_import():
    code = ("import sys, app.qr_decode\n"
            "assert 'kivy' not in sys.modules\n"
            "assert 'pyzbar' not in sys.modules\n"
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
