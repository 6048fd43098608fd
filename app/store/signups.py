"""Sign-ups made on the tablet by residents without a phone: kept only in the outbox until the
hub acknowledges them, then redacted by sync (Retention.redact_signup, invariant 5)."""
from __future__ import annotations

import uuid

from ..clock import now_iso
from .core import StoreCore
from .outbox import append_event


class Signups(StoreCore):
    """Sign-ups."""

    def record_signup(self, form: dict, *, consultation_id: str | None, config=None,
                      site_id: str | None = None, meeting_id: str | None = None,
                      lang: str = "fr") -> str:
        """A resident without a phone signs up on the tablet: validated like the hub's form,
        kept only in the outbox until the hub acknowledges it (then sync redacts it)."""
        from ..signup import SignupConfig, validate_signup
        draft = validate_signup(config or SignupConfig(), form)
        signup_id = uuid.uuid4().hex
        payload = {"signup_id": signup_id, "consultation_id": consultation_id,
                   "site_id": site_id, "meeting_id": meeting_id, "name": draft.name,
                   "contact": draft.contact, "consent": True, "age_bracket": draft.age_bracket,
                   "neighbourhood": draft.neighbourhood, "lang": lang}
        with self.transaction() as conn:
            append_event(conn, "signup", payload, now_iso())
        return signup_id
