"""Rehearsal: the facilitator tries the tablet before the session opens (issue 30). While a
rehearsal runs, the kiosk's answers go to `rehearsal_answers`, never to `ballots` or `answers`,
and their events have types of their own (REHEARSAL_ANSWER), each naming the rehearsal it
belongs to: no tally, figure, export, closing or connector reads them, here or at the hub,
which keeps them apart too (server/rehearsal.py). Opening the session (`open_session`) wipes
them and tells the hub, which wipes its copy and refuses any later event of that rehearsal.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from ..answers import validate_answer
from ..canonical import canonical_json
from ..clock import now_iso
from ..counts import ChannelTally
from ..errors import N_, StoreError, ValidationError
from ..model import Consultation
from .core import StoreCore
from .outbox import append_event

REHEARSAL_SETTING = "rehearsal.id"
# The event types of a rehearsal: its start, an answer (value None: withdrawn) and its end,
# when the session opens. The hub's handlers of the real types never see them.
REHEARSAL_STARTED = "rehearsal_started"
REHEARSAL_ANSWER = "rehearsal_answer"
REHEARSAL_ENDED = "rehearsal_ended"


class Rehearsals(StoreCore):
    """The rehearsal's state and answers on this tablet."""

    @property
    def rehearsal_id(self) -> str | None:
        """The rehearsal running on this tablet, or None (the session is open)."""
        return self.get_setting(REHEARSAL_SETTING)

    def start_rehearsal(self) -> str:
        """Put the tablet in rehearsal (a facilitator's choice, before the session opens);
        the rehearsal's ID (the running one when there is one)."""
        running = self.rehearsal_id
        if running is not None:
            return running
        rehearsal_id = uuid.uuid4().hex
        with self.transaction() as conn:
            append_event(conn, REHEARSAL_STARTED, {"rehearsal": rehearsal_id}, now_iso())
            self.set_setting(REHEARSAL_SETTING, rehearsal_id)
        return rehearsal_id

    def record_rehearsal_answer(self, consultation: Consultation, ballot_id: str,
                                question_id: str, value: Any, *,
                                rehearsal_id: str | None = None) -> Any:
        """Validate and keep one rehearsal answer apart; its normal form. `rehearsal_id`: the
        rehearsal the resident's ballot began in; StoreError when it is not the running one
        (the session opened meanwhile: this answer must not count anywhere)."""
        running = self._running(rehearsal_id)
        question = consultation.question(question_id)
        if question is None:
            raise ValidationError(N_("Unknown question."), "question")
        value = validate_answer(consultation, question, value)
        payload = {"rehearsal": running, "ballot_id": ballot_id,
                   "consultation_id": consultation.id,
                   "consultation_version": consultation.version,
                   "question_id": question_id, "value": value}
        with self.transaction() as conn:
            append_event(conn, REHEARSAL_ANSWER, payload, now_iso())
            conn.execute("INSERT INTO rehearsal_answers(ballot_id, question_id, consultation_id,"
                         " value) VALUES (?, ?, ?, ?) ON CONFLICT(ballot_id, question_id)"
                         " DO UPDATE SET value = excluded.value",
                         (ballot_id, question_id, consultation.id, canonical_json(value)))
        return value

    def withdraw_rehearsal_answer(self, consultation: Consultation, ballot_id: str,
                                  question_id: str, *, rehearsal_id: str | None = None) -> None:
        """A rehearsal answer cleared (the hub learns it as an answer of value None)."""
        running = self._running(rehearsal_id)
        payload = {"rehearsal": running, "ballot_id": ballot_id,
                   "consultation_id": consultation.id,
                   "consultation_version": consultation.version,
                   "question_id": question_id, "value": None}
        with self.transaction() as conn:
            append_event(conn, REHEARSAL_ANSWER, payload, now_iso())
            conn.execute("DELETE FROM rehearsal_answers WHERE ballot_id = ? AND question_id = ?",
                         (ballot_id, question_id))

    def open_session(self) -> int:
        """The facilitator opens the session: the rehearsal ends, its answers are wiped here,
        and an event tells the hub to wipe its copy (and refuse any later event of it). The
        number of rehearsal answers wiped; 0 when no rehearsal was running."""
        running = self.rehearsal_id
        if running is None:
            return 0
        with self.transaction() as conn:
            wiped = conn.execute("DELETE FROM rehearsal_answers").rowcount
            append_event(conn, REHEARSAL_ENDED, {"rehearsal": running}, now_iso())
            conn.execute("DELETE FROM meta WHERE key = ?", (REHEARSAL_SETTING,))
        return wiped

    def rehearsal_tallies(self, consultation: Consultation) -> dict[str, ChannelTally]:
        """The rehearsal's tally of every question (for a projector in rehearsal): only
        rehearsal answers, never a real one."""
        tallies = {q.id: ChannelTally(consultation, q) for q in consultation.questions}
        for question_id, value in self.conn.execute(
                "SELECT question_id, value FROM rehearsal_answers WHERE consultation_id = ?",
                (consultation.id,)):
            tally = tallies.get(question_id)
            if tally is not None:
                tally.add(json.loads(value))
        return tallies

    def rehearsal_ballots(self, consultation_id: str) -> int:
        """How many rehearsal ballots answered at least one question."""
        return self.conn.execute("SELECT count(DISTINCT ballot_id) FROM rehearsal_answers"
                                 " WHERE consultation_id = ?", (consultation_id,)).fetchone()[0]

    def _running(self, rehearsal_id: str | None) -> str:
        running = self.rehearsal_id
        if running is None or (rehearsal_id is not None and rehearsal_id != running):
            raise StoreError(N_("The rehearsal is over: this answer was not kept."), "rehearsal")
        return running
