"""The hub's participation cards (app/cards.py): issued, pooled, imported, checked at ingest
(docs/protocol.md, "Participation cards").

Cards are anonymous: the hub keeps, per issued card, its lookup ID and its public key
(app.cards.issued_row) — never its secret nor anything that makes an answer for it, never the
sign-up it was shown to (`issued_cards` has no sign-up, no time, no insertion order).

This module knows nothing of the register of people (server/register.py): the two share no
code and import nothing of each other (tests/unit/test_participation_split.py). The one place
that connects them is server/participation.py: a confirmed sign-up draws a card from this
module's `CardPool`, and the dashboard's counts take the number of cards handed out from the
register as a plain number.
"""
from __future__ import annotations

import functools
import logging
import random
import secrets
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.clock import now_iso
from app.errors import N_, ValidationError
from app.cards import (Card, PROOF_HEX, card_public_key, card_signing_seed, issued_row,
                       new_card, sign_card, valid_lookup, valid_public_key, verify_proof)

from . import db
from .errors import EventRejected, HubError
from .ingest import AnswerUse, Batch

log = logging.getLogger("piazzetta.hub.cards")
_HEX64 = frozenset("0123456789abcdef")
MAX_PRINT = 5000


class CardPool:
    """Cards made ahead, in batches, for confirmed sign-ups (docs/protocol.md, "The pool").

    A batch's rows go to `issued_cards` in one transaction (no sign-up, no time, key order);
    the cards' codes stay in this process's memory only — never on disk, in clear or not. A
    confirmation takes one at random and writes nothing about it, so no byte the hub writes
    says which card went to whom. A new batch is made in the background when a quarter is
    left (or at once when none is). Cards not handed out when the process stops are void
    (nobody holds their code) and counted (IssuedCards.card_counts)."""

    def __init__(self, cards: "IssuedCards", size: int):
        self.cards = cards
        self.size = max(1, min(int(size), MAX_PRINT))
        self._cards: dict[str, list[Card]] = {}
        self._filling: set[str] = set()
        self._lock = threading.Lock()
        self._random = random.SystemRandom()

    def waiting(self, consultation_id: str) -> int:
        with self._lock:
            return len(self._cards.get(consultation_id, ()))

    def take(self, consultation_id: str) -> Card:
        """A card of the pool, drawn at random; a batch is made first when none is left."""
        for _attempt in range(5):
            with self._lock:
                cards = self._cards.get(consultation_id) or []
                card = cards.pop(self._random.randrange(len(cards))) if cards else None
                low = len(cards) < max(1, self.size // 4)
            if card is not None:
                if low:
                    self.fill_later(consultation_id)
                return card
            try:
                self.fill(consultation_id)
            except Exception:      # the database busy or gone: a clear page, not a 500
                log.warning("a batch of participation cards could not be made")
                time.sleep(0.2)
        raise HubError(N_("No participation card can be made now: try again later."),
                       status=503, code="cards_unavailable")

    def put_back(self, card: Card) -> None:
        with self._lock:
            self._cards.setdefault(card.consultation_id, []).append(card)

    def fill(self, consultation_id: str) -> None:
        cards = self.cards.issue_cards(consultation_id, self.size, kind="pool")
        with self._lock:
            self._cards.setdefault(consultation_id, []).extend(cards)

    def fill_later(self, consultation_id: str) -> None:
        """A batch made in a thread of its own (one at a time per consultation)."""
        with self._lock:
            if consultation_id in self._filling:
                return
            self._filling.add(consultation_id)

        def run():
            try:
                self.fill(consultation_id)
            except Exception:       # the next confirmation makes one itself
                log.warning("a batch of participation cards could not be made")
            finally:
                with self._lock:
                    self._filling.discard(consultation_id)

        threading.Thread(target=run, name="piazzetta-card-pool", daemon=True).start()

    def ready_for(self, consultation_id: str) -> None:
        """Before a confirmation is likely (an email sign-up): a batch, if few are left."""
        if self.waiting(consultation_id) < max(1, self.size // 4):
            self.fill_later(consultation_id)


@dataclass
class CardBatch:
    """One batch's card uses (the ingest's state for cards in identified ballots)."""
    card_uses: dict[tuple[str, str, str], str] = field(default_factory=dict)   # -> ballot
    new_uses: list[tuple[str, str, str]] = field(default_factory=list)
    public_keys: dict[tuple[str, str], tuple[bool, str | None]] = field(default_factory=dict)
    uses_read: set[tuple[str, str, str]] = field(default_factory=set)   # as card_uses' keys


class IssuedCards:
    """What the hub knows of participation cards; one per Hub (`hub.participation.cards`)."""

    def __init__(self, hub):
        self.hub = hub
        self._seed = card_signing_seed(hub.settings.secret_key)
        self.public_key = card_public_key(self._seed)
        self.pool = CardPool(self, hub.settings.card_pool)

    def card_text(self, card: Card) -> str:
        """The text of the card's QR (signed by the hub)."""
        return sign_card(self._seed, card)

    def issue_cards(self, consultation_id: str, count: int, *, kind: str = "printed"
                    ) -> list[Card]:
        """`count` new cards for a consultation (the printed batch at the door, or a batch of
        the pool confirmed sign-ups draw from), recorded in one transaction in random order,
        with the batch counted (`card_batches`: kind, count, hour). Only their rows
        (app.cards.issued_row: lookup ID and public key) are kept; the caller shows or prints
        them once."""
        if not 1 <= count <= MAX_PRINT:
            raise ValueError(f"between 1 and {MAX_PRINT} cards at a time")
        with self.hub.writer.begin() as conn:
            cards = self._issue(conn, consultation_id, count)
            conn.execute(db.card_batches.insert().values(
                id=secrets.token_hex(16), consultation_id=consultation_id, kind=kind,
                count=count, made_at=db.hour(now_iso())))
        return cards

    def card_counts(self, consultation_id: str, handed_out: int) -> dict:
        """Cards made and handed out, for the dashboard and `cards pool`: printed, made for
        the pool, handed out to confirmed sign-ups (`handed_out`, the register's count:
        server/participation.py), waiting in this process's pool, and pool cards void (made,
        never handed out, their codes gone with a process that stopped — or waiting in
        another hub process's memory)."""
        with self.hub.engine.connect() as conn:
            made = dict(conn.execute(select(db.card_batches.c.kind,
                                            func.sum(db.card_batches.c.count)).where(
                db.card_batches.c.consultation_id == consultation_id).group_by(
                db.card_batches.c.kind)).all())
        pool = int(made.get("pool") or 0)
        waiting = self.pool.waiting(consultation_id)
        return {"consultation_id": consultation_id, "printed": int(made.get("printed") or 0),
                "pool_made": pool, "handed_out": int(handed_out),
                "waiting": waiting, "not_handed_out": max(0, pool - int(handed_out) - waiting)}

    def export_cards(self, consultation_id: str) -> list[dict]:
        """The issued cards' rows of a consultation (app.cards.issued_row), in key order: what
        another hub needs to check these cards and their answers (a room hub's printed cards,
        at the central hub that receives its events). Public keys only: nothing that makes an
        answer, nothing about who holds a card. Cards of before (no public key) are left out."""
        with self.hub.engine.connect() as conn:
            rows = conn.execute(select(db.issued_cards).where(
                db.issued_cards.c.consultation_id == consultation_id,
                db.issued_cards.c.public_key.is_not(None))
                .order_by(db.issued_cards.c.lookup)).all()
        return [{"consultation_id": r.consultation_id, "lookup": r.lookup,
                 "public_key": r.public_key} for r in rows]

    def import_cards(self, rows: object, *, partial: bool = False,
                     consultations: set[str] | None = None,
                     room_site: str | None = None) -> dict:
        """Add another hub's issued cards (export_cards). A lookup ID this hub already issued
        with another key, or a public key another card already has, is refused whole
        (ValidationError): nothing is written — or, with `partial` (hub to hub, every round),
        left out and counted in `conflicts`. A key that is not a valid one (app.cards.
        valid_public_key: off the curve, not canonical, of small order) refuses the whole list.
        `consultations` limits what is taken (a room hub: its site's). `room_site`: the cards
        were made by that site's room hub; new ones beyond its quota per consultation
        (card_quota) are refused, in key order, and listed in `refused` with their reason."""
        if not isinstance(rows, list):
            raise ValidationError(N_("A list of issued cards is expected here."), "cards")
        clean = {}
        for row in rows:
            ok = isinstance(row, dict) and isinstance(row.get("consultation_id"), str) \
                and 0 < len(row["consultation_id"]) <= db.ID and valid_lookup(row.get("lookup")) \
                and valid_public_key(row.get("public_key"))
            if not ok:
                raise ValidationError(N_("A list of issued cards is expected here."), "cards")
            if consultations is not None and row["consultation_id"] not in consultations:
                continue
            clean[(row["consultation_id"], row["lookup"])] = row["public_key"]
        added = conflicts = 0
        refused: list[dict] = []
        left: dict[str, int] = {}       # per consultation: cards the room may still make
        with self.hub.writer.begin() as conn:
            if room_site is not None:
                self._lock_quotas(conn, {c for c, _lookup in clean}, room_site)
            # Which cards hold each public key already: a key is one card's (two cards with
            # one key would answer for each other wherever a proof did not name its card).
            holders: dict[str, set[tuple[str, str]]] = {}
            for chunk in db.in_chunks(sorted(set(clean.values()))):
                for c, lookup, key in conn.execute(select(
                        db.issued_cards.c.consultation_id, db.issued_cards.c.lookup,
                        db.issued_cards.c.public_key).where(
                        db.issued_cards.c.public_key.in_(chunk))):
                    holders.setdefault(key, set()).add((c, lookup))
            for (consultation_id, lookup), key in sorted(clean.items()):
                found = conn.execute(select(db.issued_cards).where(
                    db.issued_cards.c.consultation_id == consultation_id,
                    db.issued_cards.c.lookup == lookup)).first()
                if found is None and holders.get(key, set()) - {(consultation_id, lookup)}:
                    if partial:
                        conflicts += 1
                        continue
                    raise ValidationError(N_("Another card already has this public key: "
                                             "nothing was imported."), "cards")
                if found is None:
                    if room_site is not None:
                        if consultation_id not in left:
                            left[consultation_id] = self._quota(conn, consultation_id, room_site) \
                                - self._made(conn, consultation_id, room_site)
                        if left[consultation_id] <= 0:
                            refused.append({"consultation_id": consultation_id, "lookup": lookup})
                            continue
                        left[consultation_id] -= 1
                    conn.execute(db.issued_cards.insert().values(
                        consultation_id=consultation_id, lookup=lookup, public_key=key,
                        room_site=room_site))
                    holders.setdefault(key, set()).add((consultation_id, lookup))
                    added += 1
                elif found.public_key != key:
                    if partial:
                        conflicts += 1
                        continue
                    raise ValidationError(N_("This hub issued another card with the same "
                                             "lookup ID: nothing was imported."), "cards")
        result = {"imported": added, "known": len(clean) - added - conflicts - len(refused),
                  "conflicts": conflicts}
        if room_site is not None:
            result["refused"] = refused
            if refused:
                result["reason"] = {"code": "card_quota_exceeded", "message": N_(
                    "This site's room hub made as many cards for this consultation as the "
                    "central hub's staff allow: the cards beyond were refused.")}
        return result

    # -- cards a room hub makes: counted, and bounded per consultation and site ----------------

    def _quota(self, conn, consultation_id: str, site_id: str) -> int:
        quota = conn.execute(select(db.card_quotas.c.quota).where(
            db.card_quotas.c.consultation_id == consultation_id,
            db.card_quotas.c.site_id == site_id)).scalar()
        return self.hub.settings.room_card_quota if quota is None else quota

    @staticmethod
    def _lock_quotas(conn, consultation_ids: set[str], site_id: str) -> None:
        """Serialize the room's card imports per consultation and site until the transaction
        ends, so that two at once cannot both count the cards made, then both add up to the
        quota. On PostgreSQL a transaction-level advisory lock per pair (taken in one order:
        no deadlock); SQLite's writer transaction (server/db.py) serializes already."""
        if conn.dialect.name != "postgresql":
            return
        for consultation_id in sorted(consultation_ids):
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%(key)s))", {
                "key": f"piazzetta-card-quota|{consultation_id}|{site_id}"})

    @staticmethod
    def _made(conn, consultation_id: str, site_id: str) -> int:
        return conn.execute(select(func.count()).select_from(db.issued_cards).where(
            db.issued_cards.c.consultation_id == consultation_id,
            db.issued_cards.c.room_site == site_id)).scalar() or 0

    def set_card_quota(self, consultation_id: str, site_id: str, quota: int | None) -> dict:
        """Staff: how many cards the room hub of `site_id` may make for `consultation_id`
        (None: back to the hub's default). Cards it already made stay valid."""
        if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int)
                                  or not 0 <= quota <= 1_000_000):
            raise ValidationError(N_("A number of cards between 0 and 1,000,000 is expected "
                                     "here."), "quota")
        if self.hub.consultation(consultation_id) is None:
            raise ValidationError(N_("Unknown consultation."), "consultation")
        with self.hub.writer.begin() as conn:
            conn.execute(db.card_quotas.delete().where(
                db.card_quotas.c.consultation_id == consultation_id,
                db.card_quotas.c.site_id == site_id))
            if quota is not None:
                conn.execute(db.card_quotas.insert().values(
                    consultation_id=consultation_id, site_id=site_id, quota=quota))
        return next(r for r in self.room_cards(consultation_id)
                    if r["site_id"] == site_id) if quota is not None else {
            "consultation_id": consultation_id, "site_id": site_id,
            "quota": self.hub.settings.room_card_quota}

    def room_cards(self, consultation_id: str | None = None) -> list[dict]:
        """Per consultation and site: cards that site's room hub made (`made`) and its quota
        (staff's, or the hub's default), for every pair with a quota set or a card made."""
        with self.hub.engine.connect() as conn:
            made = select(db.issued_cards.c.consultation_id, db.issued_cards.c.room_site,
                          func.count()).where(db.issued_cards.c.room_site.is_not(None)) \
                .group_by(db.issued_cards.c.consultation_id, db.issued_cards.c.room_site)
            quotas = select(db.card_quotas)
            if consultation_id:
                made = made.where(db.issued_cards.c.consultation_id == consultation_id)
                quotas = quotas.where(db.card_quotas.c.consultation_id == consultation_id)
            counts = {(c, s): n for c, s, n in conn.execute(made)}
            set_quotas = {(r.consultation_id, r.site_id): r.quota for r in conn.execute(quotas)}
        default = self.hub.settings.room_card_quota
        return [{"consultation_id": c, "site_id": s, "made": counts.get((c, s), 0),
                 "quota": set_quotas.get((c, s), default)}
                for c, s in sorted(set(counts) | set(set_quotas))]

    def _issue(self, conn, consultation_id: str, count: int) -> list[Card]:
        """The one place issued cards' rows are built and written."""
        taken = set(conn.execute(select(db.issued_cards.c.lookup).where(
            db.issued_cards.c.consultation_id == consultation_id)).scalars())
        cards: dict[str, Card] = {}
        while len(cards) < count:
            card = new_card(consultation_id)
            if card.lookup not in taken and card.lookup not in cards:
                cards[card.lookup] = card
        out = list(cards.values())
        random.SystemRandom().shuffle(out)
        conn.execute(db.issued_cards.insert(), [issued_row(c) for c in out])
        return out

    # -- what tablets get --------------------------------------------------------------------------

    def card_index(self, consultation_ids: list[str] | None = None) -> dict:
        """The hub's public key and, per consultation, {lookup: public key} of its issued
        cards, for the card index: what a tablet checks a card with, never what makes one."""
        keys: dict[str, dict[str, str]] = {c: {} for c in consultation_ids or ()}
        if consultation_ids:
            with self.hub.engine.connect() as conn:
                for chunk in db.in_chunks(list(consultation_ids)):
                    for c, lookup, key in conn.execute(select(
                            db.issued_cards.c.consultation_id, db.issued_cards.c.lookup,
                            db.issued_cards.c.public_key).where(
                            db.issued_cards.c.consultation_id.in_(chunk),
                            db.issued_cards.c.public_key.is_not(None))):
                        keys[c][lookup] = key
        return {"public_key": self.public_key,
                "keys": {c: dict(sorted(v.items())) for c, v in sorted(keys.items())}}

    # -- ingest (server.ingest): cards in identified ballots ----------------------------------

    def preload_cards(self, batch: Batch, state: CardBatch, events: list) -> None:
        """The public keys and earlier uses of the cards the batch's answers carry, in a few
        queries (check_card then reads them from the state)."""
        wanted: dict[str, set[str]] = {}
        asked: dict[tuple[str, str], set[str]] = {}
        for event in events:
            payload = event.payload if isinstance(event.payload, dict) else {}
            consultation_id, lookup = payload.get("consultation_id"), payload.get("card")
            question_id = payload.get("question_id")
            if event.type in ("answer", "answer_withdrawn") \
                    and isinstance(consultation_id, str) \
                    and isinstance(question_id, str) and len(consultation_id) <= db.ID \
                    and len(question_id) <= db.ID and valid_lookup(lookup):
                wanted.setdefault(consultation_id, set()).add(lookup)
                asked.setdefault((consultation_id, question_id), set()).add(lookup)
        cards, uses = db.issued_cards.c, db.card_uses.c
        for consultation_id, lookups in wanted.items():
            for chunk in db.in_chunks(sorted(lookups)):
                found = dict(batch.conn.execute(select(cards.lookup, cards.public_key).where(
                    cards.consultation_id == consultation_id, cards.lookup.in_(chunk))).all())
                for lookup in chunk:
                    state.public_keys[(consultation_id, lookup)] = (
                        lookup in found, found.get(lookup))
        for (consultation_id, question_id), lookups in asked.items():
            for chunk in db.in_chunks(sorted(lookups)):
                for lookup, ballot in batch.conn.execute(select(uses.card, uses.ballot_id).where(
                        uses.consultation_id == consultation_id,
                        uses.question_id == question_id, uses.card.in_(chunk))):
                    state.card_uses[(consultation_id, question_id, lookup)] = ballot
                state.uses_read.update((consultation_id, question_id, lookup)
                                       for lookup in chunk)

    def check_card(self, batch: Batch, state: CardBatch, use: AnswerUse) -> None:
        """Identified mode: the answer's card must be one this hub issued for the consultation
        and its proof the card's signature over this very answer (consultation, question,
        card, ballot, value: app.cards.proof_message), so an enrolled tablet cannot invent
        participation and a copied proof carries no other answer — an answer without a card
        in a ballot started as identified is refused too; a second
        answer of the same card to the same question from another ballot (another tablet, or
        the same one) is refused."""
        payload = use.payload
        if "nullifier" in payload:
            raise EventRejected(N_("Participation cards of the old kind are no longer "
                                   "accepted."), "payload.nullifier", code="card_outdated")
        lookup, proof = payload.get("card"), payload.get("proof")
        if lookup is None and proof is None and use.mode != "identified":
            return      # an open or facilitated ballot (an identified one always has a card)
        if not valid_lookup(lookup):
            raise EventRejected(N_("A participation card is expected here."), "payload.card",
                                code="card_invalid")
        if isinstance(proof, str) and len(proof) == 64:
            raise EventRejected(N_("Participation cards of the old kind are no longer "
                                   "accepted."), "payload.proof", code="card_outdated")
        if not isinstance(proof, str) or len(proof) != PROOF_HEX or not set(proof) <= _HEX64:
            raise EventRejected(N_("A participation card's proof is expected here."),
                                "payload.proof", code="card_invalid")
        ident = (use.consultation_id, lookup)
        if ident not in state.public_keys:
            row = batch.conn.execute(select(db.issued_cards.c.public_key).where(
                db.issued_cards.c.consultation_id == use.consultation_id,
                db.issued_cards.c.lookup == lookup)).first()
            state.public_keys[ident] = (row is not None, row.public_key if row else None)
        issued, public_key = state.public_keys[ident]
        if not issued:
            raise EventRejected(N_("This participation card was not issued for this "
                                   "consultation."), "payload.card", code="card_not_issued")
        if public_key is None:
            raise EventRejected(N_("Participation cards of the old kind are no longer "
                                   "accepted."), "payload.card", code="card_outdated")
        if not verify_proof(public_key, proof, use.consultation_id, use.question_id,
                            use.ballot_id, payload.get("value"), lookup=lookup,
                            verify=ed25519_verify):
            raise EventRejected(N_("This participation card's proof does not match."),
                                "payload.proof", code="card_proof_invalid")
        key = (use.consultation_id, use.question_id, lookup)
        owner = state.card_uses.get(key)
        if owner is None and key not in state.uses_read:
            owner = batch.conn.execute(select(db.card_uses.c.ballot_id).where(
                db.card_uses.c.consultation_id == use.consultation_id,
                db.card_uses.c.question_id == use.question_id,
                db.card_uses.c.card == lookup)).scalar()
            if owner is not None:
                state.card_uses[key] = owner
        if owner is not None and owner != use.ballot_id:
            raise EventRejected(N_("This participation card has already answered this "
                                   "question."), "payload.card", code="card_used")
        if owner is None:
            state.card_uses[key] = use.ballot_id
            state.new_uses.append(key)

    def write_uses(self, batch: Batch, state: CardBatch) -> None:
        if state.new_uses:
            batch.conn.execute(db.card_uses.insert(), [
                {"consultation_id": c, "question_id": q, "card": n,
                 "ballot_id": state.card_uses[(c, q, n)]} for c, q, n in state.new_uses])


@functools.lru_cache(maxsize=4096)
def _public_key(public_key_hex: str):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))


def ed25519_verify(public_key_hex: str, signature: bytes, message: bytes) -> bool:
    """The hub's Ed25519 check of a card's proof: `cryptography` (OpenSSL), some 50 times
    faster than the tablets' pure-Python one; each card's key decoded once (a card answers
    several questions)."""
    from cryptography.exceptions import InvalidSignature
    try:
        _public_key(public_key_hex).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False
