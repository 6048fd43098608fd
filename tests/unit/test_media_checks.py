"""A bundle's recordings read as far as the standard library can (app.bundle.check_audio_bytes:
a WAV's declared length, an OGG's chain of pages, an MP3's frames, each of the kind its name
says), and every bundle file served with its strict type, `nosniff` and a sandbox (issue 32's
attack, finding 4)."""
from __future__ import annotations

import io
import math
import struct
import wave

import pytest

from app.bundle import check_audio_bytes
from app.errors import BundleError


def wav(seconds: float = 0.2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(struct.pack("<h", int(9000 * math.sin(n / 8)))
                               for n in range(int(16000 * seconds))))
    return out.getvalue()


def ogg_page(body: bytes, flags: int = 0, seq: int = 0) -> bytes:
    lacing = [255] * (len(body) // 255) + [len(body) % 255]
    return (b"OggS" + bytes([0, flags]) + struct.pack("<qIII", 0, 1, seq, 0)
            + bytes([len(lacing)]) + bytes(lacing) + body)


def ogg() -> bytes:
    return (ogg_page(b"\x01vorbis" + bytes(23), flags=0x02)
            + ogg_page(b"\x03vorbis" + bytes(300), seq=1) + ogg_page(bytes(40), 0x04, seq=2))


def mp3(frames: int = 4) -> bytes:
    # MPEG-1 layer III, 128 kbit/s, 44,100 Hz, no padding: 417 bytes a frame.
    frame = b"\xff\xfb\x90\x00" + bytes(413)
    tag = b"ID3\x03\x00\x00\x00\x00\x00\x0a" + bytes(10)
    return tag + frame * frames


def ape_tag(items: bytes = b"\x05\x00\x00\x00\x00\x00\x00\x00Title\x00Piazza") -> bytes:
    # APEv2: header, items, footer; the size counts the items and the footer.
    size = len(items) + 32

    def part(flags: int) -> bytes:
        return b"APETAGEX" + struct.pack("<IIII", 2000, size, 1, flags) + bytes(8)
    return part(0xA0000000) + items + part(0x80000000)


def refused(data: bytes, name: str) -> bool:
    try:
        check_audio_bytes(data, name)
    except BundleError:
        return True
    return False


def test_whole_recordings_of_the_kind_their_name_says_pass():
    for data, name in ((wav(), "a.wav"), (ogg(), "a.ogg"), (mp3(), "a.mp3"),
                       (mp3()[:-100], "cut.mp3"), (mp3() + b"TAG" + bytes(125), "v1.mp3"),
                       (mp3() + ape_tag() + b"TAG" + bytes(125), "ape-v1.mp3"),
                       (wav() + b"LIST\x03\x00\x00\x00abc", "odd-chunk-unpadded.wav")):
        assert not refused(data, name), name


@pytest.mark.parametrize("data, name", [
    (b"RIFF\x00\x00\x00\x00WAVE" + b"<script>alert(1)</script>", "head-only.wav"),
    (wav()[:-2000], "cut-short.wav"),                     # fewer frames than it declares
    (b"OggS" + b"<html><script>alert(1)</script></html>", "head-only.ogg"),
    (ogg()[:-10], "cut-short.ogg"),
    (ogg() + b"<script>alert(1)</script>", "tail.ogg"),   # bytes after the last page
    (ogg_page(b"<html>" + bytes(30), flags=0x02), "no-codec.ogg"),
    (b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"<html><script>alert(1)</script>", "tag-only.mp3"),
    (b"\xff\xfb" + b"<html><script>alert(1)</script>", "sync-only.mp3"),
    (mp3() + b"<html><script>alert(1)</script>", "tail.mp3"),
    # attack6: bytes after the structure, behind a tag's name or after a WAV's samples (a
    # page, an archive whose directory sits at the file's end) were never read.
    (mp3() + b"TAG" + bytes(125) + b"<html><script>alert(1)</script>", "tag-tail.mp3"),
    (mp3() + b"TAG<html><script>alert(1)</script>" + bytes(2000), "tag-page.mp3"),
    (mp3() + b"APETAGEX<html><script>alert(1)</script>", "ape-page.mp3"),
    (mp3() + ape_tag() + b"PK\x05\x06" + bytes(18), "ape-zip.mp3"),
    (wav() + b"<html><script>alert(1)</script>", "tail.wav"),
    (wav() + b"PK\x05\x06" + bytes(18), "zip-tail.wav"),
    (wav(), "wav-named.mp3"),                             # served as audio/mpeg: refused
    (mp3(), "mp3-named.ogg"),
])
def test_a_file_that_only_starts_like_a_recording_is_refused(data, name):
    assert refused(data, name)


def test_bundle_files_are_served_with_a_strict_type_nosniff_and_a_sandbox(api):
    client = api.fresh()
    answer = client.get("/api/v1/consultations/alpimed-2030/files/images/cover.png")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in answer.headers["content-security-policy"]
    again = client.get("/api/v1/consultations/alpimed-2030/files/images/cover.png",
                       headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304 and again.headers["x-content-type-options"] == "nosniff"


def _picture(fmt: str) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 40, 0)).save(out, fmt)
    return out.getvalue()


def test_a_picture_is_of_the_kind_its_name_says_and_ends_where_it_ends():
    """attack6: a JPEG named .png (served as image/png) and a PNG or WebP with a page or an
    archive after its last chunk passed (Pillow stops at the picture's end); the same bytes
    passed once were not checked again under another name."""
    from app.bundle import check_image_bytes

    def image_refused(data: bytes, name: str) -> bool:
        try:
            check_image_bytes(data, name)
        except BundleError:
            return True
        return False
    png, jpeg, webp = _picture("PNG"), _picture("JPEG"), _picture("WEBP")
    page = b"<html><script>alert(1)</script></html>"
    for data, name in ((png, "a.png"), (jpeg, "a.jpg"), (jpeg, "a.jpeg"), (webp, "a.webp"),
                       (jpeg + page, "trailer.jpg")):     # a phone's JPEG may carry more
        assert not image_refused(data, name), name
    for data, name in ((jpeg, "jpeg.png"), (png, "png.jpg"), (webp, "webp.png"),
                       (png + page, "tail.png"), (png + b"PK\x05\x06" + bytes(18), "zip.png"),
                       (webp + page, "tail.webp")):
        assert image_refused(data, name), name
