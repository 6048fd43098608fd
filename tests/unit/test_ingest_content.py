"""What an event's content hash is taken of, written around JSON already made
(server.ingest.event_content, issue 32's per-event cost): the same bytes as canonical_json of
the whole, so that a resend stays a duplicate and other content a conflict; and the one-pass
lone-surrogate check (app.text.has_lone_surrogate) says what the walk says."""
from __future__ import annotations

import pytest

from app.canonical import canonical_json
from app.text import has_lone_surrogate
from server.ingest import Event, event_content

PAYLOADS = [
    {},
    {"ballot_id": "b-1", "question_id": "q-ticket", "value": "yes", "site_id": None},
    {"value": ["Élan", "città", "👍", 1.5, True, None], "z": {"b": 1, "a": [{"y": 2, "x": 1}]}},
    {"text": "guillemets \"« »\" \\ / \n\t\u2028", "count": 2 ** 61},
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("device, seq, type_", [("tab-1", 1, "answer"),
                                                ("phone:é", 2 ** 62 - 1, "ballot_started")])
def test_the_content_is_canonical_json_of_the_whole(payload, device, seq, type_):
    event = Event("e-1", seq, type_, payload, "2026-12-06T22:00:00Z")
    whole = canonical_json({"device_id": device, "seq": seq, "type": type_,
                            "payload": payload})
    assert event_content(canonical_json(device), event, canonical_json(payload)) == whole


def test_the_one_pass_surrogate_check_agrees_with_the_walk():
    assert not has_lone_surrogate({"a": ["b", 1, None, {"c": "é👍"}]})
    assert has_lone_surrogate({"a": ["b", {"c": "x\ud800"}]})
    assert has_lone_surrogate({"k\udfff": 1})
    assert has_lone_surrogate(["ok", ("t", "\ud83d")])
    assert not has_lone_surrogate({1: "int key", "t": ("a", "b")})
    assert has_lone_surrogate({(1, 2): "\ud800"})       # not JSON-shaped: the walk decides
    assert not has_lone_surrogate({(1, 2): "fine"})
