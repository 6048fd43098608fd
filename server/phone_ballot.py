"""Residents' phones answering the question on screen (docs/protocol.md, "Phones in the
room"), independent of HTTP: what is open to phones, and an answer recorded as a tablet's.

What is open is a display control (app/display.py: `phones`, the questions open now, and
`phones_cards`, whether a participation card is asked): a facilitator's tablet or staff open
and close it as they change the projector, and the projector shows the "vote on your phone"
view from it. A question not in `phones` refuses answers (late ones included).

The hub answers for the phones as a device of its own per site (`phone-…`,
app.counts.PHONE_DEVICE_PREFIX): each answer is a batch of that device's events, ingested as a
tablet's (server.ingest: the same checks, the same card rule, exactly once), counted in the
`phone` channel, and forwarded upstream by a room hub like its tablets' events.

- Card mode: the card's code (typed, or its QR's text) is read as a tablet reads it
  (app.cards.read_card), its proof made here in memory, its secret forgotten at once. The
  ballot of a card is one per card and consultation at this hub (an HMAC of its lookup ID,
  which the hub's `card_uses` already pairs with its ballot: nothing new is linked). A card
  that answered this question already — on a tablet or a phone — is refused, and the phone
  is told that and nothing else.
- Open mode: the ballot is named by a signed cookie the phone keeps; one answer per phone
  and question, and a per-address limit. Clearing the cookie or changing phone answers again:
  weaker, said so in docs/protocol.md.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import func, select

from app.cards import Card, CardError, card_seed, proof_message, read_card
from app.clock import now_iso
from app.codes import normalize_code
from app.counts import PHONE_DEVICE_PREFIX
from app.errors import N_
from app.answers import validate_answer
from app.kinds import kind_of
from app.model import Consultation, Question

from . import db, signing
from .errors import HubError
from .ingest import Batch, open_to_site

PHONE_COOKIE = "piazzetta_phone"
COOKIE_DAYS = 7
# What a phone is told, and nothing more (a card's other uses, other answers: never).
CLOSED = N_("This question is closed: answers are no longer taken.")
ALREADY = N_("Already used: this question was already answered with this card.")
ALREADY_PHONE = N_("Already answered: this phone has already answered this question.")


# Checks run before a phone's answer is recorded: `check(hub, opening, question_id)` may raise
# PhoneRefused. The hook for what other parts decide about phone answers (rehearsal mode: a
# rehearsal's phone answers kept apart and never tallied registers here, not in this module).
ANSWER_CHECKS: list[Callable[[Any, "PhoneOpening", str], None]] = []


def register_answer_check(check: Callable[[Any, "PhoneOpening", str], None]) -> None:
    """Add a check every phone answer passes first (ANSWER_CHECKS); idempotent."""
    if check not in ANSWER_CHECKS:
        ANSWER_CHECKS.append(check)


@dataclass(frozen=True)
class PhoneOpening:
    """What the facilitator opened to phones for a consultation."""
    consultation: Consultation
    questions: tuple[str, ...]
    cards: bool
    site_id: str | None
    revision: int

    @property
    def open(self) -> bool:
        return bool(self.questions)


class PhoneRefused(HubError):
    """An answer a phone cannot give (closed, already used, a wrong card): its page says why."""

    def __init__(self, message: str, code: str, status: int = 409, field: str | None = None):
        super().__init__(message, status=status, code=code, field=field)


def opening(hub, consultation_id: str) -> PhoneOpening | None:
    """The consultation's phone opening (None: unknown consultation)."""
    consultation = hub.consultation(consultation_id) if isinstance(consultation_id, str) \
        else None
    if consultation is None:
        return None
    with hub.engine.connect() as conn:
        row = conn.execute(select(db.display_controls.c.control, db.display_controls.c.revision)
                           .where(db.display_controls.c.consultation_id == consultation.id)
                           ).first()
    control = json.loads(row.control) if row else {}
    known = {q.id for q in consultation.questions}
    questions = tuple(q for q in control.get("phones") or () if q in known)
    site = control.get("phones_site")
    if not isinstance(site, str) or not open_to_site(consultation, site):
        site = consultation.sites[0].id if consultation.sites else None
    return PhoneOpening(consultation, questions, bool(control.get("phones_cards")), site,
                        row.revision if row else 0)


def phone_device(hub, site_id: str | None) -> dict:
    """The hub's device for residents' phones at `site_id`, made the first time: a device
    like a tablet (forwarded upstream like one) whose credential nobody holds."""
    devices = db.devices.c
    where = (devices.id.startswith(PHONE_DEVICE_PREFIX, autoescape=True),
             devices.site_id.is_(None) if site_id is None else devices.site_id == site_id,
             devices.kind.is_(None), devices.revoked_at.is_(None))
    with hub.engine.connect() as conn:
        row = conn.execute(select(db.devices).where(*where).order_by(devices.id)).first()
    if row is None:
        with hub.writer.begin() as conn:
            row = conn.execute(select(db.devices).where(*where).order_by(devices.id)).first()
            if row is None:
                conn.execute(db.devices.insert().values(
                    id=PHONE_DEVICE_PREFIX + secrets.token_hex(8), site_id=site_id,
                    name="Phones", platform="phone",
                    secret_hash=db.sha256(secrets.token_urlsafe(32)),
                    enrolled_at=now_iso()))
                row = conn.execute(select(db.devices).where(*where)
                                   .order_by(devices.id)).first()
    return dict(row._mapping)


# -- the phone's ballot: a card's, or the cookie's ------------------------------------------------

def _cookie_key(hub) -> str:
    return hmac.new(hub.settings.secret_key.encode(), b"piazzetta-phone-cookie",
                    hashlib.sha256).hexdigest()


def cookie_ballot(hub, cookie: str | None, consultation_id: str) -> str | None:
    """The open-mode ballot a phone's cookie names for this consultation, or None."""
    if not cookie:
        return None
    try:
        claims = signing.verify(cookie, _cookie_key(hub))
    except signing.TokenError:
        return None
    ballots = claims.get("b")
    ballot = ballots.get(consultation_id) if isinstance(ballots, dict) else None
    return ballot if isinstance(ballot, str) and len(ballot) == 32 else None


def new_cookie(hub, cookie: str | None, consultation_id: str, ballot_id: str) -> str:
    """The phone's cookie with `ballot_id` as its ballot for the consultation (others kept)."""
    ballots = {}
    if cookie:
        try:
            found = signing.verify(cookie, _cookie_key(hub)).get("b")
            ballots = dict(found) if isinstance(found, dict) else {}
        except signing.TokenError:
            ballots = {}
    ballots[consultation_id] = ballot_id
    ballots = dict(list(ballots.items())[-8:])
    return signing.sign({"b": ballots}, _cookie_key(hub), COOKIE_DAYS * 86400)


def card_ballot(hub, consultation_id: str, lookup: str) -> str:
    """A card's phone ballot for a consultation at this hub."""
    return hmac.new(hub.settings.secret_key.encode(),
                    f"piazzetta-phone-ballot|{consultation_id}|{lookup}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def read_phone_card(hub, consultation_id: str, text: Any) -> Card:
    """The card a phone typed (or its QR's text), checked as a tablet checks it
    (app.cards.read_card) against the cards this hub holds; CardError otherwise."""
    if not isinstance(text, str) or not text.strip() or len(text) > 400:
        raise CardError(N_("A card code has 17 letters and digits."), "card")
    raw = text.strip()
    code = normalize_code(raw.split(".")[1] if raw.upper().startswith("PZC3.")
                          and raw.count(".") == 2 else raw)
    lookup = code[:4]
    with hub.engine.connect() as conn:
        key = conn.execute(select(db.issued_cards.c.public_key).where(
            db.issued_cards.c.consultation_id == consultation_id,
            db.issued_cards.c.lookup == lookup)).scalar()
    return read_card(raw, consultation_id, hub.participation.cards.public_key,
                     {lookup: key} if key else {})


def _sign_proof(card: Card, question_id: str, ballot_id: str, value: Any) -> str:
    """The card's proof over this answer (app.cards.Card.proof), with the hub's compiled
    Ed25519: the same signature, some 50 times faster than the tablets' pure Python."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.from_private_bytes(
        card_seed(card.consultation_id, card.lookup, card.secret))
    return key.sign(proof_message(card.consultation_id, question_id, ballot_id, value,
                                  lookup=card.lookup)).hex()


def parse_value(consultation: Consultation, question: Question, form: dict) -> Any:
    """A phone form's fields as the question's answer value (its kind's `form_value`),
    checked as the kiosk's (app.answers.validate_answer); ValidationError naming the field
    otherwise."""
    return validate_answer(consultation, question, kind_of(question).form_value(question, form))


def already_answered(hub, opening: PhoneOpening, question_id: str, *, ballot_id: str | None,
                     lookup: str | None = None) -> bool:
    """Whether this card (any ballot, any device) or this phone's ballot answered the
    question already."""
    consultation_id = opening.consultation.id
    with hub.engine.connect() as conn:
        if lookup is not None and conn.execute(select(func.count()).select_from(db.card_uses)
                                               .where(db.card_uses.c.consultation_id
                                                      == consultation_id,
                                                      db.card_uses.c.question_id == question_id,
                                                      db.card_uses.c.card == lookup)).scalar():
            return True
        if ballot_id is not None and conn.execute(
                select(func.count()).select_from(db.ballot_answers).where(
                    db.ballot_answers.c.ballot_id == ballot_id,
                    db.ballot_answers.c.question_id == question_id,
                    db.ballot_answers.c.value.is_not(None))).scalar():
            return True
    return False


def record_phone_answer(hub, opening: PhoneOpening, question_id: str, value: Any, *,
                        ballot_id: str, card: Card | None = None) -> None:
    """Record one phone's answer as the phone device's events (ballot start, answer), in one
    unit of work, through the hub's ingest (server.ingest.Batch): the card rule, exactly
    once, the tallies. PhoneRefused when the question is not open to phones or the answer
    was refused (its reason)."""
    consultation = opening.consultation
    if question_id not in opening.questions:
        raise PhoneRefused(CLOSED, "phone_question_closed", status=410)
    for check in ANSWER_CHECKS:
        check(hub, opening, question_id)
    device = phone_device(hub, opening.site_id)
    base = {"consultation_id": consultation.id, "ballot_id": ballot_id}
    answer = dict(base, question_id=question_id, value=value,
                  consultation_version=consultation.version)
    if card is not None:
        answer.update(card=card.lookup, proof=_sign_proof(card, question_id, ballot_id, value))
    started = dict(base, mode="identified" if card is not None else "open",
                   consultation_version=consultation.version)
    # The hour only, as a tablet coarsens an acknowledged event's time: no finer clock.
    recorded_at = db.hour(now_iso())

    def work(uow):
        conn = uow.conn
        # Still open, read again in the unit that records it: an answer queued behind the
        # writer while the facilitator closed the question (a rush of phones) is late.
        control = conn.execute(select(db.display_controls.c.control).where(
            db.display_controls.c.consultation_id == consultation.id)).scalar()
        if question_id not in (json.loads(control).get("phones") or () if control else ()):
            raise PhoneRefused(CLOSED, "phone_question_closed", status=410)
        seq = conn.execute(select(func.max(db.events.c.seq)).where(
            db.events.c.device_id == device["id"])).scalar() or 0
        known = conn.execute(select(db.ballots.c.id).where(
            db.ballots.c.id == ballot_id)).first() is not None
        events = (("answer", answer),) if known else (("ballot_started", started),
                                                      ("answer", answer))
        envelopes = [{"id": uuid.uuid4().hex, "device_id": device["id"], "seq": seq + 1 + i,
                      "type": type_, "recorded_at": recorded_at, "payload": payload}
                     for i, (type_, payload) in enumerate(events)]
        batch = Batch(hub.ingest_registry, uow.conn, device, hub.consultation)
        # Each phone answer is a batch of its own: the time it was received would be the
        # answer's own, to the millisecond (events.received_at, the device's last_seen_at).
        batch.now = recorded_at
        results = batch.run(envelopes)
        uow.include(batch)
        return results

    results = hub.units.run(work)
    refused = next((r for r in results if r.get("status") not in ("stored", "duplicate")),
                   None)
    if refused is not None:
        if refused.get("code") == "card_used":
            raise PhoneRefused(ALREADY, "card_used")
        # A ballot started in the other mode (the facilitator switched cards on or off) or
        # another reason: the answer is not counted, and the phone is told plainly.
        raise PhoneRefused(N_("Your answer could not be counted: ask the facilitator."),
                           str(refused.get("code") or "phone_answer_refused"), status=400)
