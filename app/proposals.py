"""Ideas put forward by residents: what a valid idea is, and its moderation statuses."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from .errors import N_, ValidationError
from .model import Consultation
from .text import clean_text

TITLE_MAX = 120
TEXT_MAX = 2000
CONTACT_MAX = 120
MODERATION_STATUSES = ("pending", "approved", "rejected")
ANSWER_STATUSES = ("received", "under_study", "accepted", "rejected", "done")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 .\-()]{5,22}$")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


@dataclass(frozen=True)
class ProposalDraft:
    title: str
    text: str
    theme: str | None
    contact: str | None
    contact_consent: bool


def validate_proposal(consultation: Consultation, *, title: object, text: object,
                      theme: object = None, contact: object = None,
                      contact_consent: bool = False) -> ProposalDraft:
    """Check an idea as typed; return it cleaned, or raise ValidationError naming the field."""
    title = clean_text(title, field="title", max_length=TITLE_MAX, required=True)
    text = clean_text(text, field="text", max_length=TEXT_MAX, required=True)
    if theme in ("", None):
        theme = None
    elif not isinstance(theme, str) or consultation.theme(theme) is None:
        raise ValidationError(N_("Choose one of the themes."), "theme")
    contact = clean_text(contact, field="contact", max_length=CONTACT_MAX).strip() or None
    if contact is not None:
        if not contact_consent:
            raise ValidationError(
                N_("Tick the consent box to leave a contact, or leave the contact empty."),
                "contact_consent")
        if not (_EMAIL.match(contact) or _PHONE.match(contact)):
            raise ValidationError(N_("Enter an email address or a phone number."), "contact")
    return ProposalDraft(title, text, theme, contact, bool(contact and contact_consent))


def new_short_code(length: int = 6) -> str:
    """A code a resident can read aloud or type to follow their idea."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))
