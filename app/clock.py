"""The device's or the hub's clock, as an annotation only: nothing orders or identifies records
by it (DESIGN.md, invariant 2)."""
from datetime import datetime, timezone


def now_iso(timespec: str = "milliseconds") -> str:
    """The current UTC time as ISO 8601 text (`2026-11-29T22:18:37.123+00:00`)."""
    return datetime.now(timezone.utc).isoformat(timespec=timespec)
