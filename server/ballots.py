"""Ballots and answers at the hub: the ingest extension for `ballot_started`, `answer`,
`answer_withdrawn` and `ballot_closed` (server.ingest).

A ballot belongs to the device whose events made it; within a ballot, for each question the
answer with the highest `seq` of that device wins, whatever the order of arrival. A ballot's
site is its device's enrollment site, its meeting one of that site's (server.ingest).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, update

from app.answers import validate_answer
from app.counts import ballot_channel
from app.canonical import canonical_json
from app.errors import N_
from app.model import BALLOT_MODES, Consultation

from . import db
from .errors import EventRejected
from .results import AnswerDelta, BallotDelta
from .ingest import (BUNDLE_IDENT, AnswerUse, Batch, Event, IngestExtension,
                     meeting_at_site)

BALLOT_EVENTS = ("ballot_started", "answer", "answer_withdrawn", "ballot_closed")


@dataclass
class BallotBatch:
    """One batch's ballots and answers: what is stored already, and what to write."""
    known: dict[str, dict] = field(default_factory=dict)    # stored: consultation_id, device_id
    new: dict[str, dict] = field(default_factory=dict)      # ballots this batch makes
    updates: dict[str, dict] = field(default_factory=dict)  # stored ballots a start fills in
    closed: dict[str, tuple[int, str]] = field(default_factory=dict)
    answers: dict[tuple[str, str], dict] = field(default_factory=dict)   # current, then updated
    dirty: set[tuple[str, str]] = field(default_factory=set)

    def owner(self, ballot_id: str) -> dict | None:
        return self.new.get(ballot_id) or self.known.get(ballot_id)


def extension() -> IngestExtension[BallotBatch]:
    ballots = IngestExtension("ballots", BallotBatch, preload=preload, write=write)
    ballots.handles("ballot_started", apply_ballot_started)
    ballots.handles("answer", apply_answer)
    ballots.handles("answer_withdrawn", apply_answer_withdrawn)
    ballots.handles("ballot_closed", apply_ballot_closed)
    return ballots


def preload(batch: Batch, state: BallotBatch, events: list[Event]) -> None:
    """The stored ballots the batch names, and the current answers in them."""
    ballot_ids = {e.payload["ballot_id"] for e in events
                  if e.type in BALLOT_EVENTS and isinstance(e.payload.get("ballot_id"), str)}
    for chunk in db.in_chunks(sorted(ballot_ids)):
        for row in batch.conn.execute(
                select(db.ballots.c.id, db.ballots.c.consultation_id, db.ballots.c.device_id,
                       db.ballots.c.mode)
                .where(db.ballots.c.id.in_(chunk))):
            state.known[row.id] = {"consultation_id": row.consultation_id,
                                   "device_id": row.device_id, "mode": row.mode}
        # The device of each current answer: seq numbers compare within one device only.
        for row in batch.conn.execute(
                select(db.ballot_answers, db.events.c.device_id)
                .select_from(db.ballot_answers.outerjoin(
                    db.events, db.events.c.id == db.ballot_answers.c.event_id))
                .where(db.ballot_answers.c.ballot_id.in_(chunk))):
            state.answers[(row.ballot_id, row.question_id)] = {
                "consultation_id": row.consultation_id, "seq": row.seq,
                "event_id": row.event_id, "device_id": row.device_id,
                "value": None if row.value is None else json.loads(row.value)}


def check_ballot(batch: Batch, state: BallotBatch, ballot_id: str,
                 consultation_id: str | None) -> bool:
    """Whether the ballot exists; EventRejected when it is another device's (only the device
    that started a ballot may answer, withdraw or close in it) or another consultation's."""
    owner = state.owner(ballot_id)
    if owner is None:
        return False
    if owner["device_id"] != batch.device_id:
        raise EventRejected(N_("This ballot belongs to another device."), "payload.ballot_id")
    if consultation_id is not None and owner["consultation_id"] != consultation_id:
        raise EventRejected(N_("This ballot belongs to another consultation."),
                            "payload.ballot_id")
    return True


def _new_ballot(batch: Batch, state: BallotBatch, ballot_id: str, consultation_id: str,
                details: dict) -> None:
    """A ballot owned by the sending device (the only one that may answer in it)."""
    state.new[ballot_id] = {
        "id": ballot_id, "consultation_id": consultation_id, "device_id": batch.device_id,
        "closed_reason": None, **details}
    batch.deltas.append(BallotDelta(consultation_id, channel=ballot_channel(batch.device_id)))


def _adopt_ballot(batch: Batch, state: BallotBatch, ballot_id: str, consultation: Consultation,
                  payload: dict) -> None:
    """An answer to a ballot whose start has not arrived yet: the ballot is made now, owned by
    the sender, from what the answer says; its start, when it comes, fills in the rest."""
    if ballot_id in state.known or ballot_id in state.new:
        return
    version = payload.get("consultation_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        version = consultation.version
    meeting = payload.get("meeting_id")
    meeting = meeting if isinstance(meeting, str) and BUNDLE_IDENT.match(meeting) else None
    _new_ballot(batch, state, ballot_id, consultation.id, {
        "consultation_version": version, "site_id": batch.site_id,
        "meeting_id": meeting_at_site(consultation, meeting, batch.site_id),
        "mode": "identified" if payload.get("card") is not None else "open"})


def _set_answer(batch: Batch, state: BallotBatch, consultation_id: str, ballot_id: str,
                question_id: str, event: Event, value: Any) -> None:
    key = (ballot_id, question_id)
    current = state.answers.get(key)
    if current is not None and current["seq"] >= event.seq \
            and current.get("device_id") == batch.device_id:
        return  # a later answer (or withdrawal) of this question is already in
    # (An answer another device once wrote into this ballot, before ballots had owners, has no
    # say against its owner's: sequence numbers are per device.)
    # A ballot's answers are its owner's, so of its owner's channel (app.counts.ballot_channel).
    channel = ballot_channel(batch.device_id)
    if current is not None and current["value"] is not None:
        batch.deltas.append(AnswerDelta(current["consultation_id"], question_id,
                                         current["value"], -1, channel))
    if value is not None:
        batch.deltas.append(AnswerDelta(consultation_id, question_id, value, channel=channel))
    state.answers[key] = {"consultation_id": consultation_id, "seq": event.seq,
                          "event_id": event.id, "device_id": batch.device_id, "value": value}
    state.dirty.add(key)


def apply_ballot_started(batch: Batch, state: BallotBatch, event: Event) -> None:
    payload = event.payload
    consultation = batch.consultation(payload)
    ballot_id = batch.ident(payload, "ballot_id")
    mode = payload.get("mode", "open")
    if mode not in BALLOT_MODES:
        raise EventRejected(N_("Unknown ballot mode."), "payload.mode")
    version = payload.get("consultation_version", consultation.version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise EventRejected(N_("A consultation version is expected here."),
                            "payload.consultation_version")
    details = {"consultation_version": version, "site_id": batch.site_id,
               "meeting_id": batch.meeting(consultation, payload), "mode": mode}
    if check_ballot(batch, state, ballot_id, consultation.id):
        # The same ballot announced again, or first seen through one of its answers (events may
        # arrive in any order): counted once, and its start says how it was held — never
        # turning a ballot held with cards into one without, nor the other way round (its
        # answers were checked, or not, for a card).
        if (state.owner(ballot_id).get("mode") == "identified") != (mode == "identified"):
            raise EventRejected(N_("This ballot was started in another mode."), "payload.mode",
                                code="ballot_mode_changed")
        if ballot_id in state.new:
            state.new[ballot_id].update(details)
        else:
            state.updates[ballot_id] = {"b_id": ballot_id, **{
                "b_" + k: v for k, v in details.items()}}
        return
    _new_ballot(batch, state, ballot_id, consultation.id, details)


def apply_answer(batch: Batch, state: BallotBatch, event: Event) -> None:
    payload = event.payload
    consultation = batch.consultation(payload)
    ballot_id = batch.ident(payload, "ballot_id")
    question_id = payload.get("question_id")
    question = consultation.question(question_id) if isinstance(question_id, str) else None
    if question is None:
        raise EventRejected(N_("Unknown question."), "payload.question_id")
    check_ballot(batch, state, ballot_id, consultation.id)
    value = validate_answer(consultation, question, payload.get("value"))
    owner = state.owner(ballot_id)
    batch.check_answer(AnswerUse(consultation.id, ballot_id, question.id, payload,
                                 mode=owner.get("mode") if owner else None))
    _adopt_ballot(batch, state, ballot_id, consultation, payload)
    _set_answer(batch, state, consultation.id, ballot_id, question.id, event, value)


def apply_answer_withdrawn(batch: Batch, state: BallotBatch, event: Event) -> None:
    payload = event.payload
    consultation = batch.consultation(payload)
    ballot_id = batch.ident(payload, "ballot_id")
    question_id = payload.get("question_id")
    if not isinstance(question_id, str) or not BUNDLE_IDENT.match(question_id):
        raise EventRejected(N_("Unknown question."), "payload.question_id")
    check_ballot(batch, state, ballot_id, consultation.id)
    # In an identified ballot, only the card can withdraw its answer: its proof over the
    # value null (checked as an answer's; the card stays spent on this ballot, whose answer
    # it may give again — one answer per card and question).
    owner = state.owner(ballot_id)
    batch.check_answer(AnswerUse(consultation.id, ballot_id, question_id,
                                 {k: v for k, v in payload.items() if k != "value"},
                                 mode=owner.get("mode") if owner else None))
    _adopt_ballot(batch, state, ballot_id, consultation, payload)
    _set_answer(batch, state, consultation.id, ballot_id, question_id, event, None)


def apply_ballot_closed(batch: Batch, state: BallotBatch, event: Event) -> None:
    payload = event.payload
    ballot_id = batch.ident(payload, "ballot_id")
    reason = payload.get("reason", "finished")
    if not isinstance(reason, str) or not reason or len(reason) > 40:
        raise EventRejected(N_("A reason is expected here."), "payload.reason")
    if check_ballot(batch, state, ballot_id, None):
        # The device may have moved to a site this ballot's consultation is not open to.
        batch.consultation({"consultation_id": state.owner(ballot_id)["consultation_id"]})
    if ballot_id in state.new:
        state.new[ballot_id]["closed_reason"] = reason
    elif ballot_id not in state.closed or state.closed[ballot_id][0] < event.seq:
        # A ballot of this device's in the database, or not arrived yet (then the close updates
        # nothing: answers count either way).
        state.closed[ballot_id] = (event.seq, reason)


def write(batch: Batch, state: BallotBatch) -> None:
    conn, device_id = batch.conn, batch.device_id
    if state.new:
        conn.execute(db.ballots.insert(), list(state.new.values()))
    if state.updates:
        conn.execute(update(db.ballots).where(
            db.ballots.c.id == bindparam("b_id"),
            db.ballots.c.device_id == device_id).values(
            consultation_version=bindparam("b_consultation_version"),
            site_id=bindparam("b_site_id"), meeting_id=bindparam("b_meeting_id"),
            mode=bindparam("b_mode")), list(state.updates.values()))
    if state.closed:
        conn.execute(update(db.ballots).where(
            db.ballots.c.id == bindparam("b_id"),
            db.ballots.c.device_id == device_id)
            .values(closed_reason=bindparam("b_reason")),
            [{"b_id": k, "b_reason": v[1]} for k, v in state.closed.items()])
    if state.dirty:
        rows = [{"ballot_id": b, "question_id": q,
                 "consultation_id": state.answers[(b, q)]["consultation_id"],
                 "seq": state.answers[(b, q)]["seq"],
                 "event_id": state.answers[(b, q)]["event_id"],
                 "value": None if state.answers[(b, q)]["value"] is None
                 else canonical_json(state.answers[(b, q)]["value"])}
                for b, q in sorted(state.dirty)]
        stmt = db.dialect_insert(conn, db.ballot_answers)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["ballot_id", "question_id"],
            set_={"consultation_id": stmt.excluded.consultation_id, "seq": stmt.excluded.seq,
                  "event_id": stmt.excluded.event_id, "value": stmt.excluded.value}), rows)
