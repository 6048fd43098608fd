"""What the facilitator reads about sync. The worker produces it; the facilitator screen shows
it. `problem` is an English msgid (translate it with the screen's `_`)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyncStatus:
    enrolled: bool = False
    hub_url: str | None = None
    device_id: str | None = None
    last_success: str | None = None     # ISO 8601 (device clock), annotation only
    pending: int = 0                    # events waiting for the hub's acknowledgement
    problem: str | None = None          # e.g. "Hub unreachable"; None when all is well
    revoked: bool = False
    refused: int = 0                    # events the hub refused or found in conflict (kept there)
