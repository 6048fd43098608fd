"""Participation at the hub: the one place where the register of people and the cards meet.

Who took part and what was answered are kept apart (DESIGN.md, invariant 9):

- server/register.py — the register of people: sign-ups, their confirmation, the figures;
  server/mailer.py sends its confirmation emails;
- server/issued_cards.py — the anonymous participation cards: issued, pooled, imported,
  checked at ingest.

The two share no code and import nothing of each other (tests/unit/test_participation_split.py).
They meet here, and only in three ways, each a hand-over of something that names no one:

1. a confirmed sign-up is shown a card drawn from the card pool (`SignupRegister` is given
   `IssuedCards.pool` as its `CardSource`; it passes the card on unread);
2. the cards' counts take the number of cards handed out from the register, as a number;
3. the figures take the cards each site's room hub made, as rows of numbers.

`Participation` (one per Hub, `hub.participation`) keeps the front the rest of the hub uses.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from app.cards import Card
from app.errors import ValidationError

from .errors import HubError
from .ingest import AnswerUse, Batch, Event, IngestExtension
from .issued_cards import MAX_PRINT, CardBatch, IssuedCards, ed25519_verify
from .register import (BROWSER_COOKIE, BROWSER_MARKS, MAIL_OUTCOMES, CodeNeeded, Confirmation,
                       SignupBatch, SignupRegister, stored_signup)


@dataclass
class ParticipationBatch:
    """One batch's state for the participation extension: the register's and the cards'."""
    signups: SignupBatch = field(default_factory=SignupBatch)
    cards: CardBatch = field(default_factory=CardBatch)


class Participation:
    """The hub's register of people (`signups`) and its cards (`cards`), connected."""

    def __init__(self, hub):
        self.hub = hub
        self.cards = IssuedCards(hub)
        # The connection: a confirmation draws its card from the pool.
        self.signups = SignupRegister(hub, cards=self.cards.pool)
        cards, signups = self.cards, self.signups
        self.public_key = cards.public_key
        self.pool = cards.pool
        (self.card_text, self.issue_cards, self.export_cards, self.import_cards,
         self.set_card_quota, self.room_cards, self.card_index) = (
            cards.card_text, cards.issue_cards, cards.export_cards, cards.import_cards,
            cards.set_card_quota, cards.room_cards, cards.card_index)
        (self.check_link, self.config, self.register, self.confirmation_link,
         self.ask_confirmation, self.confirm_code, self.browser_mark, self.may_confirm,
         self.confirm, self.confirmation_claims, self.pending_confirmations,
         self.write_confirmations, self.start, self.stop) = (
            signups.check_link, signups.config, signups.register, signups.confirmation_link,
            signups.ask_confirmation, signups.confirm_code, signups.browser_mark,
            signups.may_confirm, signups.confirm, signups.confirmation_claims,
            signups.pending_confirmations, signups.write_confirmations, signups.start,
            signups.stop)

    def card_counts(self, consultation_id: str) -> dict:
        """Cards made and handed out (IssuedCards.card_counts), the handed out ones counted
        by the register."""
        return self.cards.card_counts(
            consultation_id, handed_out=self.signups.cards_handed_out(consultation_id))

    def figures(self, consultation_id: str | None = None) -> list[dict]:
        """The register's figures (SignupRegister.figures) with the cards each site's room
        hub made."""
        return self.signups.figures(consultation_id,
                                    room_cards=self.cards.room_cards(consultation_id))

    # -- ingest (server.ingest): `signup` events, and cards in identified ballots ----------------

    def ingest_extension(self) -> IngestExtension[ParticipationBatch]:
        """The extension the hub registers: the `signup` handler (its event is stored without
        the resident's data), the card check of answers, and the write of both (sign-ups
        first, as before the split)."""
        extension = IngestExtension("participation", ParticipationBatch,
                                    preload=self._preload, check_answer=self._check_answer,
                                    write=self._write)
        extension.handles("signup", self._apply_signup, stored_payload=stored_signup)
        return extension

    def _apply_signup(self, batch: Batch, state: ParticipationBatch, event: Event) -> None:
        self.signups.apply_signup_event(batch, state.signups, event)

    def _preload(self, batch: Batch, state: ParticipationBatch, events: list) -> None:
        self.cards.preload_cards(batch, state.cards, events)

    def _check_answer(self, batch: Batch, state: ParticipationBatch, use: AnswerUse) -> None:
        self.cards.check_card(batch, state.cards, use)

    def _write(self, batch: Batch, state: ParticipationBatch) -> None:
        self.signups.write_signups(batch, state.signups)
        self.cards.write_uses(batch, state.cards)


def participation(hub) -> Participation:
    """The hub's Participation (made with the hub)."""
    return hub.participation


__all__ = ["BROWSER_COOKIE", "BROWSER_MARKS", "Card", "CodeNeeded", "Confirmation", "HubError",
           "MAIL_OUTCOMES", "MAX_PRINT", "Participation", "ValidationError", "ed25519_verify",
           "participation"]
