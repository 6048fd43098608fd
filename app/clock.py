"""The device's or the hub's clock, as an annotation only: nothing orders or identifies records
by it (DESIGN.md, invariant 2). Where a finer time could single someone out, only its hour is
kept (`to_hour`, and `COARSE_TIME` for SQL)."""
from __future__ import annotations

from datetime import datetime, timezone

# The hour a time falls in (UTC), as SQLite's strftime(COARSE_TIME, …) writes it: the tablet
# store's SQL and triggers use the format, Python code `to_hour`; both give the same text.
COARSE_TIME = "%Y-%m-%dT%H:00:00+00:00"


def now_iso(timespec: str = "milliseconds") -> str:
    """The current UTC time as ISO 8601 text (`2026-11-29T22:18:37.123+00:00`)."""
    return datetime.now(timezone.utc).isoformat(timespec=timespec)


def to_hour(iso: str | None) -> str | None:
    """An ISO 8601 time kept to the hour, in UTC (`2026-11-30T10:00:00+00:00`); a time without
    an offset is taken as UTC. None (or "") as is; None for text that is not an ISO time."""
    if not iso:
        return iso
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime(COARSE_TIME)
