"""Each rule in one place (CONVENTIONS.md, habit 16): a second spelling fails here."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ("app", "sync", "server", "screens", "main.py", "bench", "tools")


def sources():
    for part in CODE:
        path = ROOT / part
        for file in ([path] if path.is_file() else sorted(path.rglob("*.py"))):
            yield file.relative_to(ROOT).as_posix(), file.read_text(encoding="utf-8")


def places(pattern: str) -> list[str]:
    return sorted(name for name, text in sources() if re.search(pattern, text, re.M))


def test_qr_codes_are_made_in_app_qr_only():
    assert places(r"^\s*(import qrcode|from qrcode)") == ["app/qr.py"]


def test_one_qr_in_every_form():
    import io

    from PIL import Image

    from app.qr import qr_ascii, qr_matrix, qr_png, qr_svg
    text = "https://hub.example/signup?t=abc"
    side = len(qr_matrix(text))
    assert side >= 21 and all(len(row) == side for row in qr_matrix(text))
    assert len(qr_matrix(text, border=2)) == side + 4
    assert Image.open(io.BytesIO(qr_png(text, box_size=3, border=4))).size == \
        ((side + 8) * 3,) * 2
    assert {len(line) for line in qr_ascii(text, border=1).splitlines()} == {side + 2}
    svg = qr_svg(text)
    assert svg.startswith("<svg") and "<path" in svg and "<?xml" not in svg
