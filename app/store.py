"""The tablet's local store: SQLite in WAL mode with synchronous=FULL, so that a call that
records a vote or an idea returns only once it is committed and on disk (invariant 1).

Every record is also appended to the outbox, an append-only log of events with an ID made on
this device and the device's own sequence number (invariant 2). Sync reads the outbox and only
marks as acknowledged what the hub acknowledged (invariant 3).

A Store belongs to the thread that opened it (sqlite3's rule); a worker thread opens its own.

At rest (issue 13): the store's folder is 0700 and its files 0600 on POSIX systems; the local
copies of residents' times (ballots, answers, ideas) are kept to the hour, an event's own time
too once the hub acknowledged it; and acknowledged events are purged after the facilitator's
retention (`purge_acknowledged`), closed ballots folding into anonymous totals so that the
local figures stay whole.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:
    from .cards import Card
    from sqlite_utils import Database

from .answers import validate_answer
from .canonical import canonical_json
from .clock import now_iso
from .counts import COUNT_EVENT, ChannelTally, TallyCount, validate_count
from .errors import N_, StoreError, ValidationError
from . import migrations
from .migrations import COARSE_TIME, PURGE_BEFORE
from .model import BALLOT_MODES, Consultation
from .proposals import (ANSWER_STATUSES, MODERATION_STATUSES, TEXT_MAX, TITLE_MAX,
                        new_short_code, validate_proposal)
from .text import clean_text

STORE_FILE = "piazzetta.sqlite3"
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


@dataclass(frozen=True)
class Proposal:
    id: str
    short_code: str
    consultation_id: str
    title: str
    text: str
    theme: str | None
    status: str
    reason: str | None
    contact: str | None
    created_at: str
    answer_status: str | None = None
    answer_text: str | None = None
    place: dict | None = None       # where the idea would happen (a point or an area), if said
    lang: str | None = None         # the language it was written in; None on older ideas


class Store:
    """Entry point to the local store. `Store.open(folder)` or `Store.memory()` in tests."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        # Freed bytes are overwritten: a sign-up redacted after sync cannot be read back from
        # the file (invariant 5).
        conn.execute("PRAGMA secure_delete = ON")
        self.schema_version = self._migrate()
        self.device_id = self._device_id()
        self._open_ballots: dict[str, tuple] = {}
        try:
            self.purge_acknowledged()
        except sqlite3.OperationalError as exc:   # busy or read-only: the next push tries again
            log.warning("purge of acknowledged events not done at open: %s", exc)

    @classmethod
    def open(cls, path: str | Path) -> "Store":
        """Open (creating if needed) the store in folder `path`, or the SQLite file `path`.

        On POSIX systems the folder is made 0700 (an existing one tightened to that) and the
        SQLite file with its -wal and -shm 0600: they hold the device secret, the PIN hash and
        the answers. When that cannot be done (a folder owned by someone else, a read-only file
        system) a warning is logged and the store opens all the same. Given a file, its folder
        is the caller's: only a missing one is made, 0700."""
        path = Path(path)
        if path.suffix not in (".sqlite3", ".db", ".sqlite"):
            _private_folder(path, tighten=True)
            path = path / STORE_FILE
        elif not path.parent.exists():
            _private_folder(path.parent, tighten=False)
        _private_files(path)
        store = cls(sqlite3.connect(str(path), isolation_level=None))
        _private_files(path)       # the -wal and -shm exist now (an old 0644 pair is tightened)
        return store

    @cached_property
    def db(self) -> "Database":
        """The sqlite-utils view of this store (queries, introspection), made on first use:
        importing sqlite-utils costs a kiosk's start more than everything else it reads."""
        from sqlite_utils import Database
        return Database(self.conn)

    @classmethod
    def memory(cls) -> "Store":
        return cls(sqlite3.connect(":memory:", isolation_level=None))

    def close(self) -> None:
        self.conn.close()

    @property
    def path(self) -> str:
        return self.conn.execute("PRAGMA database_list").fetchone()[2]

    def _migrate(self) -> int:
        """Apply the migrations not yet applied, each in its own transaction; the version."""
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        for number, migration in migrations.pending(self.conn):
            with self.transaction() as conn:
                migration(conn)
                migrations.mark_applied(conn, number)
            version = number
        return version

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: `with store.transaction() as conn: conn.execute(...)`.

        BEGIN IMMEDIATE takes the write lock at once (no deadlock upgrading a read lock); the
        block's statements are committed together when it ends, and with WAL and
        synchronous=FULL the COMMIT is fsynced, so the data is on disk when the `with`
        statement returns (invariant 1). Any exception, KeyboardInterrupt included, rolls
        everything back and is raised again: nothing is half written.

        Transactions do not nest: a `with store.transaction()` inside another raises
        RuntimeError, since an inner block could not promise "on disk when this returns".
        """
        conn = self.conn
        if conn.in_transaction:
            raise RuntimeError("Store.transaction() does not nest: a transaction is open")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:     # SQLite may have rolled back already (e.g. disk full)
                conn.execute("ROLLBACK")
            raise

    # -- settings and identity -------------------------------------------------------------

    def _device_id(self) -> str:
        device_id = self.get_setting("device_id")
        if device_id is None:
            device_id = uuid.uuid4().hex
            self.conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('device_id', ?)",
                              (canonical_json(device_id),))
            device_id = self.get_setting("device_id")
        return device_id

    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        """Store a facilitator setting (durably, like everything else)."""
        self.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                          (key, canonical_json(value)))

    # -- writing ---------------------------------------------------------------------------

    def _append(self, type_: str, payload: dict, extra: Iterable[tuple[str, tuple]] = ()) -> str:
        """Append an event and apply `extra` statements in one durable transaction."""
        event_id = uuid.uuid4().hex
        with self.transaction() as conn:
            conn.execute("INSERT INTO outbox(event_id, type, payload, recorded_at) "
                         "VALUES (?, ?, ?, ?)",
                         (event_id, type_, canonical_json(payload), now_iso()))
            for sql, params in extra:
                conn.execute(sql, params)
        return event_id

    def start_ballot(self, consultation: Consultation, *, mode: str = "open",
                     site_id: str | None = None, meeting_id: str | None = None) -> str:
        """Open a ballot (one participant's answers in one kiosk session); return its ID."""
        if mode not in BALLOT_MODES:
            raise StoreError(N_("Unknown ballot mode."), "mode")
        if consultation.status != "open":
            raise StoreError(N_("This consultation is not open for votes."), "consultation")
        ballot_id = uuid.uuid4().hex
        started = now_iso()
        payload = {"ballot_id": ballot_id, "consultation_id": consultation.id,
                   "consultation_version": consultation.version, "mode": mode,
                   "site_id": site_id, "meeting_id": meeting_id}
        self._append("ballot_started", payload, [(
            "INSERT INTO ballots(id, consultation_id, consultation_version, site_id, meeting_id,"
            " mode, started_at) VALUES (?, ?, ?, ?, ?, ?, strftime(?, ?))",
            (ballot_id, consultation.id, consultation.version, site_id, meeting_id, mode,
             COARSE_TIME, started))])
        self._open_ballots[ballot_id] = (consultation.id, consultation.version, site_id,
                                         meeting_id)
        return ballot_id

    def _ballot(self, ballot_id: str) -> tuple:
        ballot = self._open_ballots.get(ballot_id)
        if ballot is None:
            row = self.conn.execute(
                "SELECT consultation_id, consultation_version, site_id, meeting_id, status "
                "FROM ballots WHERE id = ?", (ballot_id,)).fetchone()
            if row is None:
                raise StoreError(N_("Unknown ballot."), "ballot")
            if row[4] != "open":
                raise StoreError(N_("This ballot is closed."), "ballot")
            ballot = self._open_ballots[ballot_id] = row[:4]
        return ballot

    def record_answer(self, consultation: Consultation, ballot_id: str, question_id: str,
                      value: Any, *, card: "Card | None" = None) -> Any:
        """Validate and record one answer; it is on disk when this returns.

        Answering the same question again in the same ballot replaces the answer (the outbox
        keeps both events; the later one wins). Returns the answer in its normal form. In the
        identified mode, `card` (app/cards.Card) signs the answer: the event carries its lookup
        ID and proof; one answer per card and question here.
        """
        consultation_id, version, site_id, meeting_id = self._ballot(ballot_id)
        if consultation_id != consultation.id:
            raise StoreError(N_("This ballot belongs to another consultation."), "ballot")
        question = consultation.question(question_id)
        if question is None:
            raise ValidationError(N_("Unknown question."), "question")
        value = validate_answer(consultation, question, value)
        payload = {"ballot_id": ballot_id, "consultation_id": consultation_id,
                   "consultation_version": version, "question_id": question_id,
                   "value": value, "site_id": site_id, "meeting_id": meeting_id,
                   "channel": "tablet"}
        nullifier = None
        if card is not None:   # identified mode: the card's lookup ID and its proof
            payload["card"] = card.lookup
            payload["proof"] = card.proof(question_id, ballot_id, value)
            nullifier = card.use_tag(question_id)   # one answer per card and question here
        event_id = uuid.uuid4().hex
        value_json = canonical_json(value)
        now = now_iso()
        with self.transaction() as conn:
            if nullifier is not None:
                owner = conn.execute("SELECT ballot_id FROM card_uses WHERE consultation_id = ?"
                                     " AND question_id = ? AND nullifier = ?",
                                     (consultation_id, question_id, nullifier)).fetchone()
                if owner is not None and owner[0] != ballot_id:
                    raise StoreError(N_("This participation card has already answered this "
                                        "question."), "card")
                conn.execute("INSERT OR IGNORE INTO card_uses(consultation_id, question_id,"
                             " nullifier, ballot_id) VALUES (?, ?, ?, ?)",
                             (consultation_id, question_id, nullifier, ballot_id))
            conn.execute("INSERT INTO outbox(event_id, type, payload, recorded_at) "
                         "VALUES (?, 'answer', ?, ?)", (event_id, canonical_json(payload), now))
            # The local copy keeps the hour only; the event keeps the exact time until the
            # hub acknowledged it (mark_acknowledged).
            conn.execute("INSERT INTO answers(ballot_id, question_id, consultation_id, value,"
                         " event_id, recorded_at) VALUES (?, ?, ?, ?, ?, strftime(?, ?)) "
                         "ON CONFLICT(ballot_id, question_id) DO UPDATE SET "
                         "value = excluded.value, event_id = excluded.event_id, "
                         "recorded_at = excluded.recorded_at",
                         (ballot_id, question_id, consultation_id, value_json, event_id,
                          COARSE_TIME, now))
        return value

    def card_use(self, consultation_id: str, question_id: str, nullifier: str) -> str | None:
        """The ballot in which the card of this use tag (Card.use_tag) answered the question
        here, or None."""
        row = self.conn.execute("SELECT ballot_id FROM card_uses WHERE consultation_id = ? AND"
                                " question_id = ? AND nullifier = ?",
                                (consultation_id, question_id, nullifier)).fetchone()
        return row[0] if row else None

    def withdraw_answer(self, ballot_id: str, question_id: str) -> None:
        """The resident went back and cleared an answer: it no longer counts."""
        consultation_id = self._ballot(ballot_id)[0]
        self._append("answer_withdrawn", {"ballot_id": ballot_id, "question_id": question_id,
                                          "consultation_id": consultation_id},
                     [("DELETE FROM answers WHERE ballot_id = ? AND question_id = ?",
                       (ballot_id, question_id))])

    def close_ballot(self, ballot_id: str, *, reason: str = "finished") -> None:
        """Close a ballot: finished by the resident, or abandoned (idle reset). Its answers
        count either way."""
        self._ballot(ballot_id)
        self._append("ballot_closed", {"ballot_id": ballot_id, "reason": reason},
                     [("UPDATE ballots SET status = ?, closed_at = strftime(?, ?) WHERE id = ?",
                       (reason, COARSE_TIME, now_iso(), ballot_id))])
        self._open_ballots.pop(ballot_id, None)

    def answers_of(self, ballot_id: str) -> dict[str, Any]:
        return {row["question_id"]: json.loads(row["value"])
                for row in self.db.query("SELECT question_id, value FROM answers "
                                         "WHERE ballot_id = ?", [ballot_id])}

    # -- ideas -----------------------------------------------------------------------------

    def submit_proposal(self, consultation: Consultation, *, title: object, text: object,
                        theme: object = None, contact: object = None,
                        contact_consent: bool = False, site_id: str | None = None,
                        meeting_id: str | None = None, place: object = None,
                        lang: object = None) -> Proposal:
        """Validate and record an idea (optionally where it would happen: a point on the
        consultation's map or an area of its perimeter; and the language it was written in,
        the kiosk's at the time); it is on disk when this returns."""
        draft = validate_proposal(consultation, title=title, text=text, theme=theme,
                                  contact=contact, contact_consent=contact_consent, place=place,
                                  lang=lang)
        proposal_id = uuid.uuid4().hex
        now = now_iso()
        for _attempt in range(5):
            code = new_short_code()
            if not self.conn.execute("SELECT 1 FROM proposals WHERE short_code = ?",
                                     (code,)).fetchone():
                break
        payload = {"proposal_id": proposal_id, "short_code": code,
                   "consultation_id": consultation.id, "title": draft.title, "text": draft.text,
                   "theme": draft.theme, "contact": draft.contact,
                   "contact_consent": draft.contact_consent, "site_id": site_id,
                   "meeting_id": meeting_id}
        if draft.place is not None:
            payload["place"] = draft.place
        if draft.lang is not None:
            payload["lang"] = draft.lang
        event_id = uuid.uuid4().hex
        with self.transaction() as conn:
            conn.execute("INSERT INTO outbox(event_id, type, payload, recorded_at) "
                         "VALUES (?, 'proposal', ?, ?)", (event_id, canonical_json(payload), now))
            conn.execute(
                "INSERT INTO proposals(id, short_code, consultation_id, site_id, meeting_id,"
                " theme, title, text, contact, contact_consent, created_at, event_id, place,"
                " lang) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, strftime(?, ?), ?, ?, ?)",
                (proposal_id, code, consultation.id, site_id, meeting_id, draft.theme,
                 draft.title, draft.text, draft.contact, int(draft.contact_consent),
                 COARSE_TIME, now, event_id,
                 canonical_json(draft.place) if draft.place is not None else None, draft.lang))
        return self.proposal(proposal_id)

    def record_signup(self, form: dict, *, consultation_id: str | None, config=None,
                      site_id: str | None = None, meeting_id: str | None = None,
                      lang: str = "fr") -> str:
        """A resident without a phone signs up on the tablet: validated like the hub's form,
        kept only in the outbox until the hub acknowledges it (then sync redacts it)."""
        from .signup import SignupConfig, validate_signup
        draft = validate_signup(config or SignupConfig(), form)
        signup_id = uuid.uuid4().hex
        self._append("signup", {
            "signup_id": signup_id, "consultation_id": consultation_id, "site_id": site_id,
            "meeting_id": meeting_id, "name": draft.name, "contact": draft.contact,
            "consent": True, "age_bracket": draft.age_bracket,
            "neighbourhood": draft.neighbourhood, "lang": lang})
        return signup_id

    def proposal(self, proposal_id: str) -> Proposal:
        row = self.conn.execute(
            "SELECT id, short_code, consultation_id, coalesce(corrected_title, title),"
            " coalesce(corrected_text, text), theme, status, reason, contact, created_at,"
            " answer_status, answer_text, place, lang FROM proposals"
            " WHERE id = ? OR short_code = ?", (proposal_id, proposal_id)).fetchone()
        if row is None:
            raise StoreError(N_("Unknown idea."), "proposal")
        return Proposal(*row[:-2], place=json.loads(row[-2]) if row[-2] else None,
                        lang=row[-1])

    def proposals(self, consultation_id: str, status: str | None = None) -> list[Proposal]:
        # Insertion order (rowid), never the device clock.
        sql = ("SELECT id FROM proposals WHERE consultation_id = ?"
               + (" AND status = ?" if status else "") + " ORDER BY rowid")
        params = [consultation_id] + ([status] if status else [])
        return [self.proposal(r[0]) for r in self.conn.execute(sql, params)]

    def moderate_proposal(self, proposal_id: str, status: str, *, reason: str | None = None,
                          title: str | None = None, text: str | None = None) -> Proposal:
        """Approve or reject an idea (with a reason), or correct its text. Nothing is deleted:
        the original stays in the outbox and in the row."""
        if status not in MODERATION_STATUSES:
            raise ValidationError(N_("Unknown moderation status."), "status")
        current = self.proposal(proposal_id)
        reason = clean_text(reason, field="reason", max_length=500,
                            required=status == "rejected") or None
        title = clean_text(title, field="title", max_length=TITLE_MAX) or None if title else None
        text = clean_text(text, field="text", max_length=TEXT_MAX) or None if text else None
        self._append("proposal_moderated",
                     {"proposal_id": current.id, "status": status, "reason": reason,
                      "corrected_title": title, "corrected_text": text},
                     [("UPDATE proposals SET status = ?, reason = ?,"
                       " corrected_title = coalesce(?, corrected_title),"
                       " corrected_text = coalesce(?, corrected_text) WHERE id = ?",
                       (status, reason, title, text, current.id))])
        return self.proposal(current.id)

    def record_proposal_answer(self, proposal_id: str, answer_status: str,
                               answer_text: str | None) -> None:
        """The platform's answer to an idea, pulled from the hub (not an outbox event)."""
        if answer_status not in ANSWER_STATUSES:
            raise ValidationError(N_("Unknown answer status."), "answer_status")
        self.conn.execute("UPDATE proposals SET answer_status = ?, answer_text = ? WHERE id = ?",
                          (answer_status, answer_text, proposal_id))

    # -- reading: local figures ------------------------------------------------------------

    def results(self, consultation: Consultation) -> dict[str, dict]:
        """The domain's tallies of every question over the answers held on this tablet."""
        return {qid: t.result() for qid, t in self.channel_tallies(consultation).items()}

    def channel_tallies(self, consultation: Consultation) -> dict[str, ChannelTally]:
        """Every question's tally over this tablet's answers and its current counts, with
        the breakdown per channel (app.counts)."""
        tallies = {q.id: ChannelTally(consultation, q) for q in consultation.questions}
        for question_id, value in self.conn.execute(
                "SELECT question_id, value FROM answers WHERE consultation_id = ?",
                (consultation.id,)):
            tally = tallies.get(question_id)
            if tally is not None:
                tally.add(json.loads(value))
        # Closed ballots past the retention, folded by purge_acknowledged.
        for question_id, value, n in self.conn.execute(
                "SELECT question_id, value, n FROM answer_totals WHERE consultation_id = ?",
                (consultation.id,)):
            tally = tallies.get(question_id)
            if tally is not None:
                tally.add(json.loads(value), n)
        for count in self.counts(consultation.id):
            tally = tallies.get(count.question_id)
            if tally is not None:
                tally.add_count(count.counts, count.ballots, count.channel)
        return tallies

    # -- counts typed in by a facilitator (app/counts.py) ---------------------------------

    def record_count(self, consultation: Consultation, question_id: str, channel: str,
                     counts: Any, *, ballots: Any = None, supersedes: str | None = None,
                     site_id: str | None = None, meeting_id: str | None = None) -> TallyCount:
        """Validate and record a paper, show-of-hands or online count; on disk when this
        returns. With `supersedes`, the count corrects an earlier current count of the same
        question: both stay in the outbox, only the new one counts."""
        question, counts, ballots = validate_count(consultation, question_id, channel, counts,
                                                   ballots)
        if supersedes is not None:
            old = self.conn.execute(
                "SELECT consultation_id, question_id, superseded_by FROM tally_counts "
                "WHERE id = ?", (supersedes,)).fetchone() if isinstance(supersedes, str) else None
            if old is None or old[0] != consultation.id or old[1] != question.id:
                raise ValidationError(N_("The count to correct is not a count of this "
                                         "question."), "supersedes")
            if old[2] is not None:
                raise ValidationError(N_("This count was already corrected: correct the "
                                         "latest one."), "supersedes")
        count_id = uuid.uuid4().hex
        now = now_iso()
        payload = {"count_id": count_id, "consultation_id": consultation.id,
                   "consultation_version": consultation.version, "question_id": question.id,
                   "channel": channel, "counts": counts, "ballots": ballots,
                   "supersedes": supersedes, "site_id": site_id, "meeting_id": meeting_id}
        event_id = uuid.uuid4().hex
        with self.transaction() as conn:
            conn.execute("INSERT INTO outbox(event_id, type, payload, recorded_at) "
                         "VALUES (?, ?, ?, ?)",
                         (event_id, COUNT_EVENT, canonical_json(payload), now))
            conn.execute("INSERT INTO tally_counts(id, consultation_id, question_id, channel,"
                         " counts, ballots, supersedes, site_id, meeting_id, recorded_at,"
                         " event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (count_id, consultation.id, question.id, channel,
                          canonical_json(counts), ballots, supersedes, site_id, meeting_id, now,
                          event_id))
            if supersedes is not None:
                changed = conn.execute("UPDATE tally_counts SET superseded_by = ? WHERE id = ?"
                                       " AND superseded_by IS NULL",
                                       (count_id, supersedes)).rowcount
                if changed != 1:
                    raise ValidationError(N_("This count was already corrected: correct the "
                                             "latest one."), "supersedes")
        return self.count(count_id)

    def count(self, count_id: str) -> TallyCount:
        row = self.conn.execute(
            "SELECT id, consultation_id, question_id, channel, counts, ballots, supersedes,"
            " site_id, meeting_id, superseded_by, recorded_at FROM tally_counts WHERE id = ?",
            (count_id,)).fetchone()
        if row is None:
            raise StoreError(N_("Unknown count."), "count")
        return TallyCount(*row[:4], json.loads(row[4]), *row[5:])

    def counts(self, consultation_id: str, question_id: str | None = None, *,
               include_superseded: bool = False) -> list[TallyCount]:
        """The counts of a consultation (or one question), oldest first; only the current
        ones unless `include_superseded`."""
        sql = "SELECT id FROM tally_counts WHERE consultation_id = ?"
        params: list = [consultation_id]
        if question_id is not None:
            sql += " AND question_id = ?"
            params.append(question_id)
        if not include_superseded:
            sql += " AND superseded_by IS NULL"
        return [self.count(r[0]) for r in self.conn.execute(sql + " ORDER BY rowid", params)]

    def figures(self, consultation_id: str, day: date | None = None) -> dict[str, int]:
        """Ballots (today and in all), answers and ideas held on this tablet, those already
        purged after the retention included (as totals). "Today" is the tablet's local day: a
        facilitator counts the evening's meeting, not a UTC day."""
        day = (day or date.today()).isoformat()
        one = lambda sql, *p: self.conn.execute(sql, p).fetchone()[0]  # noqa: E731
        return {
            "ballots": one("SELECT count(*) FROM ballots WHERE consultation_id = ?",
                           consultation_id)
            + one("SELECT coalesce(sum(n), 0) FROM ballot_totals WHERE consultation_id = ?",
                  consultation_id),
            # started_at is kept to the hour in UTC: the local day stays right wherever the
            # offset from UTC is a whole number of hours (France, Italy).
            "ballots_today": one("SELECT count(*) FROM ballots WHERE consultation_id = ?"
                                 " AND date(started_at, 'localtime') = ?", consultation_id, day)
            + one("SELECT coalesce(sum(n), 0) FROM ballot_totals WHERE consultation_id = ?"
                  " AND day = ?", consultation_id, day),
            "answers": one("SELECT count(*) FROM answers WHERE consultation_id = ?",
                           consultation_id)
            + one("SELECT coalesce(sum(n), 0) FROM answer_totals WHERE consultation_id = ?",
                  consultation_id),
            "ideas": one("SELECT count(*) FROM proposals WHERE consultation_id = ?",
                         consultation_id),
        }

    # -- the outbox, for sync --------------------------------------------------------------

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
                self._owe_checkpoint(conn)
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

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    # -- personal data leaves once the hub has it (invariant 5) ---------------------------

    def ensure_secure_delete(self) -> None:
        """Make sure the bytes a redaction frees are overwritten, on this connection (it is a
        per-connection setting); RuntimeError when this SQLite cannot."""
        if self.conn.execute("PRAGMA secure_delete = ON").fetchone()[0] != 1:
            raise RuntimeError("SQLite's secure_delete is not available")

    def redact_signup(self, event: OutboxEvent, kept_payload: dict) -> None:
        """Replace an acknowledged sign-up event's payload with `kept_payload` (its attribution
        only: app.signup.redacted_signup_payload), in one transaction that also notes a WAL
        checkpoint is owed (`checkpoint_redactions`)."""
        self._redact(event.id, kept_payload)

    def redact_idea_contact(self, event: OutboxEvent) -> None:
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
            self._owe_checkpoint(conn)

    @staticmethod
    def _owe_checkpoint(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO meta(key, value) VALUES (?, 'true') ON CONFLICT(key) DO "
                     "UPDATE SET value = 'true'", (REDACTION_CHECKPOINT_OWED,))

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
            self._owe_checkpoint(conn)
        self.checkpoint_redactions()
        log.info("purged %(events)s acknowledged events and %(ballots)s closed ballots", done)
        return done


def _private_folder(folder: Path, *, tighten: bool) -> None:
    """Make `folder` (0700 on POSIX), or tighten an existing one to that when `tighten`."""
    if os.name != "posix":       # Windows: the user's profile folder carries its own ACL
        folder.mkdir(parents=True, exist_ok=True)
        return
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not tighten:
        return
    try:
        if folder.stat().st_mode & 0o077:
            folder.chmod(0o700)
    except OSError as exc:       # owned by someone else, read-only: the owner's choice stands
        log.warning("the store's folder %s stays open to other users of this device (%s)",
                    folder, exc)


def _private_files(database: Path) -> None:
    """The SQLite file (made 0600 before SQLite first opens it, so it is never readable by
    others, and its -wal and -shm get the same mode) and its -wal and -shm tightened to 0600."""
    if os.name != "posix":
        return
    try:
        os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError:
        pass                     # SQLite will say what is wrong with it
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        try:
            if path.exists() and path.stat().st_mode & 0o077:
                path.chmod(0o600)
        except OSError as exc:
            log.warning("%s stays readable by other users of this device (%s)", path.name, exc)
