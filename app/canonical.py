"""Compact JSON, written one way: `compact_json` (no spaces, non-ASCII kept as is, keys in
their order: what the hub sends and a tablet pushes) and `canonical_json` (the same, keys
sorted, so that the same content always gives the same bytes: compared for conflicts — the
same event ID with other content —, hashed, signed)."""
import json
from typing import Any


def compact_json(value: Any) -> str:
    """No spaces, non-ASCII kept as is, keys in the value's own order."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def canonical_json(value: Any) -> str:
    """Keys sorted, no spaces, non-ASCII kept as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
