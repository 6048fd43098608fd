"""The outbox: an append-only log of events, each with an ID made on this device and the
device's own sequence number (invariant 2). `append_event` is the one place that writes an event;
every writer of the store calls it inside its own transaction, next to the rows the event
changes. Sync reads the outbox and only marks as acknowledged what the hub acknowledged
(invariant 3)."""
from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Iterable

from ..canonical import canonical_json
from ..clock import now_iso
from ..migrations import COARSE_TIME
from .announce import listen, note_event  # noqa: F401  (listen: for sync)
from .core import StoreCore
from .retention import owe_checkpoint


@dataclass(frozen=True)
class OutboxEvent:
    """One event as sync sends it."""
    seq: int
    id: str
    type: str
    payload: dict
    recorded_at: str
    acked_at: str | None = None

    def envelope(self, device_id: str) -> dict:
        return {"id": self.id, "device_id": device_id, "seq": self.seq, "type": self.type,
                "recorded_at": self.recorded_at, "payload": self.payload}


def append_event(conn: sqlite3.Connection, type_: str, payload: dict, recorded_at: str) -> str:
    """Write one event, recorded at `recorded_at` (app.clock.now_iso), in the caller's open
    transaction (`Store.transaction()`), so that it commits with the rows it describes; its
    ID."""
    event_id = uuid.uuid4().hex
    seq = conn.execute(
        "INSERT INTO outbox(event_id, type, payload, recorded_at) VALUES (?, ?, ?, ?)",
        (event_id, type_, canonical_json(payload), recorded_at)).lastrowid
    note_event(conn, seq)     # announced to sync once the transaction commits (announce.py)
    return event_id


class Outbox(StoreCore):
    """The outbox, for sync: what waits for the hub, and the hub's acknowledgements."""

    def pending_events(self, limit: int = 500) -> list[OutboxEvent]:
        """Events not yet acknowledged by the hub, oldest first."""
        return [OutboxEvent(seq, event_id, type_, json.loads(payload), recorded_at)
                for seq, event_id, type_, payload, recorded_at in self.conn.execute(
                    "SELECT seq, event_id, type, payload, recorded_at FROM outbox "
                    "WHERE acked_at IS NULL ORDER BY seq LIMIT ?", (limit,))]

    def mark_acknowledged(self, event_ids: Iterable[str]) -> int:
        """Record the hub's explicit acknowledgement of these events; return how many.

        The hub has the exact time now: the event keeps only its hour (recorded_at rounded
        down, the only change the outbox's triggers allow), and the acknowledgement's own time
        is kept to the hour too, since a push follows a vote by about a second."""
        ids = list(event_ids)
        if not ids:
            return 0
        now = now_iso()
        count = 0
        with self.transaction() as conn:
            for event_id in ids:
                count += conn.execute(
                    "UPDATE outbox SET acked_at = strftime(?1, ?2),"
                    " recorded_at = coalesce(strftime(?1, recorded_at), recorded_at)"
                    " WHERE event_id = ?3 AND acked_at IS NULL",
                    (COARSE_TIME, now, event_id)).rowcount
            if count:
                # The exact times stay in the WAL until a checkpoint copies the pages over.
                owe_checkpoint(conn)
        return count

    def forget_acknowledgements(self) -> int:
        """Count every event as not yet sent: the tablet now answers to another hub, which has
        none of them. The hub stores each event once by its ID, so sending again is safe.
        Events already purged after the retention are not on the tablet any more, and
        acknowledged ones go again with their time to the hour. Returns how many events will be
        sent again."""
        return self.conn.execute(
            "UPDATE outbox SET acked_at = NULL WHERE acked_at IS NOT NULL").rowcount

    def outbox_counts(self) -> dict[str, int]:
        """How many events wait for the hub's acknowledgement, and how many it acknowledged."""
        pending, acked = self.conn.execute(
            "SELECT count(*) FILTER (WHERE acked_at IS NULL),"
            " count(*) FILTER (WHERE acked_at IS NOT NULL) FROM outbox").fetchone()
        return {"pending": pending, "acknowledged": acked}

    def pending_and_last_seq(self) -> tuple[int, int]:
        """(events waiting for the hub's acknowledgement, the last outbox number ever given),
        read in one statement: one snapshot, so that the events the count holds are exactly
        those numbered up to the second figure (sync.service counts the later ones from the
        store's announcements). The number is AUTOINCREMENT's own: a purge never lowers it."""
        pending, seq = self.conn.execute(
            "SELECT (SELECT count(*) FROM outbox WHERE acked_at IS NULL),"
            " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)").fetchone()
        return pending, seq

    def outbox_revision(self) -> tuple[int, int]:
        """(last sequence number, number of events): every change recorded here is an event,
        and the outbox otherwise only loses acknowledged events to a purge (which leaves the
        local figures as they were), so this changes whenever the local figures may have."""
        seq, count = self.conn.execute(
            "SELECT coalesce(max(seq), 0), count(*) FROM outbox").fetchone()
        return seq, count

    def events(self) -> list[OutboxEvent]:
        return [OutboxEvent(*row[:3], json.loads(row[3]), *row[4:]) for row in self.conn.execute(
            "SELECT seq, event_id, type, payload, recorded_at, acked_at FROM outbox ORDER BY seq")]
