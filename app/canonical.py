"""One canonical JSON text for a value, so that the same content always gives the same bytes:
compared for conflicts (the same event ID with other content), hashed, signed."""
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Keys sorted, no spaces, non-ASCII kept as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
