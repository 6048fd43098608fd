"""Ideas put forward by residents: what a valid idea is, its moderation and answer statuses,
its short code and receipt link, and the words a resident following it reads."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .answers import validate_place
from .codes import new_code, normalize_code
from .errors import N_, ValidationError
from .model import LANGUAGES, Consultation
from .signup import contact_kind
from .text import clean_text

TITLE_MAX = 120
TEXT_MAX = 2000
CONTACT_MAX = 120
MODERATION_STATUSES = ("pending", "approved", "rejected")
ANSWER_STATUSES = ("received", "under_study", "accepted", "rejected", "done")



@dataclass(frozen=True)
class ProposalDraft:
    title: str
    text: str
    theme: str | None
    contact: str | None
    contact_consent: bool
    place: dict[str, Any] | None = None     # where the idea would happen (validate_place)
    lang: str | None = None      # the language it was written in (the kiosk's, then); None: not said


def validate_proposal(consultation: Consultation, *, title: object, text: object,
                      theme: object = None, contact: object = None,
                      contact_consent: bool = False, place: object = None,
                      lang: object = None) -> ProposalDraft:
    """Check an idea as typed; return it cleaned, or raise ValidationError naming the field.
    `place` is optional: where the idea would happen, in a `place` answer's forms (a point on
    the consultation's map, or an area of its perimeter; app.answers.validate_place)."""
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
        if contact_kind(contact) is None:
            raise ValidationError(N_("Enter an email address or a phone number."), "contact")
    if place is not None:
        place = validate_place(consultation, place, "place")
    if lang is not None and lang not in LANGUAGES:
        raise ValidationError(N_("Unknown language: {lang}."), "lang", lang=str(lang)[:20])
    return ProposalDraft(title, text, theme, contact, bool(contact and contact_consent), place,
                         lang)


# The language an idea was written in, as a reader's screen names it ("Proposed in Italian").
WRITTEN_IN = {"fr": N_("Proposed in French"), "it": N_("Proposed in Italian"),
              "en": N_("Proposed in English")}


def written_in(lang: str | None) -> str | None:
    """The msgid naming the language an idea was written in; None when it was not recorded
    (ideas collected before languages were)."""
    return WRITTEN_IN.get(lang) if lang else None


def new_short_code(length: int = 6) -> str:
    """A code a resident can read aloud or type to follow their idea."""
    return new_code(length)


def read_idea_code(text: object) -> str:
    """An idea's short code as a resident typed it (case, spaces and dashes do not matter), or
    ValidationError when it cannot be one."""
    code = normalize_code(text)
    if not 4 <= len(code) <= 20:
        raise ValidationError(N_("An idea's code has 6 letters and digits."), "code")
    return code


def idea_url(hub_url: str, short_code: str) -> str:
    """The address of an idea's public page at the hub (its receipt QR)."""
    return hub_url.rstrip("/") + "/ideas/" + short_code


# What a resident reads about an idea they follow (the same words as its page at the hub).
IDEA_ANSWER_LABELS = {"received": N_("Received"), "under_study": N_("Under study"),
                      "accepted": N_("Accepted"), "rejected": N_("Not retained"),
                      "done": N_("Done")}
IDEA_MODERATION_LABELS = {"pending": N_("Awaiting moderation"), "approved": N_("Published"),
                          "rejected": N_("Not published")}


class _HasStatuses(Protocol):
    status: str
    answer_status: str | None


def idea_status_label(proposal: _HasStatuses) -> str:
    """The msgid of an idea's status: the platform's answer status once there is one, else
    its moderation status."""
    if proposal.answer_status in IDEA_ANSWER_LABELS:
        return IDEA_ANSWER_LABELS[proposal.answer_status]
    return IDEA_MODERATION_LABELS.get(proposal.status, IDEA_MODERATION_LABELS["pending"])
