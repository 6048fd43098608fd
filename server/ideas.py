"""Ideas at the hub: the ingest extension for `proposal` and `proposal_moderated`
(server.ingest). An idea belongs to the device that collected it; only that device moderates
it, and its `seq` orders the moderations. The contact, personal data, is kept in `proposals`
only, never in the events table. Staff's answers and the lists of ideas are server.hub's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, func, select, update

from app.canonical import canonical_json
from app.errors import N_
from app.proposals import MODERATION_STATUSES, validate_proposal
from app.text import clean_text

from . import db
from .errors import EventRejected
from .results import IdeaDelta
from .ingest import Batch, Event, IngestExtension, redacted_payload

IDEA_EVENTS = ("proposal", "proposal_moderated")


@dataclass
class IdeaBatch:
    """One batch's ideas: what is stored already, and what to write."""
    known: dict[str, dict] = field(default_factory=dict)        # stored ideas the batch names
    new: dict[str, dict] = field(default_factory=dict)          # ideas this batch brings
    moderations: dict[str, dict] = field(default_factory=dict)  # of stored ideas

    def find(self, proposal_id: str) -> dict | None:
        return self.new.get(proposal_id) or self.known.get(proposal_id)


def extension() -> IngestExtension[IdeaBatch]:
    ideas = IngestExtension("ideas", IdeaBatch, preload=preload, write=write)
    ideas.handles("proposal", apply_proposal, stored_payload=redacted_payload)
    ideas.handles("proposal_moderated", apply_proposal_moderated)
    return ideas


def preload(batch: Batch, state: IdeaBatch, events: list[Event]) -> None:
    proposal_ids = {e.payload["proposal_id"] for e in events
                    if e.type in IDEA_EVENTS and isinstance(e.payload.get("proposal_id"), str)}
    for chunk in db.in_chunks(sorted(proposal_ids)):
        for row in batch.conn.execute(select(
                db.proposals.c.id, db.proposals.c.consultation_id, db.proposals.c.status,
                db.proposals.c.moderation_seq, db.proposals.c.device_id)
                .where(db.proposals.c.id.in_(chunk))):
            state.known[row.id] = dict(row._mapping)


def apply_proposal(batch: Batch, state: IdeaBatch, event: Event) -> None:
    payload = event.payload
    consultation = batch.consultation(payload)
    proposal_id = batch.ident(payload, "proposal_id")
    short_code = payload.get("short_code")
    if not isinstance(short_code, str) or not 1 <= len(short_code) <= 20 \
            or not short_code.isalnum():
        raise EventRejected(N_("A short code is expected here."), "payload.short_code")
    draft = validate_proposal(consultation, title=payload.get("title"),
                              text=payload.get("text"), theme=payload.get("theme"),
                              contact=payload.get("contact"),
                              contact_consent=payload.get("contact_consent") is True,
                              place=payload.get("place"), lang=payload.get("lang"))
    known = state.find(proposal_id)
    if known is not None:
        if known["device_id"] != batch.device_id:
            raise EventRejected(N_("This idea was collected by another device."),
                                "payload.proposal_id")
        return
    state.new[proposal_id] = {
        "id": proposal_id, "short_code": short_code.upper(),
        "consultation_id": consultation.id, "device_id": batch.device_id,
        "site_id": batch.site_id, "meeting_id": batch.meeting(consultation, payload),
        "theme": draft.theme, "title": draft.title, "text": draft.text,
        "contact": draft.contact, "contact_consent": draft.contact_consent,
        "status": "pending", "reason": None, "corrected_title": None,
        "corrected_text": None, "moderation_seq": 0, "answer_status": None,
        "answer_text": None, "answer_cursor": 0, "answered_at": None,
        "created_at": batch.now,
        "place": canonical_json(draft.place) if draft.place is not None else None,
        "lang": draft.lang}
    batch.deltas.append(IdeaDelta(consultation.id, None, "pending"))


def apply_proposal_moderated(batch: Batch, state: IdeaBatch, event: Event) -> None:
    payload, seq = event.payload, event.seq
    proposal_id = batch.ident(payload, "proposal_id")
    status = payload.get("status")
    if status not in MODERATION_STATUSES:
        raise EventRejected(N_("Unknown moderation status."), "payload.status")
    fields = {}
    for key, limit in (("reason", 500), ("corrected_title", 120), ("corrected_text", 2000)):
        value = payload.get(key)
        fields[key] = (clean_text(value, field="payload." + key, max_length=limit) or None
                       if value is not None else None)
    target = state.find(proposal_id)
    if target is None:
        raise EventRejected(N_("Unknown idea."), "payload.proposal_id")
    if target["device_id"] != batch.device_id:
        # Only the facilitator of the tablet that collected an idea moderates it there;
        # moderation_seq is that device's sequence.
        raise EventRejected(N_("This idea was collected by another device."),
                            "payload.proposal_id")
    batch.consultation({"consultation_id": target["consultation_id"]})   # still open here
    if target.get("moderation_seq", 0) >= seq:
        return
    batch.deltas.append(IdeaDelta(target["consultation_id"], target["status"], status))
    target["status"] = status
    target["moderation_seq"] = seq
    if proposal_id in state.new:
        row = state.new[proposal_id]
        row.update(status=status, reason=fields["reason"], moderation_seq=seq)
        row["corrected_title"] = fields["corrected_title"] or row["corrected_title"]
        row["corrected_text"] = fields["corrected_text"] or row["corrected_text"]
    else:
        state.moderations[proposal_id] = {"p_id": proposal_id, "p_status": status,
                                          "p_seq": seq,
                                          **{"p_" + k: v for k, v in fields.items()}}


def write(batch: Batch, state: IdeaBatch) -> None:
    conn = batch.conn
    if state.new:
        conn.execute(db.proposals.insert(), list(state.new.values()))
    if state.moderations:
        conn.execute(update(db.proposals).where(and_(
            db.proposals.c.id == bindparam("p_id"),
            db.proposals.c.moderation_seq < bindparam("p_seq"))).values(
            status=bindparam("p_status"), moderation_seq=bindparam("p_seq"),
            reason=bindparam("p_reason"),
            corrected_title=func.coalesce(bindparam("p_corrected_title"),
                                          db.proposals.c.corrected_title),
            corrected_text=func.coalesce(bindparam("p_corrected_text"),
                                         db.proposals.c.corrected_text)),
            list(state.moderations.values()))


def ideas_by_code(hub, short_code: str, alias: str | None = None) -> list[dict]:
    """The ideas with this short code, for their public page (never the contact). Codes
    are made offline on each tablet and may repeat across tablets: a receipt's `alias`
    (the collecting device's) picks its own."""
    query = select(db.proposals).where(db.proposals.c.short_code == short_code.upper())
    if alias:
        device = hub.device_by_alias(alias)
        if device is not None:
            query = query.where(db.proposals.c.device_id == device["id"])
    with hub.engine.connect() as conn:
        rows = conn.execute(query.order_by(db.proposals.c.created_at,
                                           db.proposals.c.id)).all()
    return [{"id": row.id, "lang": row.lang,
             "short_code": row.short_code, "consultation_id": row.consultation_id,
             "title": row.corrected_title or row.title,
             "text": row.corrected_text or row.text, "status": row.status,
             "answer_status": row.answer_status, "answer_text": row.answer_text,
             "theme": row.theme} for row in rows]
