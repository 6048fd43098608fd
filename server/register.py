"""The register of people at the hub: sign-ups, their confirmation (double opt-in) and the
figures of participation (docs/protocol.md, "Sign-up").

The sign-up page (server/routes/signup.py) and the `signup` events of tablets both end here.
Personal data (name, contact, age bracket, neighbourhood) lives only in the `signups` table:
never in a log line, an export of results, or the events table (a `signup` event is stored
there without it). A sign-up keeps only whether a card was shown to it.

This module knows nothing of participation cards (server/issued_cards.py): the two share no
code and import nothing of each other (tests/unit/test_participation_split.py), so that who
took part and what was answered stay apart (DESIGN.md, invariant 9). A confirmation draws a
card from a `CardSource` it is given (server/participation.py, the one place that connects
the two) and passes it on without reading it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.clock import now_iso
from app.counts import PHONE_DEVICE_PREFIX
from app.errors import N_
from app.signup import (SignupConfig, SignupDraft, contact_identity, redacted_signup_payload,
                        validate_signup, verify_signup_token)

from . import db, mailer, signing
from .errors import HubError
from .ingest import Batch, Event, meeting_at_site, open_to_site

log = logging.getLogger("piazzetta.hub.signup")
# What became of a sign-up's confirmation email (SignupRegister.register).
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
    card: object | None = None      # from the CardSource, passed on unread


class CardSource(Protocol):
    """Where a confirmation gets the card it shows (server/participation.py gives the card
    pool of server/issued_cards.py). The register never reads a card: it takes one, shows it
    through `Confirmation.card`, or gives it back."""

    def take(self, consultation_id: str) -> object: ...

    def put_back(self, card) -> None: ...

    def ready_for(self, consultation_id: str) -> None: ...


@dataclass
class SignupBatch:
    """One batch's sign-ups (the ingest's state for `signup` events)."""
    signups: dict[str, dict] = field(default_factory=dict)


class SignupRegister:
    """What the hub knows of sign-ups; one per Hub (`hub.participation.signups`)."""

    def __init__(self, hub, cards: CardSource):
        self.hub = hub
        self.cards = cards
        # PostgreSQL: sign-ups and addresses this process showed a card to lately (keys, not
        # cards: SignupRegister._shown), in memory only.
        self._shown_until: dict[str, float] = {}
        self._shown_lock = threading.Lock()
        # Confirmations not yet written (SignupRegister.confirm): sign-up ID -> {"changes",
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
            self.cards.ready_for(row["consultation_id"])
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
        smtp_url = mailer.smtp_url()
        if not smtp_url:
            log.warning("sign-up confirmation link not sent: no SMTP configured "
                        "(PIAZZETTA_HUB_SMTP_URL)")
            return "no_smtp"
        link = self.confirmation_link(row["id"])
        args = (smtp_url, row["contact"], row["lang"], link,
                self.hub.settings.confirm_link_hours)
        if wait:
            return "sent" if mailer.send_confirmation(*args) else "failed"
        threading.Thread(target=mailer.send_confirmation, args=args, name="piazzetta-mail",
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
        card = (self.cards.take(row.consultation_id)
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
            self.cards.put_back(card)
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

    def cards_handed_out(self, consultation_id: str) -> int:
        """How many sign-ups of a consultation were shown a card (written, and pending)."""
        with self.hub.engine.connect() as conn:
            self.hub.stage.enter(conn)
            live = self.hub.stage.live()
            handed = conn.execute(select(func.count()).select_from(live).where(
                live.c.consultation_id == consultation_id,
                live.c.card_issued.is_(True))).scalar()
        with self._pending_lock:      # shown, not yet written (SignupRegister.confirm)
            handed += sum(1 for e in self._pending.values()
                          if e.get("consultation") == consultation_id
                          and e["changes"].get("card_issued"))
        return int(handed)

    # -- figures -----------------------------------------------------------------------------------

    def figures(self, consultation_id: str | None = None,
                room_cards: list[dict] = ()) -> list[dict]:
        """Participants (ballots; `phones`: of them, from residents' phones), sign-ups (and confirmed ones), conversion and ideas, per
        consultation, site and meeting; the cards each site's room hub made (`room_cards`: the
        rows {consultation_id, site_id, made} server/participation.py passes, on the site's
        row without a meeting). No personal data."""
        rows: dict[tuple, dict] = {}

        def bucket(key):
            return rows.setdefault(key, {"consultation_id": key[0], "site_id": key[1],
                                         "meeting_id": key[2], "participants": 0,
                                         "signups": 0, "confirmed": 0, "ideas": 0,
                                         "room_cards": 0, "phones": 0})

        with self.hub.engine.connect() as conn:
            for table, column in ((db.ballots, "participants"), (db.proposals, "ideas")):
                query = select(table.c.consultation_id, table.c.site_id, table.c.meeting_id,
                               func.count()).group_by(table.c.consultation_id, table.c.site_id,
                                                      table.c.meeting_id)
                if consultation_id:
                    query = query.where(table.c.consultation_id == consultation_id)
                for c, s, m, n in conn.execute(query):
                    bucket((c, s, m))[column] = n
            # Of the participants, those who answered from their phones (app.counts: the
            # ballots of a hub's phone device).
            query = select(db.ballots.c.consultation_id, db.ballots.c.site_id,
                           db.ballots.c.meeting_id, func.count()).where(
                db.ballots.c.device_id.startswith(PHONE_DEVICE_PREFIX, autoescape=True)
            ).group_by(db.ballots.c.consultation_id, db.ballots.c.site_id,
                       db.ballots.c.meeting_id)
            if consultation_id:
                query = query.where(db.ballots.c.consultation_id == consultation_id)
            for c, s, m, n in conn.execute(query):
                bucket((c, s, m))["phones"] = n
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
        with self._pending_lock:        # confirmed, not yet written (SignupRegister.confirm)
            for entry in self._pending.values():
                key = entry.get("newly_confirmed")
                if key and (not consultation_id or key[0] == consultation_id):
                    bucket(key)["confirmed"] += 1
        for made in room_cards:
            if made["made"]:
                bucket((made["consultation_id"], made["site_id"], None))["room_cards"] = \
                    made["made"]
        out = sorted(rows.values(), key=lambda r: tuple(str(r[k] or "") for k in (
            "consultation_id", "site_id", "meeting_id")))
        for row in out:
            row["conversion"] = (round(row["signups"] / row["participants"], 3)
                                 if row["participants"] else None)
        return out


    # -- ingest (server.ingest): `signup` events ----------------------------------------------

    def apply_signup_event(self, batch: Batch, state: SignupBatch, event: Event) -> None:
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


    def write_signups(self, batch: Batch, state: SignupBatch) -> None:
        if state.signups:
            # PostgreSQL: into the stage (server/stage.py), out of the WAL until the hour's flush.
            self.hub.stage.insert(batch.conn, list(state.signups.values()))
            batch.wrote_person = True
            for row in state.signups.values():
                self.ask_confirmation(row)


def stored_signup(payload) -> dict:
    """What the events table (and the review table) keep of a `signup` event: no personal
    data, and not its sign-up ID either — the row then shares nothing with the person's row in
    `signups`, so the tablet's sequence numbers around it (its answers) lead to no one."""
    return {k: v for k, v in redacted_signup_payload(payload).items() if k != "signup_id"}
