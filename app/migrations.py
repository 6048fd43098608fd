"""The local store's schema, as numbered migrations. `PRAGMA user_version` holds the number of
the last one applied; each runs in its own transaction together with that bump, so a crash
mid-migration leaves the store at the previous version."""
from __future__ import annotations

import sqlite3


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


MIGRATIONS = [m001_initial, m002_tally_counts, m003_card_uses]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations not yet applied; return the store's schema version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, migration in enumerate(MIGRATIONS, start=1):
        if number <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration(conn)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = number
    return version
