"""Pushing a queue in batches with the acknowledgement rules (docs/protocol.md, "The
acknowledgement"), shared by the tablet's worker (sync.worker.push_pending) and a room hub's
forwarder (server.upstream): take the next batch, send it, mark done only what the hub answered
for, shrink the batch when the hub says it takes fewer; and the backoff both wait by."""
from __future__ import annotations

import random
from typing import Callable

from . import protocol as p
from .client import HubClient


def push_in_batches(client: HubClient, take: Callable[[int], list[dict]],
                    acknowledge: Callable[[list[dict], dict[str, dict]], None],
                    max_batch: int, *, path: str = f"{p.API_PREFIX}/events",
                    on_max_batch: Callable[[int], None] | None = None) -> dict[str, int]:
    """Send what `take(n)` gives (up to n envelopes), batch after batch, until it gives
    nothing; `acknowledge(envelopes, results)` records each real acknowledgement (results by
    event ID, every one of the batch). Returns counts per status. Raises SyncError on the first
    failure: what was acknowledged before it stays acknowledged, the rest is sent again later
    (a resend is a duplicate). A hub that now takes smaller batches (413 batch_too_large) is
    asked how many (`on_max_batch` keeps the figure) and the push goes on."""
    counts = dict.fromkeys(p.ACK_STATUSES, 0)
    while True:
        envelopes = take(max_batch)
        if not envelopes:
            return counts
        try:
            results = client.push(envelopes, path)
        except p.HubRefused as exc:
            if exc.code != "batch_too_large":
                raise
            advertised = client.info().get("max_batch")
            if not isinstance(advertised, int) or not 0 < advertised < max_batch:
                raise
            max_batch = advertised
            if on_max_batch is not None:
                on_max_batch(max_batch)
            continue
        acknowledge(envelopes, results)
        for result in results.values():
            counts[result["status"]] += 1


def backoff_delay(failures: int, backoff: tuple[float, float]) -> float:
    """Seconds to wait after `failures` failures in a row: 2 s, 4 s, 8 s… up to the cap, each
    drawn between half and all of that ceiling (jitter: clients do not knock all at once)."""
    base, cap = backoff
    ceiling = min(cap, base * 2 ** (max(failures, 1) - 1))
    return random.uniform(ceiling / 2, ceiling)
