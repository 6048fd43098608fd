"""Sign-ups, participation cards and figures at the hub (docs/protocol.md, "Sign-up").

The sign-up page (server/signup.py) and the `signup` events of tablets both end here. Personal
data (name, contact, age bracket, neighbourhood) lives only in the `signups` table: never in a
log line, an export of results, or the events table (a `signup` event is stored there without
it). Participation cards (app/cards.py) are anonymous: the hub keeps, per issued card, its
lookup ID and its public key (app.cards.issued_row) — never its secret nor anything that makes
an answer for it, never the sign-up it was shown to (`issued_cards` has no sign-up, no time, no insertion order). A sign-up
keeps only whether a card was shown to it.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import random
import secrets
import smtplib
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.clock import now_iso
from app.errors import N_, ValidationError
from app.cards import (Card, PROOF_HEX, card_public_key, card_signing_seed, issued_row,
                       new_card, sign_card, valid_lookup, valid_public_key, verify_proof)
from app.signup import (SignupConfig, SignupDraft, contact_identity, redacted_signup_payload,
                        validate_signup, verify_signup_token)

from . import db, signing
from .errors import EventRejected, HubError
from .ingest import AnswerUse, Batch, Event, IngestExtension, meeting_at_site, open_to_site

log = logging.getLogger("piazzetta.hub.signup")
_HEX64 = frozenset("0123456789abcdef")
MAX_PRINT = 5000
# What became of a sign-up's confirmation email (Participation.register).
MAIL_OUTCOMES = ("sent", "failed", "no_smtp", "limited", "repeated", "phone")


# The confirmation code shown on the page after the form (never emailed): letters that cannot
# be mistaken for one another or for digits.
CODE_LETTERS = "ACDEFHJKMNPRTUVWXY"
# The sign-up browser's cookie (path /signup): marks of its recent sign-ups, at most this many.
BROWSER_COOKIE = "piazzetta_signup"
BROWSER_MARKS = 20


class CodeNeeded(Exception):
    """The confirmation's POST came from neither the sign-up's browser nor with its code (a
    mail scanner that submits forms, or another device): nothing happened."""

    def __init__(self, signup_id: str):
        super().__init__(signup_id)
        self.signup_id = signup_id


@dataclass
class Confirmation:
    """What a confirmation link gives: the sign-up's row and, the first time only, its card
    (`status`: issued | already_shown | contact_has_card | no_consultation)."""
    row: dict
    status: str
    card: Card | None = None


class CardPool:
    """Cards made ahead, in batches, for confirmed sign-ups (docs/protocol.md, "The pool").

    A batch's rows go to `issued_cards` in one transaction (no sign-up, no time, key order);
    the cards' codes stay in this process's memory only — never on disk, in clear or not. A
    confirmation takes one at random and writes nothing about it, so no byte the hub writes
    says which card went to whom. A new batch is made in the background when a quarter is
    left (or at once when none is). Cards not handed out when the process stops are void
    (nobody holds their code) and counted (Participation.card_counts)."""

    def __init__(self, participation: "Participation", size: int):
        self.participation = participation
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
        cards = self.participation.issue_cards(consultation_id, self.size, kind="pool")
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
class ParticipationBatch:
    """One batch's sign-ups and card uses (the ingest extension's state)."""
    signups: dict[str, dict] = field(default_factory=dict)
    card_uses: dict[tuple[str, str, str], str] = field(default_factory=dict)   # -> ballot
    new_uses: list[tuple[str, str, str]] = field(default_factory=list)
    public_keys: dict[tuple[str, str], tuple[bool, str | None]] = field(default_factory=dict)
    uses_read: set[tuple[str, str, str]] = field(default_factory=set)   # as card_uses' keys


class Participation:
    """What the hub knows of sign-ups and cards; one per Hub (`hub.participation`)."""

    def __init__(self, hub):
        self.hub = hub
        self._seed = card_signing_seed(hub.settings.secret_key)
        self.public_key = card_public_key(self._seed)
        self.pool = CardPool(self, hub.settings.card_pool)
        # PostgreSQL: sign-ups and addresses this process showed a card to lately (keys, not
        # cards: Participation._shown), in memory only.
        self._shown_until: dict[str, float] = {}
        self._shown_lock = threading.Lock()
        # Confirmations not yet written (Participation.confirm): sign-up ID -> {"changes",
        # "identity" (the address's key when a card was shown), "consultation"}.
        self._pending: dict[str, dict] = {}
        self._pending_identity: dict[str, str] = {}
        self._pending_lock = threading.Lock()
        self._confirm_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- sign-up links and forms ---------------------------------------------------------------

    def check_link(self, token: object) -> dict | None:
        """What a sign-up link attributes a sign-up to: `consultation`, `site`, `meeting`,
        `device` (an ID, for the hub's own tables), the site always the enrollment site of the
        device whose alias the link names. SignupTokenError when the link is forged, damaged,
        expired or expires later than the hub allows (PIAZZETTA_HUB_SIGNUP_LINK_MAX_HOURS).
        None when its device is unknown or revoked, or the link claims what that device may
        not attribute (another site, a consultation not open to its site): such links, printed
        or on a lost tablet, still open the form but attribute nothing."""
        claims = verify_signup_token(token, self.hub.settings.secret_key,
                                     max_ttl=self.hub.settings.signup_link_max_hours * 3600)
        device = self.hub.device_by_alias(claims["device"])
        if device is None or device["revoked_at"] is not None:
            return None
        site = device["site_id"]
        if claims.get("site") not in (None, site):
            return None
        consultation_id, meeting = claims.get("consultation"), None
        if consultation_id is not None:
            consultation = self.hub.consultation(consultation_id)
            if consultation is None or not open_to_site(consultation, site):
                return None
            meeting = meeting_at_site(consultation, claims.get("meeting"), site)
        return {"consultation": consultation_id, "site": site, "meeting": meeting,
                "device": device["id"], "exp": claims["exp"]}

    def config(self, consultation_id: str | None) -> SignupConfig:
        found = self.hub.bundle_json(consultation_id) if consultation_id else None
        if found is None:
            return SignupConfig()
        try:
            return SignupConfig.from_bundle(json.loads(found[1]))
        except ValueError:
            return SignupConfig()

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

    def card_counts(self, consultation_id: str) -> dict:
        """Cards made and handed out, for the dashboard and `cards pool`: printed, made for
        the pool, handed out to confirmed sign-ups, waiting in this process's pool, and pool
        cards void (made, never handed out, their codes gone with a process that stopped —
        or waiting in another hub process's memory)."""
        with self.hub.engine.connect() as conn:
            made = dict(conn.execute(select(db.card_batches.c.kind,
                                            func.sum(db.card_batches.c.count)).where(
                db.card_batches.c.consultation_id == consultation_id).group_by(
                db.card_batches.c.kind)).all())
            self.hub.stage.enter(conn)
            live = self.hub.stage.live()
            handed = conn.execute(select(func.count()).select_from(live).where(
                live.c.consultation_id == consultation_id,
                live.c.card_issued.is_(True))).scalar()
        with self._pending_lock:      # shown, not yet written (Participation.confirm)
            handed += sum(1 for e in self._pending.values()
                          if e.get("consultation") == consultation_id
                          and e["changes"].get("card_issued"))
        pool = int(made.get("pool") or 0)
        waiting = self.pool.waiting(consultation_id)
        return {"consultation_id": consultation_id, "printed": int(made.get("printed") or 0),
                "pool_made": pool, "handed_out": int(handed),
                "waiting": waiting, "not_handed_out": max(0, pool - int(handed) - waiting)}

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

    def register(self, form: dict, *, submission_key: str, claims: dict | None, lang: str,
                 channel: str = "phone", mail_limit=None) -> tuple[dict, bool, str]:
        """Record a sign-up from the form; (row, created, mail) where `mail` says what became
        of the confirmation email (MAIL_OUTCOMES), for a page that never claims an email was
        sent when it was not. The same `submission_key` again (a form posted twice) returns
        the first row: one sign-up, no second email. Raises ValidationError.
        `mail_limit(identity)` counts an email to that address (normalised), or raises
        HubError: the form is never refused for its address (three sign-ups with someone's
        address must not block their card; the card quota is counted at issue), only the
        emails are bounded (server/limits.py, `cards`)."""
        claims = claims or {}
        draft = validate_signup(self.config(claims.get("consultation")), form)
        row = self._row(submission_key, draft, claims.get("consultation"), claims.get("site"),
                        claims.get("meeting"), claims.get("device"), channel, lang)
        try:
            with self.hub.writer.begin() as conn:
                self.hub.stage.enter(conn)
                existing = self.hub.stage.row(conn, submission_key)
                if existing is not None:
                    return dict(existing._mapping), False, "repeated"
                # PostgreSQL: into the stage (server/stage.py), out of the WAL until the
                # hour's flush; SQLite: into `signups`, then checkpointed out of the WAL.
                self.hub.stage.insert(conn, [row])
        except IntegrityError:   # the same form posted twice at the same instant
            with self.hub.engine.connect() as conn:
                existing = self.hub.stage.row(conn, submission_key)
            if existing is None:
                raise
            return dict(existing._mapping), False, "repeated"
        db.forget_order(self.hub.engine)
        if row["contact_kind"] != "email":
            return row, True, "phone"
        if mail_limit is not None:
            try:
                mail_limit(contact_identity(row["contact"]))
            except HubError:
                return row, True, "limited"
        if row["consultation_id"] is not None:
            self.pool.ready_for(row["consultation_id"])
        return row, True, self.ask_confirmation(row, wait=True)

    def _row(self, signup_id: str, draft: SignupDraft, consultation, site, meeting, device,
             channel: str, lang: str) -> dict:
        return {"id": signup_id, "consultation_id": consultation, "site_id": site,
                "meeting_id": meeting, "device_id": device, "channel": channel,
                "name": draft.name, "contact": draft.contact, "contact_kind": draft.contact_kind,
                "age_bracket": draft.age_bracket, "neighbourhood": draft.neighbourhood,
                "lang": lang if lang in ("fr", "it", "en") else "fr",
                "created_at": db.hour(now_iso()), "confirmed_at": None, "card_issued": False}

    # -- double opt-in ---------------------------------------------------------------------------

    def confirmation_link(self, signup_id: str, *, now: float | None = None) -> str:
        """The link emailed to a sign-up: it confirms the address and shows its card once.
        Valid PIAZZETTA_HUB_CONFIRM_LINK_HOURS (2 h by default); never logged."""
        token = signing.sign({"purpose": "confirm-card", "signup": signup_id},
                             self.hub.settings.secret_key,
                             self.hub.settings.confirm_link_hours * 3600, now=now)
        return f"{self.hub.settings.public_url}/signup/confirm?t={token}"

    def ask_confirmation(self, row: dict, *, wait: bool = False) -> str:
        """Email sign-ups confirm their address (double opt-in) and get their card there.
        Without SMTP settings the link cannot be sent: the log says so, without the link (it
        shows a card) and without the address. `wait`: send now and say how it went ("sent",
        "failed"; "no_smtp"); else in a thread of its own ("queued")."""
        if row.get("contact_kind") != "email":
            return "phone"
        smtp_url = os.environ.get("PIAZZETTA_HUB_SMTP_URL", "").strip()
        if not smtp_url:
            log.warning("sign-up confirmation link not sent: no SMTP configured "
                        "(PIAZZETTA_HUB_SMTP_URL)")
            return "no_smtp"
        link = self.confirmation_link(row["id"])
        args = (smtp_url, row["contact"], row["lang"], link,
                self.hub.settings.confirm_link_hours)
        if wait:
            return "sent" if _send_mail(*args) else "failed"
        threading.Thread(target=_send_mail, args=args, name="piazzetta-mail",
                         daemon=True).start()
        return "queued"

    def _mac(self, purpose: str, signup_id: str) -> bytes:
        return hmac.new(self.hub.settings.secret_key.encode(),
                        f"piazzetta-{purpose}|{signup_id}".encode(), hashlib.sha256).digest()

    def confirm_code(self, signup_id: str) -> str:
        """The 4-letter code the page after the form shows (never emailed, never stored: made
        again from the sign-up's ID with the hub's secret)."""
        mac = self._mac("confirm-code", signup_id)
        return "".join(CODE_LETTERS[b % len(CODE_LETTERS)] for b in mac[:4])

    def browser_mark(self, signup_id: str) -> str:
        """What the sign-up's browser keeps in its cookie for this sign-up."""
        return self._mac("confirm-browser", signup_id).hex()[:24]

    def may_confirm(self, signup_id: str, marks: object, code: object) -> bool:
        """Whether a confirmation's POST comes from the sign-up's browser (its cookie) or
        carries the code shown after the form."""
        mark = self.browser_mark(signup_id)
        if isinstance(marks, str) and any(hmac.compare_digest(mark, m)
                                          for m in marks.split(".")[:BROWSER_MARKS]):
            return True
        typed = "".join(str(code or "").split()).upper()[:16]
        return len(typed) == 4 and hmac.compare_digest(typed, self.confirm_code(signup_id))

    def confirm(self, token: object, *, marks: object = None, code: object = None,
                gate: bool = False) -> Confirmation:
        """Confirm the email address of a sign-up and, the first time, hand it a card from the
        pool: one card per confirmed address (normalised: app.signup.contact_identity) and
        consultation, shown once. Nothing is written now: the sign-up's new state (confirmed,
        to the hour; card issued, yes) waits in this process's memory and is written with the
        other confirmations of the last few minutes in one transaction
        (`write_confirmations`, every PIAZZETTA_HUB_CONFIRM_BATCH_SECONDS and at a clean
        stop), rows in ID order: no commit, transaction ID or row version is a person's own,
        so none sits next to their card's first answer. The hub's checks (the same link
        again, one card per address) read the pending confirmations with the database's.
        No card row is touched, nothing says which card it was.
        TokenError when the link is forged, damaged, of the old kind, or expired
        (PIAZZETTA_HUB_CONFIRM_LINK_HOURS); with `gate`, CodeNeeded when neither the
        browser's `marks` (its cookie) nor `code` is the sign-up's (`may_confirm`)."""
        signup_id = self.confirmation_claims(token)
        stage = self.hub.stage
        with self.hub.engine.connect() as conn:
            row = stage.row(conn, signup_id)
        if row is None or row.contact_kind != "email":
            raise signing.TokenError(N_("This link is not valid."))
        # `gate` (the confirmation page's POST): from the sign-up's browser, or with the code
        # shown after the form; a mail scanner that submits the form has neither.
        if gate and not self.may_confirm(signup_id, marks, code):
            raise CodeNeeded(signup_id)
        shown_key = f"signup|{signup_id}"
        identity_key = "contact|{}|{}".format(row.consultation_id, db.sha256(
            contact_identity(row.contact or "")))
        with self._pending_lock:
            pending = dict(self._pending.get(signup_id, {}).get("changes", {}))
        # Drawn before the decision (a batch, if the pool is empty, is a commit of its own),
        # given back if this sign-up gets none.
        card = (self.pool.take(row.consultation_id)
                if row.consultation_id is not None
                and not (row.card_issued or pending.get("card_issued"))
                and not self._shown(shown_key) else None)
        # One decision at a time in this process (the hub runs one process per database:
        # docs/deploy.md), so two confirmations of one address see each other's.
        with self._confirm_lock:
            with self.hub.engine.connect() as conn:
                stage.enter(conn)
                found = stage.row(conn, signup_id)
                with self._pending_lock:
                    pending = dict(self._pending.get(signup_id, {}).get("changes", {}))
                    identity_pending = identity_key in self._pending_identity
                current = {**found._mapping, **pending}
                changes: dict = {}
                status = "no_consultation"
                if current["card_issued"] or self._shown(shown_key):
                    status = "already_shown"
                elif current["confirmed_at"] is None:
                    changes["confirmed_at"] = db.hour(now_iso())
                if current["consultation_id"] is not None and status != "already_shown":
                    if identity_pending or self._shown(identity_key) or \
                            self._contact_has_card(conn, found):
                        status = "contact_has_card"
                    elif card is not None:
                        changes["card_issued"] = True
                        status = "issued"
            if status == "issued":
                self._remember_shown(shown_key, identity_key)
            if changes:
                with self._pending_lock:
                    entry = self._pending.setdefault(signup_id, {"changes": {}, "identity": None})
                    entry["changes"].update(changes)
                    if "confirmed_at" in changes and found.confirmed_at is None:
                        entry["newly_confirmed"] = (found.consultation_id, found.site_id,
                                                    found.meeting_id)
                    if changes.get("card_issued"):
                        entry["identity"] = identity_key
                        entry["consultation"] = current["consultation_id"]
                        self._pending_identity[identity_key] = signup_id
        if status != "issued" and card is not None:
            self.pool.put_back(card)
            card = None
        return Confirmation({**current, **changes}, status, card)

    def pending_confirmations(self) -> int:
        with self._pending_lock:
            return len(self._pending)

    def write_confirmations(self) -> int:
        """The pending confirmations written in one transaction, rows in ID order (PostgreSQL:
        into the stage, out of the WAL until the hour's flush; SQLite: `signups`, then
        checkpointed out of the WAL). The number written; they stay pending if it fails."""
        with self._write_lock:
            with self._pending_lock:
                batch = {k: (v, dict(v["changes"])) for k, v in self._pending.items()}
            if not batch:
                return 0
            with self.hub.writer.begin() as conn:
                self.hub.stage.enter(conn)
                for signup_id in sorted(batch):
                    self.hub.stage.update(conn, signup_id, batch[signup_id][1])
            with self._pending_lock:
                for signup_id, (entry, written) in batch.items():
                    if self._pending.get(signup_id) is entry and entry["changes"] == written:
                        del self._pending[signup_id]
                        if entry.get("identity") and \
                                self._pending_identity.get(entry["identity"]) == signup_id:
                            del self._pending_identity[entry["identity"]]
            db.forget_order(self.hub.engine)
            return len(batch)

    def start(self) -> None:
        """Write the pending confirmations every PIAZZETTA_HUB_CONFIRM_BATCH_SECONDS, in a
        thread."""
        if self._thread is not None:
            return
        every = self.hub.settings.confirm_batch_seconds

        def run():
            while not self._stop.wait(every):
                try:
                    self.write_confirmations()
                except Exception:      # the database busy or gone: the next round
                    log.warning("the pending confirmations could not be written now")

        self._thread = threading.Thread(target=run, name="piazzetta-confirmations", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """At a clean stop: the pending confirmations written."""
        self._stop.set()
        try:
            self.write_confirmations()
        except Exception:
            log.warning("the pending confirmations could not be written at stop: their "
                        "sign-ups stay unconfirmed (the cards shown stay valid)")

    def _shown(self, key: str) -> bool:
        """Whether this process handed a card to that sign-up or address within the
        confirmation links' life. It outlives the pending confirmations (written every few
        minutes) and a crash of PostgreSQL that empties the stage: a still-valid link shows no
        second card while the hub process lives."""
        with self._shown_lock:
            now = time.monotonic()
            for old in [k for k, ends in self._shown_until.items() if ends <= now]:
                del self._shown_until[old]
            return key in self._shown_until

    def _remember_shown(self, *keys: str) -> None:
        ends = time.monotonic() + (self.hub.settings.confirm_link_hours + 1) * 3600
        with self._shown_lock:
            for key in keys:
                self._shown_until[key] = ends

    def confirmation_claims(self, token: object) -> str:
        """The sign-up ID a confirmation link names; TokenError when it is not valid."""
        claims = signing.verify(token, self.hub.settings.secret_key)
        if claims.get("purpose") != "confirm-card" or not isinstance(claims.get("signup"), str):
            raise signing.TokenError(N_("This link is not valid."))
        if claims["exp"] > time.time() + self.hub.settings.confirm_link_hours * 3600 + 60:
            raise signing.TokenError(N_("This link is not valid."))
        return claims["signup"]

    def _contact_has_card(self, conn, row) -> bool:
        """Whether another sign-up of the same address (normalised) and consultation got a
        card: the card quota, counted at issue."""
        identity = contact_identity(row.contact or "")
        live = self.hub.stage.live()
        for other in conn.execute(select(live.c.contact).where(
                live.c.consultation_id == row.consultation_id,
                live.c.contact_kind == "email", live.c.id != row.id,
                live.c.card_issued.is_(True))).scalars():
            if contact_identity(other or "") == identity:
                return True
        return False

    def ideas_by_code(self, short_code: str, alias: str | None = None) -> list[dict]:
        """The ideas with this short code, for their public page (never the contact). Codes
        are made offline on each tablet and may repeat across tablets: a receipt's `alias`
        (the collecting device's) picks its own."""
        query = select(db.proposals).where(db.proposals.c.short_code == short_code.upper())
        if alias:
            device = self.hub.device_by_alias(alias)
            if device is not None:
                query = query.where(db.proposals.c.device_id == device["id"])
        with self.hub.engine.connect() as conn:
            rows = conn.execute(query.order_by(db.proposals.c.created_at,
                                               db.proposals.c.id)).all()
        return [{"short_code": row.short_code, "consultation_id": row.consultation_id,
                 "title": row.corrected_title or row.title,
                 "text": row.corrected_text or row.text, "status": row.status,
                 "answer_status": row.answer_status, "answer_text": row.answer_text,
                 "theme": row.theme} for row in rows]

    # -- what tablets get --------------------------------------------------------------------------

    def card_index(self, consultation_ids: list[str] | None = None) -> dict:
        """The hub's public key and, per consultation, {lookup: public key} of its issued
        cards, for the bundle index: what a tablet checks a card with, never what makes one."""
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

    # -- figures -----------------------------------------------------------------------------------

    def figures(self, consultation_id: str | None = None) -> list[dict]:
        """Participants (ballots), sign-ups (and confirmed ones), conversion and ideas, per
        consultation, site and meeting; the cards each site's room hub made (`room_cards`, on
        the site's row without a meeting). No personal data."""
        rows: dict[tuple, dict] = {}

        def bucket(key):
            return rows.setdefault(key, {"consultation_id": key[0], "site_id": key[1],
                                         "meeting_id": key[2], "participants": 0,
                                         "signups": 0, "confirmed": 0, "ideas": 0,
                                         "room_cards": 0})

        with self.hub.engine.connect() as conn:
            for table, column in ((db.ballots, "participants"), (db.proposals, "ideas")):
                query = select(table.c.consultation_id, table.c.site_id, table.c.meeting_id,
                               func.count()).group_by(table.c.consultation_id, table.c.site_id,
                                                      table.c.meeting_id)
                if consultation_id:
                    query = query.where(table.c.consultation_id == consultation_id)
                for c, s, m, n in conn.execute(query):
                    bucket((c, s, m))[column] = n
            self.hub.stage.enter(conn)
            live = self.hub.stage.live()
            query = select(live.c.consultation_id, live.c.site_id, live.c.meeting_id,
                           func.count(), func.count(live.c.confirmed_at)).group_by(
                live.c.consultation_id, live.c.site_id, live.c.meeting_id)
            if consultation_id:
                query = query.where(live.c.consultation_id == consultation_id)
            for c, s, m, n, confirmed in conn.execute(query):
                row = bucket((c, s, m))
                row["signups"], row["confirmed"] = n, confirmed
        with self._pending_lock:        # confirmed, not yet written (Participation.confirm)
            for entry in self._pending.values():
                key = entry.get("newly_confirmed")
                if key and (not consultation_id or key[0] == consultation_id):
                    bucket(key)["confirmed"] += 1
        for made in self.room_cards(consultation_id):
            if made["made"]:
                bucket((made["consultation_id"], made["site_id"], None))["room_cards"] = \
                    made["made"]
        out = sorted(rows.values(), key=lambda r: tuple(str(r[k] or "") for k in (
            "consultation_id", "site_id", "meeting_id")))
        for row in out:
            row["conversion"] = (round(row["signups"] / row["participants"], 3)
                                 if row["participants"] else None)
        return out

    # -- ingest (server.ingest): `signup` events, and cards in identified ballots ----------------

    def ingest_extension(self) -> IngestExtension[ParticipationBatch]:
        """The extension the hub registers: the `signup` handler (its event is stored without
        the resident's data), the card check of answers, and the write of both."""
        extension = IngestExtension("participation", ParticipationBatch,
                                    preload=self.preload_cards, check_answer=self.check_card,
                                    write=self.write_batch)
        extension.handles("signup", self.apply_signup_event, stored_payload=stored_signup)
        return extension

    def apply_signup_event(self, batch: Batch, state: ParticipationBatch, event: Event) -> None:
        """A sign-up typed on a tablet (`signup` event)."""
        payload = event.payload
        if batch.device.get("relayed_by") and "signup_id" not in payload \
                and payload.get("redacted") is True:
            # Forwarded by a room hub as the room stored it (no person, no sign-up ID): the
            # tablet's event, counted once; the person's row comes as the room's own record
            # (`room_signup`, server/relay.py).
            return
        signup_id = batch.ident(payload, "signup_id")
        consultation_id = batch.optional_ident(payload, "consultation_id")
        consultation = (batch.consultation(payload) if consultation_id is not None else None)
        site = batch.site_id           # the tablet's enrollment, never the payload
        meeting_id = batch.optional_ident(payload, "meeting_id")
        meeting = meeting_at_site(consultation, meeting_id, site) if consultation else None
        draft = validate_signup(self.config(consultation_id), payload)
        if signup_id in state.signups or \
                self.hub.stage.row(batch.conn, signup_id) is not None:
            return
        lang = payload.get("lang") if payload.get("lang") in ("fr", "it", "en") else "fr"
        state.signups[signup_id] = self._row(signup_id, draft, consultation_id, site, meeting,
                                             batch.device_id, "tablet", lang)

    def preload_cards(self, batch: Batch, state: ParticipationBatch, events: list) -> None:
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

    def check_card(self, batch: Batch, state: ParticipationBatch, use: AnswerUse) -> None:
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

    def write_batch(self, batch: Batch, state: ParticipationBatch) -> None:
        if state.signups:
            # PostgreSQL: into the stage (server/stage.py), out of the WAL until the hour's flush.
            self.hub.stage.insert(batch.conn, list(state.signups.values()))
            batch.wrote_person = True
            for row in state.signups.values():
                self.ask_confirmation(row)
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


def _is_hex(value: object, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and set(value) <= _HEX64


def stored_signup(payload) -> dict:
    """What the events table (and the review table) keep of a `signup` event: no personal
    data, and not its sign-up ID either — the row then shares nothing with the person's row in
    `signups`, so the tablet's sequence numbers around it (its answers) lead to no one."""
    return {k: v for k, v in redacted_signup_payload(payload).items() if k != "signup_id"}


def participation(hub) -> Participation:
    """The hub's Participation (made with the hub)."""
    return hub.participation


def _send_mail(smtp_url: str, to: str, lang: str, link: str, hours: int = 2) -> bool:
    """Send the confirmation email: `smtp://user:password@host:port` (STARTTLS when offered)
    or `smtps://…`. True when the server took it; failures are logged without the address."""
    from app.i18n import gettext_for
    _ = gettext_for(lang)
    parts = urlsplit(smtp_url)
    message = EmailMessage()
    message["Subject"] = _("Confirm your sign-up")
    message["From"] = os.environ.get("PIAZZETTA_HUB_SMTP_FROM", "piazzetta@localhost")
    message["To"] = to
    message.set_content(_("Hello,\n\nTo confirm your sign-up and get your participation card, "
                          "open this link within {hours} h:\n{link}\n\nThe card is shown only "
                          "once: print the page or take a screenshot.\n\nIf you did not sign "
                          "up, ignore this message.").format(link=link, hours=hours))
    try:
        cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with cls(parts.hostname or "localhost", parts.port or (465 if parts.scheme == "smtps"
                                                               else 25), timeout=20) as smtp:
            if parts.scheme == "smtp":
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.error("sign-up confirmation email not sent: %s", type(exc).__name__)
        return False


__all__ = ["Card", "Confirmation", "Participation", "participation", "HubError", "ValidationError"]
