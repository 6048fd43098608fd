"""The hub's side of channels, independent of HTTP.

Counts (app/counts.py) arrive two ways: as `tally_count` events pushed by a facilitator's
tablet (paper ballot boxes, raised colour cards), and as online totals imported by staff from
the central platform (`import_online_counts`, CLI `import-online-counts`, admin API). Either
way a count is a row of `tally_counts` that is never changed but for `superseded_by`: a
correction is a new count naming the one it supersedes, and the tallies take the old one away
and add the new one (server.results). Pushed counts come in through the ingest extension
`count_extension()` (server.ingest); the projector's controls are server.display_controls'.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import select, update

from app.canonical import canonical_json
from app.clock import now_iso
from app.counts import COUNT_EVENT, validate_count
from app.errors import N_, ValidationError

from . import db
from .errors import EventRejected, HubError
from .ingest import Batch, Event, IngestExtension
from .results import CountDelta

STAFF_DEVICE = "staff"
MAX_ONLINE_QUESTIONS = 500


# -- counts pushed by tablets ---------------------------------------------------------------------

@dataclass
class CountBatch:
    """One batch's counts: the rows it brings, and stored counts it supersedes."""
    rows: dict[str, dict] = field(default_factory=dict)
    superseded: dict[str, str] = field(default_factory=dict)   # stored count -> its correction


def count_extension() -> IngestExtension[CountBatch]:
    counts = IngestExtension("channels", CountBatch, write=write_counts)
    counts.handles(COUNT_EVENT, apply_count_event)
    return counts


def _row(batch: Batch, state: CountBatch, count_id: str) -> dict | None:
    """A count as this transaction sees it: written in this batch, or in the database."""
    if count_id in state.rows:
        return state.rows[count_id]
    row = batch.conn.execute(select(db.tally_counts).where(
        db.tally_counts.c.id == count_id)).first()
    if row is None:
        return None
    found = dict(row._mapping)
    if count_id in state.superseded:
        found["superseded_by"] = state.superseded[count_id]
    return found


def _successor(batch: Batch, state: CountBatch, count_id: str) -> str | None:
    """A count already received from this device that corrects `count_id` (a correction may
    arrive first). Another device's count naming it corrects nothing."""
    device_id = batch.device_id
    for row in state.rows.values():
        if row["supersedes"] == count_id and row["device_id"] == device_id:
            return row["id"]
    return batch.conn.execute(select(db.tally_counts.c.id).where(
        db.tally_counts.c.supersedes == count_id,
        db.tally_counts.c.device_id == device_id)).scalar()


def apply_count_event(batch: Batch, state: CountBatch, event: Event) -> None:
    """Validate a `tally_count` event and record its row and its tally deltas."""
    payload = event.payload
    consultation = batch.consultation(payload)
    count_id = batch.ident(payload, "count_id")
    question, counts, ballots = validate_count(
        consultation, payload.get("question_id"), payload.get("channel"),
        payload.get("counts"), payload.get("ballots"))
    supersedes = payload.get("supersedes")
    if supersedes is not None:
        supersedes = batch.ident(payload, "supersedes")
        if supersedes == count_id:
            raise EventRejected(N_("A count cannot correct itself."), "payload.supersedes")
    site_id, meeting_id = batch.site_id, batch.meeting(consultation, payload)
    device_id = batch.device_id
    same = _row(batch, state, count_id)
    if same is not None:
        if same["device_id"] != device_id:
            raise EventRejected(N_("This count was recorded by another device."),
                                "payload.count_id")
        return  # the same count announced by another event: counted once
    channel = payload["channel"]
    old = _row(batch, state, supersedes) if supersedes else None
    if old is not None:
        if old["device_id"] != device_id:
            # Only the tablet that typed a count corrects it (staff's online counts are
            # replaced by the next import).
            raise EventRejected(N_("This count was recorded by another device."),
                                "payload.supersedes")
        if old["consultation_id"] != consultation.id or old["question_id"] != question.id:
            raise EventRejected(N_("The count to correct is not a count of this question."),
                                "payload.supersedes")
        if old["superseded_by"] is not None and old["superseded_by"] != count_id:
            raise EventRejected(N_("This count was already corrected: correct the latest one."),
                                "payload.supersedes")
    successor = _successor(batch, state, count_id)
    row = {"id": count_id, "consultation_id": consultation.id, "question_id": question.id,
           "channel": channel, "counts": canonical_json(counts), "ballots": ballots,
           "supersedes": supersedes, "superseded_by": successor,
           "device_id": device_id, "site_id": site_id, "meeting_id": meeting_id,
           "event_id": event.id, "received_at": batch.now}
    state.rows[count_id] = row
    if old is not None:
        was_current = old["superseded_by"] is None
        if old["id"] in state.rows:
            state.rows[old["id"]]["superseded_by"] = count_id
        else:
            state.superseded[old["id"]] = count_id
        if was_current:
            batch.deltas.append(CountDelta(consultation.id, question.id, old["channel"],
                                            json.loads(old["counts"]), old["ballots"], -1))
    if successor is None:
        batch.deltas.append(CountDelta(consultation.id, question.id, channel, counts, ballots))


def write_counts(batch: Batch, state: CountBatch) -> None:
    """Write this batch's counts (inside the batch's transaction)."""
    if state.rows:
        batch.conn.execute(db.tally_counts.insert(), list(state.rows.values()))
    for count_id, by in state.superseded.items():
        batch.conn.execute(update(db.tally_counts).where(db.tally_counts.c.id == count_id)
                           .values(superseded_by=by))


# -- online counts imported by staff ------------------------------------------------------------

def import_online_counts(hub, consultation_id: str, counts_by_question: Any) -> dict:
    """The central platform's online votes, as totals per question:
    `{question_id: counts}` in app/counts.py's normal forms (or `{question_id: {"counts": …,
    "ballots": n}}`). Each import replaces the previous online count of each question it
    names: the old count is kept, superseded. All or nothing: one bad question refuses the
    whole import with its reason. Returns what was recorded."""
    consultation = hub.consultation(consultation_id) if isinstance(consultation_id, str) else None
    if consultation is None:
        raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
    if not isinstance(counts_by_question, Mapping) or not counts_by_question:
        raise HubError(N_("Counts per question are expected."),
                       field="counts")
    if len(counts_by_question) > MAX_ONLINE_QUESTIONS:
        raise HubError(N_("Too many questions in one import."), field="counts")
    checked = []
    for question_id, entry in counts_by_question.items():
        ballots = None
        if isinstance(entry, Mapping) and "counts" in entry:
            entry, ballots = entry.get("counts"), entry.get("ballots")
        try:
            question, counts, ballots = validate_count(consultation, question_id, "online",
                                                       entry, ballots)
        except ValidationError as exc:
            field = f"{str(question_id)[:64]}.{exc.field}"
            raise HubError(exc.message, field=field, **exc.params) from None
        checked.append((question, counts, ballots))
    now = now_iso()
    recorded = []
    with hub.unit_of_work() as uow:
        conn = uow.conn
        for question, counts, ballots in checked:
            previous = conn.execute(select(db.tally_counts).where(
                db.tally_counts.c.consultation_id == consultation.id,
                db.tally_counts.c.question_id == question.id,
                db.tally_counts.c.channel == "online",
                db.tally_counts.c.device_id == STAFF_DEVICE,
                db.tally_counts.c.superseded_by.is_(None))).first()
            count_id = uuid.uuid4().hex
            conn.execute(db.tally_counts.insert(), [{
                "id": count_id, "consultation_id": consultation.id,
                "question_id": question.id, "channel": "online",
                "counts": canonical_json(counts), "ballots": ballots,
                "supersedes": previous.id if previous else None, "superseded_by": None,
                "device_id": STAFF_DEVICE, "site_id": None, "meeting_id": None,
                "event_id": None, "received_at": now}])
            if previous is not None:
                conn.execute(update(db.tally_counts).where(
                    db.tally_counts.c.id == previous.id).values(superseded_by=count_id))
                uow.tally(CountDelta(consultation.id, question.id, "online",
                                     json.loads(previous.counts), previous.ballots, -1))
            uow.tally(CountDelta(consultation.id, question.id, "online", counts, ballots))
            recorded.append({"question_id": question.id, "count_id": count_id,
                             "ballots": ballots,
                             "supersedes": previous.id if previous else None})
    return {"consultation_id": consultation.id, "counts": recorded}


def counts_of(hub, consultation_id: str, *, include_superseded: bool = True) -> list[dict]:
    """Every count of a consultation (for staff and exports): nothing personal in them."""
    query = select(db.tally_counts).where(db.tally_counts.c.consultation_id == consultation_id)
    if not include_superseded:
        query = query.where(db.tally_counts.c.superseded_by.is_(None))
    with hub.engine.connect() as conn:
        rows = conn.execute(query.order_by(db.tally_counts.c.received_at,
                                           db.tally_counts.c.id)).all()
    return [{"count_id": r.id, "question_id": r.question_id, "channel": r.channel,
             "counts": json.loads(r.counts), "ballots": r.ballots, "supersedes": r.supersedes,
             "superseded_by": r.superseded_by, "site_id": r.site_id,
             "meeting_id": r.meeting_id, "received_at": r.received_at} for r in rows]
