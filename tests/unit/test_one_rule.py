"""Each rule in one place (CONVENTIONS.md, habit 16): a second spelling fails here."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ("app", "sync", "server", "screens", "main.py", "bench", "tools")


def sources():
    for part in CODE:
        path = ROOT / part
        files = [path] if path.is_file() else sorted(
            p for suffix in ("*.py", "*.html", "*.kv") for p in path.rglob(suffix))
        for file in files:
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


def test_the_identifier_rule_is_spelled_in_app_identifiers_only():
    assert places(r"A-Za-z0-9_") == ["app/identifiers.py"]
    assert places(r'in "-_\."|\.replace\("_", ""\)') == []


def test_the_identifier_rules():
    from app.identifiers import is_content_id, is_record_id
    for good in ("alpimed-2030", "q_1", "a.b", "x" * 64):
        assert is_content_id(good)
    for bad in ("", "x" * 65, "é", "a b", "abc\n", "a/b", None, 7, "ａ"):
        assert not is_content_id(bad), bad
    assert is_record_id("dev-1_A") and not is_record_id("a.b") and not is_record_id("ab\n")
    assert is_record_id("k" * 16, min_length=16) and not is_record_id("k" * 15, min_length=16)


def test_compact_json_is_written_in_app_canonical_only():
    assert places(r"""separators=\(["'],["'], *["']:["']\)""") == ["app/canonical.py"]


def test_compact_json_keeps_the_order_canonical_json_sorts():
    from app.canonical import canonical_json, compact_json
    value = {"b": [1, {"é": None}], "a": "à"}
    assert compact_json(value) == '{"b":[1,{"é":null}],"a":"à"}'
    assert canonical_json(value) == '{"a":"à","b":[1,{"é":null}]}'


def test_kept_to_the_hour_is_one_rule_in_python_and_in_sql():
    import sqlite3

    from app.clock import COARSE_TIME, to_hour
    from server.db import hour
    conn = sqlite3.connect(":memory:")
    for moment in ("2026-11-30T10:59:59.999+00:00", "2026-11-30T10:00:00+00:00",
                   "2026-11-30T23:30:00.5+00:00", "2026-11-30T10:15:00"):
        sql = conn.execute("SELECT strftime(?, ?)", (COARSE_TIME, moment)).fetchone()[0]
        assert to_hour(moment) == hour(moment) == sql
    assert to_hour("2026-11-30T00:30:00+01:00") == "2026-11-29T23:00:00+00:00"
    assert to_hour(None) is None and to_hour("") == "" and to_hour("not a time") is None
    assert places(r":00:00\+00:00") == ["app/clock.py"]
    assert places(r"\[:13\]") == []


def test_the_hub_pages_format_numbers_and_dates_through_app_formatting():
    assert places(r"%\.0f|%\.1f") == []
    assert places(r"\[:1[0-9]\]\|replace\(") == []
