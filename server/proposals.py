"""Ideas on the hub as staff and devices read them, and staff's public answers to them
(docs/protocol.md, "Ideas"); server.ideas stores them as they come in."""
from __future__ import annotations

import json

from sqlalchemy import select, update

from app.clock import now_iso
from app.errors import N_
from app.geo import round_position
from app.proposals import ANSWER_STATUSES
from app.text import clean_text

from . import db
from .errors import HubError


class IdeaRegister:
    """The ideas collected, and staff's answers to them, behind `hub`."""

    def __init__(self, hub):
        self.hub = hub

    def proposals(self, consultation_id: str | None = None, *, public: bool = False) -> list[dict]:
        """Ideas; `public` keeps approved ones only, without any personal data."""
        query = select(db.proposals).order_by(db.proposals.c.created_at, db.proposals.c.id)
        if consultation_id is not None:
            query = query.where(db.proposals.c.consultation_id == consultation_id)
        if public:
            query = query.where(db.proposals.c.status == "approved")
        with self.hub.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for r in rows:
            item = {"id": r.id, "short_code": r.short_code, "consultation_id": r.consultation_id,
                    "site_id": r.site_id, "meeting_id": r.meeting_id, "theme": r.theme,
                    "title": r.corrected_title or r.title, "text": r.corrected_text or r.text,
                    "status": r.status, "answer_status": r.answer_status,
                    "answer_text": r.answer_text,
                    # Public: the hour only. The exact arrival of an idea, with its site and
                    # meeting, names its author to anyone who saw who stood at the tablet.
                    "created_at": db.hour(r.created_at) if public else r.created_at,
                    "place": self._idea_place(r, public), "lang": r.lang}
            if not public:
                item.update({"device_id": r.device_id, "reason": r.reason,
                             "original_title": r.title, "original_text": r.text,
                             "contact": r.contact if r.contact_consent else None,
                             "answered_at": r.answered_at})
            out.append(item)
        return out

    def _idea_place(self, row, public: bool) -> dict | None:
        """Where an idea would happen. A point is stored to 5 decimals (about 1 m); what the
        public reads is rounded to the map's export precision: a pin may be someone's home."""
        if not row.place:
            return None
        place = json.loads(row.place)
        if public and "lon" in place:
            consultation = self.hub.consultation(row.consultation_id)
            decimals = consultation.map.export_decimals if consultation and consultation.map \
                else 2
            place["lon"], place["lat"] = round_position(place["lon"], place["lat"], decimals)
        return place

    def answer_proposal(self, proposal_id: str, answer_status: object,
                        answer_text: object) -> dict:
        """Staff's public answer to an idea, by ID, or by short code when one idea only has
        it: codes are made offline on each tablet and may repeat across tablets, so an
        ambiguous code is refused (409 proposal_code_ambiguous, with the IDs it names)."""
        if answer_status not in ANSWER_STATUSES:
            raise HubError(N_("Unknown answer status."), field="answer_status")
        text = clean_text(answer_text if answer_text is not None else "", field="answer_text",
                          max_length=4000) or None
        with self.hub.unit_of_work() as uow:
            conn = uow.conn
            row = conn.execute(select(db.proposals.c.id).where(
                db.proposals.c.id == str(proposal_id))).first()
            if row is None:
                named = conn.execute(select(db.proposals.c.id).where(
                    db.proposals.c.short_code == str(proposal_id).upper())
                    .order_by(db.proposals.c.id)).scalars().all()
                if len(named) > 1:
                    raise HubError(
                        N_("Several ideas have the code {short_code}: answer by ID ({ids})."),
                        status=409, code="proposal_code_ambiguous", field="proposal_id",
                        details={"ids": named}, short_code=str(proposal_id).upper(),
                        ids=", ".join(named))
                row = conn.execute(select(db.proposals.c.id).where(
                    db.proposals.c.id == named[0])).first() if named else None
            if row is None:
                raise HubError(N_("Unknown idea."), status=404, code="proposal_not_found")
            cursor = conn.execute(update(db.counters).where(db.counters.c.name == "answers")
                                  .values(value=db.counters.c.value + 1)
                                  .returning(db.counters.c.value)).scalar()
            conn.execute(update(db.proposals).where(db.proposals.c.id == row.id).values(
                answer_status=answer_status, answer_text=text, answer_cursor=cursor,
                answered_at=now_iso()))
        return {"proposal_id": row.id, "answer_status": answer_status, "answer_text": text,
                "cursor": cursor}

    def answers_since(self, device: dict, since: int, limit: int = 500) -> dict:
        with self.hub.engine.connect() as conn:
            rows = conn.execute(
                select(db.proposals.c.id, db.proposals.c.short_code,
                       db.proposals.c.answer_status, db.proposals.c.answer_text,
                       db.proposals.c.answer_cursor, db.proposals.c.status)
                .where(db.proposals.c.device_id == device["id"],
                       db.proposals.c.answer_cursor > since)
                .order_by(db.proposals.c.answer_cursor).limit(limit)).all()
        answers = [{"proposal_id": r.id, "short_code": r.short_code,
                    "answer_status": r.answer_status, "answer_text": r.answer_text,
                    "status": r.status, "cursor": r.answer_cursor} for r in rows]
        return {"cursor": answers[-1]["cursor"] if answers else since, "answers": answers}
