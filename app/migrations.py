"""The local store's schema, as numbered migrations. `PRAGMA user_version` holds the number of
the last one applied; each runs in its own transaction together with that bump, so a crash
mid-migration leaves the store at the previous version."""
from __future__ import annotations

import sqlite3
from typing import Callable

# COARSE_TIME (app/clock.py): the hour a timestamp falls in, as SQLite writes it (UTC): what
# the store keeps of the time of anything a resident did, once that no longer needs to be exact
# (migration 4). SQLite's own strftime, so that the outbox's triggers can check a coarsening
# without the app's code. Imported here for app/store.py too.
from .clock import COARSE_TIME

# Set by a purge (Store.purge_acknowledged) inside its own transaction, and removed before it
# commits: the outbox's delete trigger lets go only acknowledged events acknowledged by then.
PURGE_BEFORE = "outbox.purge_before"


def m001_initial(conn: sqlite3.Connection) -> None:
    conn.execute("""
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""")
    # The append-only event log that sync reads. `seq` is the device's own sequence number:
    # AUTOINCREMENT never reuses a number, whatever the clock says.
    conn.execute("""
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            payload TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            acked_at TEXT,
            redacted INTEGER NOT NULL DEFAULT 0
        )""")
    conn.execute("CREATE INDEX outbox_unacked ON outbox(seq) WHERE acked_at IS NULL")
    conn.execute("""
        CREATE TRIGGER outbox_no_delete BEFORE DELETE ON outbox
        BEGIN SELECT RAISE(ABORT, 'outbox is append-only'); END""")
    conn.execute("""
        CREATE TRIGGER outbox_no_rewrite BEFORE UPDATE OF seq, event_id, type, recorded_at ON outbox
        BEGIN SELECT RAISE(ABORT, 'outbox is append-only'); END""")
    conn.execute("""
        CREATE TABLE ballots (
            id TEXT PRIMARY KEY,
            consultation_id TEXT NOT NULL,
            consultation_version INTEGER NOT NULL,
            site_id TEXT,
            meeting_id TEXT,
            mode TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open',
            started_at TEXT NOT NULL,
            closed_at TEXT
        )""")
    conn.execute("CREATE INDEX ballots_consultation ON ballots(consultation_id, started_at)")
    conn.execute("""
        CREATE TABLE answers (
            ballot_id TEXT NOT NULL REFERENCES ballots(id),
            question_id TEXT NOT NULL,
            consultation_id TEXT NOT NULL,
            value TEXT NOT NULL,
            event_id TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (ballot_id, question_id)
        )""")
    conn.execute("CREATE INDEX answers_question ON answers(consultation_id, question_id)")
    conn.execute("""
        CREATE TABLE proposals (
            id TEXT PRIMARY KEY,
            short_code TEXT NOT NULL UNIQUE,
            consultation_id TEXT NOT NULL,
            site_id TEXT,
            meeting_id TEXT,
            theme TEXT,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            contact TEXT,
            contact_consent INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'pending',
            reason TEXT,
            corrected_title TEXT,
            corrected_text TEXT,
            answer_status TEXT,
            answer_text TEXT,
            created_at TEXT NOT NULL,
            event_id TEXT NOT NULL
        )""")
    conn.execute("CREATE INDEX proposals_consultation ON proposals(consultation_id, created_at)")


def m002_tally_counts(conn: sqlite3.Connection) -> None:
    # Paper, show-of-hands and online counts typed in by a facilitator (app/counts.py). Never
    # updated but for `superseded_by`: a correction is a new row naming the one it replaces.
    conn.execute("""
        CREATE TABLE tally_counts (
            id TEXT PRIMARY KEY,
            consultation_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            counts TEXT NOT NULL,
            ballots INTEGER NOT NULL,
            supersedes TEXT,
            superseded_by TEXT,
            site_id TEXT,
            meeting_id TEXT,
            recorded_at TEXT NOT NULL,
            event_id TEXT NOT NULL
        )""")
    conn.execute("CREATE INDEX tally_counts_question ON tally_counts(consultation_id,"
                 " question_id)")


def m003_card_uses(conn: sqlite3.Connection) -> None:
    # The identified ballot mode (app/signup.py): one answer per participation card and
    # question. Only the nullifier HMAC(card code, consultation|question) is kept, apart from
    # the answers; never the card code.
    conn.execute("""
        CREATE TABLE card_uses (
            consultation_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            nullifier TEXT NOT NULL,
            ballot_id TEXT NOT NULL,
            PRIMARY KEY (consultation_id, question_id, nullifier)
        )""")


def m004_at_rest(conn: sqlite3.Connection) -> None:
    # A copied or stolen store no longer tells when each resident stood at the kiosk, and keeps
    # what the hub already has only for the facilitator's retention (issue 13).
    #
    # 1. An acknowledged event's recorded_at may be rounded down to its hour, and only that:
    #    any other change of it is still refused. seq, event_id and type never change.
    conn.execute("DROP TRIGGER outbox_no_rewrite")
    conn.execute("""
        CREATE TRIGGER outbox_no_rewrite BEFORE UPDATE OF seq, event_id, type ON outbox
        BEGIN SELECT RAISE(ABORT, 'outbox is append-only'); END""")
    # IS NOT, not !=: an unreadable time (strftime gives NULL) must refuse, not let through.
    conn.execute(f"""
        CREATE TRIGGER outbox_recorded_at_only_coarsens BEFORE UPDATE OF recorded_at ON outbox
        WHEN NEW.recorded_at IS NOT OLD.recorded_at
         AND (NEW.acked_at IS NULL
              OR NEW.recorded_at IS NOT strftime('{COARSE_TIME}', OLD.recorded_at))
        BEGIN SELECT RAISE(ABORT, 'outbox is append-only: recorded_at only rounds down to its
        hour, once acknowledged'); END""")
    # 2. Only acknowledged events go, and only those a purge announced in its own transaction
    #    (acknowledged at or before its cutoff); an unacknowledged event is never deleted.
    conn.execute("DROP TRIGGER outbox_no_delete")
    conn.execute(f"""
        CREATE TRIGGER outbox_no_delete BEFORE DELETE ON outbox
        WHEN OLD.acked_at IS NULL
          OR NOT coalesce(OLD.acked_at <= (SELECT trim(value, '"') FROM meta
                                            WHERE key = '{PURGE_BEFORE}'), 0)
        BEGIN SELECT RAISE(ABORT, 'outbox is append-only: only acknowledged events past their
        retention are deleted'); END""")
    conn.execute("CREATE INDEX outbox_acked ON outbox(acked_at) WHERE acked_at IS NOT NULL")
    # 3. What a purge keeps of closed ballots, for the facilitator's local figures: how many
    #    answers gave each value, and how many ballots each day. No ballot, no order, no time
    #    (WITHOUT ROWID: rows are stored by key, not in the order they were added).
    conn.execute("""
        CREATE TABLE answer_totals (
            consultation_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            value TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (consultation_id, question_id, value)
        ) WITHOUT ROWID""")
    conn.execute("""
        CREATE TABLE ballot_totals (
            consultation_id TEXT NOT NULL,
            day TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (consultation_id, day)
        ) WITHOUT ROWID""")
    # 4. What is already there: acknowledged events, and the local copies of residents' times
    #    (the store now writes those to the hour from the start).
    coarse = f"coalesce(strftime('{COARSE_TIME}', {{0}}), {{0}})"
    conn.execute(f"UPDATE outbox SET recorded_at = {coarse.format('recorded_at')},"
                 f" acked_at = {coarse.format('acked_at')} WHERE acked_at IS NOT NULL")
    conn.execute(f"UPDATE answers SET recorded_at = {coarse.format('recorded_at')}")
    conn.execute(f"UPDATE ballots SET started_at = {coarse.format('started_at')},"
                 f" closed_at = {coarse.format('closed_at')}")
    conn.execute(f"UPDATE proposals SET created_at = {coarse.format('created_at')}")
    # The exact times stay in the WAL until a checkpoint (app.store.REDACTION_CHECKPOINT_OWED;
    # the store cannot be imported here).
    conn.execute("INSERT INTO meta(key, value) VALUES ('sync.redaction_checkpoint_pending',"
                 " 'true') ON CONFLICT(key) DO UPDATE SET value = 'true'")


def m005_located_ideas(conn: sqlite3.Connection) -> None:
    """An idea may say where it would happen (a point or an area of the consultation's map),
    as canonical JSON."""
    conn.execute("ALTER TABLE proposals ADD COLUMN place TEXT")


def m006_idea_language(conn: sqlite3.Connection) -> None:
    """The language an idea was written in ('fr', 'it', 'en'); NULL for ideas collected
    before it was recorded."""
    conn.execute("ALTER TABLE proposals ADD COLUMN lang TEXT")


def m007_rehearsal(conn: sqlite3.Connection) -> None:
    """Rehearsal answers (app/store/rehearsal.py), kept apart from `ballots` and `answers`:
    nothing that counts, exports or closes reads this table, and opening the session empties
    it."""
    conn.execute("""
        CREATE TABLE rehearsal_answers (
            ballot_id TEXT NOT NULL,
            question_id TEXT NOT NULL,
            consultation_id TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (ballot_id, question_id)
        ) WITHOUT ROWID""")


MIGRATIONS = [m001_initial, m002_tally_counts, m003_card_uses, m004_at_rest, m005_located_ideas,
              m006_idea_language, m007_rehearsal]


def pending(conn: sqlite3.Connection) -> list[tuple[int, Callable[[sqlite3.Connection], None]]]:
    """(number, migration) of the migrations not yet applied to the store on `conn`, in order.
    The store applies each in one of its transactions (Store.transaction), with its number."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    return [(number, migration) for number, migration in enumerate(MIGRATIONS, start=1)
            if number > version]


def mark_applied(conn: sqlite3.Connection, number: int) -> None:
    """Inside the migration's transaction: the schema is now at `number`."""
    conn.execute(f"PRAGMA user_version = {int(number)}")
