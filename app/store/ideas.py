"""Ideas (proposals) written on the tablet, their moderation, and the platform's answers to
them pulled from the hub."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from ..canonical import canonical_json
from ..clock import now_iso
from ..errors import N_, StoreError, ValidationError
from ..migrations import COARSE_TIME
from ..model import Consultation
from ..proposals import (ANSWER_STATUSES, MODERATION_STATUSES, TEXT_MAX, TITLE_MAX,
                         new_short_code, validate_proposal)
from ..text import clean_text
from .core import StoreCore
from .outbox import append_event


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


class Ideas(StoreCore):
    """Ideas and their moderation."""

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
        with self.transaction() as conn:
            event_id = append_event(conn, "proposal", payload, now)
            conn.execute(
                "INSERT INTO proposals(id, short_code, consultation_id, site_id, meeting_id,"
                " theme, title, text, contact, contact_consent, created_at, event_id, place,"
                " lang) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, strftime(?, ?), ?, ?, ?)",
                (proposal_id, code, consultation.id, site_id, meeting_id, draft.theme,
                 draft.title, draft.text, draft.contact, int(draft.contact_consent),
                 COARSE_TIME, now, event_id,
                 canonical_json(draft.place) if draft.place is not None else None, draft.lang))
        return self.proposal(proposal_id)

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
        with self.transaction() as conn:
            append_event(conn, "proposal_moderated",
                         {"proposal_id": current.id, "status": status, "reason": reason,
                          "corrected_title": title, "corrected_text": text}, now_iso())
            conn.execute("UPDATE proposals SET status = ?, reason = ?,"
                         " corrected_title = coalesce(?, corrected_title),"
                         " corrected_text = coalesce(?, corrected_text) WHERE id = ?",
                         (status, reason, title, text, current.id))
        return self.proposal(current.id)

    def record_proposal_answer(self, proposal_id: str, answer_status: str,
                               answer_text: str | None) -> None:
        """The platform's answer to an idea, pulled from the hub (not an outbox event)."""
        if answer_status not in ANSWER_STATUSES:
            raise ValidationError(N_("Unknown answer status."), "answer_status")
        self.conn.execute("UPDATE proposals SET answer_status = ?, answer_text = ? WHERE id = ?",
                          (answer_status, answer_text, proposal_id))
