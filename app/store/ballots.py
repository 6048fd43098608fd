"""Ballots (one participant's answers in one kiosk session), their answers, and the uses of
participation cards in the identified mode. Every write records its event in the outbox in the
same transaction; it is on disk when the call returns (invariant 1). The local copies of
residents' times are kept to the hour (issue 13)."""
from __future__ import annotations

import json
import sqlite3
import uuid
from typing import TYPE_CHECKING, Any

from ..answers import validate_answer
from ..canonical import canonical_json
from ..clock import now_iso
from ..errors import N_, StoreError, ValidationError
from ..migrations import COARSE_TIME
from ..model import BALLOT_MODES, Consultation
from .core import StoreCore
from .outbox import append_event

if TYPE_CHECKING:
    from ..cards import Card


class Ballots(StoreCore):
    """Ballots, answers and card uses."""

    def __init__(self, conn: sqlite3.Connection):
        super().__init__(conn)
        # ballot ID -> (consultation ID, version, site ID, meeting ID) of the ballots this
        # store opened or read while open: answers do not read the ballot again.
        self._open_ballots: dict[str, tuple] = {}

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
        with self.transaction() as conn:
            append_event(conn, "ballot_started", payload, started)
            conn.execute("INSERT INTO ballots(id, consultation_id, consultation_version,"
                         " site_id, meeting_id, mode, started_at)"
                         " VALUES (?, ?, ?, ?, ?, ?, strftime(?, ?))",
                         (ballot_id, consultation.id, consultation.version, site_id,
                          meeting_id, mode, COARSE_TIME, started))
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
            event_id = append_event(conn, "answer", payload, now)
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

    def withdraw_answer(self, ballot_id: str, question_id: str, *,
                        card: "Card | None" = None) -> None:
        """The resident went back and cleared an answer: it no longer counts. In the
        identified mode, `card` signs the withdrawal (a proof over the value null): the hub
        takes no withdrawal of a card's answer that the card did not sign."""
        consultation_id = self._ballot(ballot_id)[0]
        payload = {"ballot_id": ballot_id, "question_id": question_id,
                   "consultation_id": consultation_id}
        if card is not None:
            payload["card"] = card.lookup
            payload["proof"] = card.proof(question_id, ballot_id, None)
        with self.transaction() as conn:
            append_event(conn, "answer_withdrawn", payload, now_iso())
            conn.execute("DELETE FROM answers WHERE ballot_id = ? AND question_id = ?",
                         (ballot_id, question_id))

    def close_ballot(self, ballot_id: str, *, reason: str = "finished") -> None:
        """Close a ballot: finished by the resident, or abandoned (idle reset). Its answers
        count either way."""
        self._ballot(ballot_id)
        now = now_iso()
        with self.transaction() as conn:
            append_event(conn, "ballot_closed", {"ballot_id": ballot_id, "reason": reason}, now)
            conn.execute("UPDATE ballots SET status = ?, closed_at = strftime(?, ?) WHERE id = ?",
                         (reason, COARSE_TIME, now, ballot_id))
        self._open_ballots.pop(ballot_id, None)

    def answers_of(self, ballot_id: str) -> dict[str, Any]:
        return {row["question_id"]: json.loads(row["value"])
                for row in self.db.query("SELECT question_id, value FROM answers "
                                         "WHERE ballot_id = ?", [ballot_id])}
