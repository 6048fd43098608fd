"""Short codes, canonical JSON and the clock annotation: one module each, shared by the tablet
and the hub."""
import re

from app.canonical import canonical_json
from app.clock import now_iso
from app.codes import CODE_ALPHABET, format_code, new_code, normalize_code


def test_codes_use_no_look_alikes():
    # 2RUAB8, ZSMREZ on the thanks screens: B/8, Z/2 and S/5 confused in bold type.
    assert not set("01OIBSZ") & set(CODE_ALPHABET)
    assert len(set(CODE_ALPHABET)) == len(CODE_ALPHABET) == 29
    codes = {new_code(8) for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 8 and set(c) <= set(CODE_ALPHABET) for c in codes)


def test_typed_codes_read_the_same_whatever_the_case_spaces_and_dashes():
    assert normalize_code(" abcd-ef 23 ") == "ABCDEF23"
    assert normalize_code(None) == "" and normalize_code(12) == "" and normalize_code([]) == ""
    assert normalize_code("A" * 100, max_length=32) == "A" * 32
    assert format_code("ABCDEF23", 4) == "ABCD-EF23"
    assert format_code("ABC", 4) == "ABC"


def test_canonical_json_is_stable_and_keeps_accents():
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    assert canonical_json({"a": "é", "b": 1}) == canonical_json({"b": 1, "a": "é"})


def test_now_iso_is_utc():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", now_iso())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", now_iso("seconds"))
