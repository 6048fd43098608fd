"""Rehearsal at the hub (issue 30): the ingest extension for a tablet's rehearsal events
(app/store/rehearsal.py) and the rehearsal's own tally, for a projector in rehearsal.

Kept apart by construction: rehearsal events are handled `kept_apart` (server.ingest), so they
never enter `events` (what closings digest and the relay forwards), and their answers live in
`rehearsal_answers`, never in `ballots` or `ballot_answers` (what tallies, exports, counts and
connectors read). No rehearsal handler makes a tally delta.

`rehearsal_ended` (the facilitator opened the session) wipes the rehearsal's answers and keeps
its row as ended: any later event of it, a replay or a tablet that was offline, is refused
(`rehearsal_over`) and counts nowhere.

For other parts of the hub (the phone pages, the projector's QR views): `Rehearsal.running(
site_id)` says whether a tablet of that site (or of any site, None) is in rehearsal now.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update

from app.answers import validate_answer
from app.canonical import compact_json
from app.counts import ChannelTally, participants
from app.errors import N_, ValidationError
from app.store.rehearsal import REHEARSAL_ANSWER, REHEARSAL_ENDED, REHEARSAL_STARTED

from . import PROTOCOL_VERSION, db
from .errors import EventRejected
from .ingest import Batch, Event, IngestExtension

REHEARSAL_EVENTS = (REHEARSAL_STARTED, REHEARSAL_ANSWER, REHEARSAL_ENDED)
REHEARSAL_OVER = N_("This rehearsal is over (the session is open): its answers count nowhere.")
PHONES_IN_REHEARSAL = N_("This is a rehearsal: answers from phones are not counted. Wait for "
                         "the facilitator to open the session.")


def phone_check(hub, opening, question_id: str) -> None:
    """A phone answer to questions a tablet opened to phones while in rehearsal is refused as
    long as a tablet of the site is still in rehearsal: it would count for real (phone answers
    are ordinary ballots, never wiped with the rehearsal). Once the session opens, the same
    opening takes answers."""
    if opening.rehearsal and hub.rehearsal.running(opening.site_id):
        from .phone_ballot import PhoneRefused
        raise PhoneRefused(PHONES_IN_REHEARSAL, "rehearsal_running", status=409)


@dataclass
class RehearsalBatch:
    """One batch's rehearsals: those stored, and what to write."""
    known: dict[str, dict] = field(default_factory=dict)    # id → device_id, ended_at
    new: dict[str, dict] = field(default_factory=dict)      # rehearsals this batch starts
    answers: dict[tuple[str, str, str], dict] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)


def extension(hub=None) -> IngestExtension[RehearsalBatch]:
    """The ingest extension; with `hub`, a rehearsal answer given on a draft version this
    device tries (server.content, import_draft) is checked against that draft."""
    from .phone_ballot import register_answer_check
    register_answer_check(phone_check)
    rehearsal = IngestExtension("rehearsal", RehearsalBatch, preload=preload, write=write)
    rehearsal.handles(REHEARSAL_STARTED, apply_started, kept_apart=True)
    rehearsal.handles(REHEARSAL_ANSWER,
                      lambda batch, state, event: apply_answer(batch, state, event, hub),
                      kept_apart=True, stored_payload=_without_value)
    rehearsal.handles(REHEARSAL_ENDED, apply_ended, kept_apart=True)
    return rehearsal


def _without_value(payload: dict) -> dict:
    """What an event kept for review keeps of a rehearsal answer: not the answer."""
    return {k: v for k, v in payload.items() if k != "value"}


def preload(batch: Batch, state: RehearsalBatch, events: list[Event]) -> None:
    ids = {e.payload["rehearsal"] for e in events
           if e.type in REHEARSAL_EVENTS and isinstance(e.payload.get("rehearsal"), str)}
    for chunk in db.in_chunks(sorted(ids)):
        for row in batch.conn.execute(
                select(db.rehearsals.c.id, db.rehearsals.c.device_id,
                       db.rehearsals.c.ended_at).where(db.rehearsals.c.id.in_(chunk))):
            state.known[row.id] = {"device_id": row.device_id, "ended_at": row.ended_at}


def _rehearsal(batch: Batch, state: RehearsalBatch, event: Event) -> str:
    """The event's rehearsal, made when new; EventRejected when it is another device's or
    over."""
    rehearsal_id = batch.ident(event.payload, "rehearsal")
    held = state.known.get(rehearsal_id) or state.new.get(rehearsal_id)
    if held is None:
        state.new[rehearsal_id] = {"device_id": batch.device_id, "ended_at": None}
        return rehearsal_id
    if held["device_id"] != batch.device_id:
        raise EventRejected(N_("This rehearsal belongs to another device."),
                            "payload.rehearsal", code="rehearsal_unknown")
    if held["ended_at"] is not None or rehearsal_id in state.ended:
        raise EventRejected(REHEARSAL_OVER, "payload.rehearsal", code="rehearsal_over")
    return rehearsal_id


def apply_started(batch: Batch, state: RehearsalBatch, event: Event) -> None:
    _rehearsal(batch, state, event)


def apply_answer(batch: Batch, state: RehearsalBatch, event: Event, hub=None) -> None:
    rehearsal_id = _rehearsal(batch, state, event)
    payload = event.payload
    consultation = _draft(hub, batch, payload) or batch.consultation(payload)
    ballot_id = batch.ident(payload, "ballot_id")
    question_id = payload.get("question_id")
    question = consultation.question(question_id) if isinstance(question_id, str) else None
    if question is None:
        raise EventRejected(N_("Unknown question."), "payload.question_id")
    value = payload.get("value")
    normal = None if value is None else validate_answer(consultation, question, value)
    key = (rehearsal_id, ballot_id, question.id)
    held = state.answers.get(key)
    if held is None or held["seq"] < event.seq:
        state.answers[key] = {"consultation_id": consultation.id, "seq": event.seq,
                              "value": None if normal is None else compact_json(normal)}


def _draft(hub, batch: Batch, payload: dict):
    """The draft version the payload names, when this device tries it now; else None."""
    consultation_id, version = payload.get("consultation_id"), payload.get("consultation_version")
    if hub is None or not isinstance(consultation_id, str) or not isinstance(version, int) \
            or version <= batch.versions.get(consultation_id, 0):
        return None
    row = hub.content.draft_for(consultation_id, batch.device)
    return hub.content.draft_consultation(row) if row is not None and row.version == version \
        else None


def apply_ended(batch: Batch, state: RehearsalBatch, event: Event) -> None:
    state.ended.add(_rehearsal(batch, state, event))


def write(batch: Batch, state: RehearsalBatch) -> None:
    conn = batch.conn
    if state.new:
        conn.execute(db.rehearsals.insert(), [
            {"id": rid, "device_id": r["device_id"], "site_id": batch.site_id,
             "started_at": batch.now} for rid, r in state.new.items()])
    for (rehearsal_id, ballot_id, question_id), answer in state.answers.items():
        if rehearsal_id in state.ended:
            continue
        where = (db.rehearsal_answers.c.rehearsal_id == rehearsal_id,
                 db.rehearsal_answers.c.ballot_id == ballot_id,
                 db.rehearsal_answers.c.question_id == question_id)
        seq = conn.execute(select(db.rehearsal_answers.c.seq).where(*where)).scalar()
        if seq is None:
            conn.execute(db.rehearsal_answers.insert().values(
                rehearsal_id=rehearsal_id, ballot_id=ballot_id, question_id=question_id,
                **answer))
        elif seq < answer["seq"]:
            conn.execute(update(db.rehearsal_answers).where(*where).values(
                seq=answer["seq"], value=answer["value"]))
    if state.ended:
        ended = sorted(state.ended)
        conn.execute(delete(db.rehearsal_answers).where(
            db.rehearsal_answers.c.rehearsal_id.in_(ended)))
        conn.execute(update(db.rehearsals).where(db.rehearsals.c.id.in_(ended))
                     .values(ended_at=batch.now))


class Rehearsal:
    """What the hub shows of rehearsals: whether one runs, and its tally."""

    def __init__(self, hub):
        self.hub = hub

    def device_running(self, device_id: str) -> bool:
        """Whether this device is in rehearsal now (it gets its draft versions)."""
        with self.hub.engine.connect() as conn:
            return bool(conn.execute(select(func.count()).select_from(db.rehearsals).where(
                db.rehearsals.c.device_id == device_id,
                db.rehearsals.c.ended_at.is_(None))).scalar())

    def running(self, site_id: str | None = None) -> bool:
        """Whether a tablet (of `site_id`, or of any site when None) is in rehearsal now:
        the hook for pages that must mark themselves (phone pages, projector views)."""
        query = select(func.count()).select_from(db.rehearsals).where(
            db.rehearsals.c.ended_at.is_(None))
        if site_id is not None:
            query = query.where(db.rehearsals.c.site_id == site_id)
        with self.hub.engine.connect() as conn:
            return bool(conn.execute(query).scalar())

    def results_body(self, consultation_id: str) -> bytes | None:
        """The rehearsal's results of a consultation, shaped like its real results
        (server.results) and marked `"rehearsal": true`; None when the consultation is
        unknown. Read from `rehearsal_answers` only, at each request (a rehearsal is a few
        dozen taps)."""
        version = self.hub.results.version(consultation_id)
        if version is None:
            return None
        consultation = self.hub.consultation(consultation_id)
        tallies = {q.id: ChannelTally(consultation, q) for q in consultation.questions}
        ballots: set[tuple[str, str]] = set()
        with self.hub.engine.connect() as conn:
            rows = conn.execute(select(
                db.rehearsal_answers.c.rehearsal_id, db.rehearsal_answers.c.ballot_id,
                db.rehearsal_answers.c.question_id, db.rehearsal_answers.c.value).where(
                    db.rehearsal_answers.c.consultation_id == consultation_id,
                    db.rehearsal_answers.c.value.is_not(None))).all()
        for rehearsal_id, ballot_id, question_id, value in rows:
            tally = tallies.get(question_id)
            if tally is None:
                continue
            try:
                tally.add(validate_answer(consultation, tally.question, json.loads(value)))
            except (ValidationError, ValueError, TypeError, KeyError):
                continue       # an answer of an older version: a rehearsal loses nothing
            ballots.add((rehearsal_id, ballot_id))
        body = {"protocol": PROTOCOL_VERSION, "consultation_id": consultation.id,
                "version": consultation.version, "rehearsal": True, "ballots": len(ballots),
                "channels": participants(tallies.values(), len(ballots)),
                "ideas": {"received": 0, "approved": 0},
                "questions": {qid: t.result() for qid, t in tallies.items()}}
        return compact_json(body).encode()
