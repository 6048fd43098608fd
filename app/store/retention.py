"""Personal data leaves the tablet once the hub has it (invariant 5), and what the hub already
has leaves after the facilitator's retention (issue 13).

At rest: a redaction rewrites an acknowledged event's payload and notes that a WAL checkpoint
is owed, so that the old bytes do not stay in the WAL; `purge_acknowledged` deletes the events
acknowledged longer ago than the retention, closed ballots folding into anonymous totals so
that the local figures stay whole.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..canonical import canonical_json
from ..errors import N_, StoreError
from ..migrations import COARSE_TIME, PURGE_BEFORE
from .core import StoreCore

if TYPE_CHECKING:
    from .outbox import OutboxEvent

# Set (in meta) by a redaction, cleared once a WAL checkpoint has put it into the file.
REDACTION_CHECKPOINT_OWED = "sync.redaction_checkpoint_pending"
CHECKPOINT_BUSY_MS = 250   # how long a checkpoint may wait for readers (the kiosk's writes wait)

# How long acknowledged events stay on the tablet, in days (the facilitator's choice). 0: purged
# as soon as the hub has them. Until then the tablet can still send them to another hub it is
# enrolled with later (a room's laptop, then the central hub), which is why 0 is not the default.
RETENTION_SETTING = "kiosk.retention_days"
RETENTION_CHOICES = (0, 7, 30, 90, 365)
RETENTION_DEFAULT = 30
RETENTION_NAMES = {0: N_("Until the hub has them"), 7: N_("One week"), 30: N_("One month"),
                   90: N_("Three months"), 365: N_("One year")}
_PURGE_CHUNK = 500          # ballots folded per statement (SQLite's limit on parameters)

log = logging.getLogger("piazzetta.store")


def owe_checkpoint(conn: sqlite3.Connection) -> None:
    """Note, in the caller's transaction, that exact times or personal data wait in the WAL
    for a checkpoint (`Retention.checkpoint_redactions`)."""
    conn.execute("INSERT INTO meta(key, value) VALUES (?, 'true') ON CONFLICT(key) DO "
                 "UPDATE SET value = 'true'", (REDACTION_CHECKPOINT_OWED,))


class Retention(StoreCore):
    """Redaction of what the hub has, WAL checkpoints, and the purge after the retention."""

    # -- personal data leaves once the hub has it (invariant 5) ---------------------------

    def ensure_secure_delete(self) -> None:
        """Make sure the bytes a redaction frees are overwritten, on this connection (it is a
        per-connection setting); RuntimeError when this SQLite cannot."""
        if self.conn.execute("PRAGMA secure_delete = ON").fetchone()[0] != 1:
            raise RuntimeError("SQLite's secure_delete is not available")

    def redact_signup(self, event: "OutboxEvent", kept_payload: dict) -> None:
        """Replace an acknowledged sign-up event's payload with `kept_payload` (its attribution
        only: app.signup.redacted_signup_payload), in one transaction that also notes a WAL
        checkpoint is owed (`checkpoint_redactions`)."""
        self._redact(event.id, kept_payload)

    def redact_idea_contact(self, event: "OutboxEvent") -> None:
        """Remove an acknowledged idea's contact from its outbox event and from the idea, in one
        transaction that also notes a WAL checkpoint is owed (`checkpoint_redactions`)."""
        self._redact(event.id, dict(event.payload, contact=None),
                     ("UPDATE proposals SET contact = NULL WHERE id = ?",
                      (event.payload.get("proposal_id"),)))

    def _redact(self, event_id: str, payload: dict,
                extra: tuple[str, tuple] | None = None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE outbox SET payload = ?, redacted = 1 WHERE event_id = ?",
                         (canonical_json(payload), event_id))
            if extra is not None:
                conn.execute(*extra)
            owe_checkpoint(conn)

    def checkpoint_redactions(self, busy_ms: int = CHECKPOINT_BUSY_MS) -> bool:
        """Copy the WAL into the database file and truncate it, if a redaction is waiting for
        that; True when nothing is owed any more.

        A reader on an older snapshot (another connection of the app) stops a checkpoint from
        completing: SQLite then reports busy, or fewer frames copied than logged. The note
        stays, and the caller tries again later. The wait for readers is bounded by `busy_ms`
        (the kiosk's writes wait meanwhile); the connection's own busy timeout is restored."""
        if not self.get_setting(REDACTION_CHECKPOINT_OWED):
            return True
        conn = self.conn
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.set_setting(REDACTION_CHECKPOINT_OWED, None)   # in memory, or no WAL
            return True
        timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
        conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
        try:
            busy, logged, copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError:
            busy, logged, copied = 1, -1, -1
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
        if busy or logged != copied:
            log.info("checkpoint after redaction not complete (busy %s, %s of %s frames); "
                     "will try again", busy, copied, logged)
            return False
        self.set_setting(REDACTION_CHECKPOINT_OWED, None)   # a small meta page; nothing personal
        return True

    # -- what the hub already has leaves after the retention (issue 13) --------------------

    @property
    def retention_days(self) -> int:
        """Days an acknowledged event stays on this tablet (one of RETENTION_CHOICES, 0: until
        the hub has it). A damaged setting reads as the default, never as "forever"."""
        days = self.get_setting(RETENTION_SETTING, RETENTION_DEFAULT)
        return days if days in RETENTION_CHOICES and not isinstance(days, bool) \
            else RETENTION_DEFAULT

    def set_retention_days(self, days: int) -> None:
        """The facilitator's choice of retention, one of RETENTION_CHOICES; StoreError
        otherwise. It applies at the next purge (after the next push, or at the next start)."""
        if isinstance(days, bool) or days not in RETENTION_CHOICES:
            raise StoreError(N_("Choose one of the offered retention periods."),
                             "retention_days")
        self.set_setting(RETENTION_SETTING, days)

    def purge_acknowledged(self, now: datetime | None = None) -> dict[str, int]:
        """Delete the events the hub acknowledged longer ago than the retention (by the
        tablet's clock: `now`, UTC, default the current time); never an unacknowledged one.

        A closed ballot whose closing was acknowledged that long ago leaves the local tables
        too: its answers are added to anonymous totals (how many answers gave each value; how
        many ballots each day), so that the local results and figures stay whole, and its rows
        are deleted. Ideas and typed-in counts stay (moderation and results need them; an
        idea's contact is already gone). Sync calls this after each successful push; the store
        calls it when it opens. One transaction; then a WAL checkpoint, so the deleted rows are
        not left in the WAL (secure_delete overwrites them in the file). Returns how many events
        and ballots went."""
        done = {"events": 0, "ballots": 0}
        moment = (now or datetime.now(timezone.utc)) - timedelta(days=self.retention_days)
        conn = self.conn
        # acked_at is kept to the hour: the cutoff is the hour too, so that retention 0 takes
        # what was acknowledged in the current hour.
        cutoff = conn.execute("SELECT strftime(?, ?)",
                              (COARSE_TIME, moment.isoformat())).fetchone()[0]
        if conn.execute("SELECT 1 FROM outbox WHERE acked_at IS NOT NULL AND acked_at <= ?"
                        " LIMIT 1", (cutoff,)).fetchone() is None:
            self.checkpoint_redactions()
            return done
        with self.transaction() as conn:
            named = sorted({b for (payload,) in conn.execute(
                "SELECT payload FROM outbox WHERE acked_at IS NOT NULL AND acked_at <= ?"
                " AND type = 'ballot_closed'", (cutoff,))
                if isinstance(b := json.loads(payload).get("ballot_id"), str)})
            for start in range(0, len(named), _PURGE_CHUNK):
                marks = ",".join("?" * len(named[start:start + _PURGE_CHUNK]))
                # Only closed ballots: an open one could still change an answer.
                chunk = [b for (b,) in conn.execute(
                    f"SELECT id FROM ballots WHERE id IN ({marks}) AND status != 'open'",
                    named[start:start + _PURGE_CHUNK])]
                if not chunk:
                    continue
                marks = ",".join("?" * len(chunk))
                conn.execute("INSERT INTO answer_totals(consultation_id, question_id, value, n)"
                             " SELECT consultation_id, question_id, value, count(*) FROM answers"
                             f" WHERE ballot_id IN ({marks}) GROUP BY 1, 2, 3"
                             " ON CONFLICT(consultation_id, question_id, value)"
                             " DO UPDATE SET n = n + excluded.n", chunk)
                conn.execute(f"DELETE FROM answers WHERE ballot_id IN ({marks})", chunk)
                conn.execute("INSERT INTO ballot_totals(consultation_id, day, n)"
                             " SELECT consultation_id, date(started_at, 'localtime'), count(*)"
                             f" FROM ballots WHERE id IN ({marks}) GROUP BY 1, 2"
                             " ON CONFLICT(consultation_id, day)"
                             " DO UPDATE SET n = n + excluded.n", chunk)
                done["ballots"] += conn.execute(f"DELETE FROM ballots WHERE id IN ({marks})",
                                                chunk).rowcount
            # The outbox's delete trigger lets go of exactly what this cutoff names.
            conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO "
                         "UPDATE SET value = excluded.value",
                         (PURGE_BEFORE, canonical_json(cutoff)))
            done["events"] = conn.execute(
                "DELETE FROM outbox WHERE acked_at IS NOT NULL AND acked_at <= ?",
                (cutoff,)).rowcount
            conn.execute("DELETE FROM meta WHERE key = ?", (PURGE_BEFORE,))
            owe_checkpoint(conn)
        self.checkpoint_redactions()
        log.info("purged %(events)s acknowledged events and %(ballots)s closed ballots", done)
        return done

