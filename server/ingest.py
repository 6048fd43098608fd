"""One batch of events from one device, applied and written in one transaction, and the registry
that says which part of the hub handles which event type (docs/protocol.md, "Hub internals").

The hub (server.hub.Hub) builds one IngestRegistry and registers an IngestExtension per part:
ballots and answers (server.ballots), ideas (server.ideas), counts (server.channels), sign-ups
and participation cards (server.participation). An extension declares its handlers (one per
event type, refused when a type already has one), the class of its per-batch state, and its
hooks. For each request the hub makes a Batch, which:

1. checks every envelope, before any database work;
2. reads which event IDs are already stored (duplicates, conflicts), then calls each
   extension's `preload`;
3. calls the one handler of each new event's type with the extension's own state;
4. writes (`Batch.write`, the one place that says how a batch is written): the events, then
   each extension's `write` hook in registration order, then the events kept for review.

Handlers and hooks use the batch's public helpers only: `conn`, `device`, `device_id`,
`site_id`, `now`, `deltas`, `consultation()`, `meeting()`, `ident()`, `optional_ident()`,
`check_answer()`.

A device acts only on consultations open to the site it was enrolled at (`open_to_site`):
`consultation()` refuses the others, and the site an event is attributed to is always the
device's, never one its payload names.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, TypeVar

from sqlalchemy import ARRAY, Text, any_, bindparam, select, update

from app.canonical import canonical_json
from app.clock import now_iso
from app.counts import PHONE_DEVICE_PREFIX
from app.errors import N_, ValidationError
from app.identifiers import CONTENT_ID, RECORD_ID
from app.model import Consultation
from app.signup import PERSONAL_FIELDS
from app.text import has_lone_surrogate

from . import db
from .errors import EventRejected
from .results import TallyDelta

# The identifier rules are app/identifiers.py's; these names stay for their callers.
IDENT, BUNDLE_IDENT = RECORD_ID, CONTENT_ID
ENVELOPE_KEYS = ("id", "device_id", "seq", "type", "recorded_at", "payload")

S = TypeVar("S")


@dataclass(frozen=True)
class Event:
    """One envelope that passed the checks: what a handler receives."""
    id: str
    seq: int
    type: str
    payload: dict
    recorded_at: str


@dataclass(frozen=True)
class AnswerUse:
    """An answer about to be recorded, for the extensions that check answers (cards)."""
    consultation_id: str
    ballot_id: str
    question_id: str
    payload: dict
    mode: str | None = None     # the ballot's mode when known ("identified": a card is due)


def open_to_site(consultation: Consultation, site_id: str | None) -> bool:
    """Whether a device enrolled at `site_id` may act on `consultation`: the consultation lists
    that site, or no site at all (the rule GET /api/v1/bundle sends consultations by)."""
    return not consultation.sites or any(site.id == site_id for site in consultation.sites)


def meeting_at_site(consultation: Consultation, meeting_id: str | None,
                    site_id: str | None) -> str | None:
    """`meeting_id` when it is a meeting of `consultation` held at `site_id`, else None: a
    device attributes nothing to another site's meeting, nor to one the bundle does not know."""
    if meeting_id is None or site_id is None:
        return None
    return meeting_id if any(m.id == meeting_id and m.site == site_id
                             for m in consultation.meetings) else None


NOT_OPEN_HERE = N_("This consultation is not open at this tablet's site.")


EventHandler = Callable[["Batch", Any, Event], None]
"""handler(batch, state, event): validate the event (EventRejected or ValidationError refuse
it alone), then record in `state` what to write and in `batch.deltas` what the tallies gain."""


@dataclass(frozen=True)
class Handler:
    extension: str
    apply: EventHandler
    stored_payload: Callable[[dict], dict] | None = None   # what the events table keeps
    # Kept apart (rehearsal, server/rehearsal.py): the event is never written to the events
    # table (what tallies, closings and the relay read); its extension keeps what it needs.
    kept_apart: bool = False


class RegistryError(ValueError):
    """An extension point claimed twice: a second handler for an event type, or the same
    extension registered again. Raised when the hub is built, never at ingest."""


@dataclass(eq=False)
class IngestExtension(Generic[S]):
    """What one part of the hub adds to ingest.

    `new_state()` makes the extension's state for one batch (a dataclass of its own); hooks get
    it as their second argument:
    `preload(batch, state, events)` reads what the batch's events refer to, in few queries;
    `check_answer(batch, state, use: AnswerUse)` may refuse an answer (EventRejected);
    `write(batch, state)` writes what the handlers recorded, inside the batch's transaction.
    """
    name: str
    new_state: Callable[[], S]
    preload: Callable[["Batch", S, list[Event]], None] | None = None
    check_answer: Callable[["Batch", S, AnswerUse], None] | None = None
    write: Callable[["Batch", S], None] | None = None
    handlers: dict[str, Handler] = field(default_factory=dict, init=False)

    def handles(self, event_type: str, apply: EventHandler, *,
                stored_payload: Callable[[dict], dict] | None = None,
                kept_apart: bool = False) -> None:
        """Declare `apply` as this extension's handler of `event_type`. `stored_payload` says
        what the hub keeps of such a payload (the events table, events kept for review) when
        it holds personal data. `kept_apart`: such events never enter the events table (the
        extension stores them; a resend is its own to recognise)."""
        if event_type in self.handlers:
            raise RegistryError(f"{self.name} already handles {event_type!r}")
        self.handlers[event_type] = Handler(self.name, apply, stored_payload, kept_apart)


class IngestRegistry:
    """Event type → its one handler, and the extensions in the order their hooks run."""

    def __init__(self, extensions: Iterable[IngestExtension] = ()):
        self._extensions: list[IngestExtension] = []
        self._handlers: dict[str, Handler] = {}
        for extension in extensions:
            self.register(extension)

    def register(self, extension: IngestExtension) -> None:
        """Add an extension; RegistryError when its name or one of its event types is taken."""
        if any(e.name == extension.name for e in self._extensions):
            raise RegistryError(f"the extension {extension.name!r} is already registered")
        for event_type in extension.handlers:
            taken = self._handlers.get(event_type)
            if taken is not None:
                raise RegistryError(f"{event_type!r} is already handled by {taken.extension}")
        self._extensions.append(extension)
        self._handlers.update(extension.handlers)   # a copy: later additions are not seen

    @property
    def extensions(self) -> tuple[IngestExtension, ...]:
        return tuple(self._extensions)

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    def handler(self, event_type: object) -> Handler | None:
        return self._handlers.get(event_type) if isinstance(event_type, str) else None


def redacted_payload(payload: dict) -> dict:
    """A payload without a resident's personal data (name, contact, age bracket,
    neighbourhood), marked `redacted` when something was taken."""
    if not any(payload.get(key) is not None for key in PERSONAL_FIELDS):
        return payload
    return {**{k: v for k, v in payload.items() if k not in PERSONAL_FIELDS},
            **({"contact": None} if "contact" in payload else {}), "redacted": True}


class Batch:
    """One batch of events from `device`, inside the transaction `conn`. Built by the hub."""

    def __init__(self, registry: IngestRegistry, conn, device: dict,
                 consultation: Callable[[str, int], Consultation | None]):
        self.conn = conn
        self.device = device
        self.now = now_iso()
        if str(device.get("id") or "").startswith(PHONE_DEVICE_PREFIX):
            # A phone's answer is stored the moment it is typed, one at a time: its arrival
            # time is the answer's own (who in the room tapped when); kept to the hour, as
            # its recorded_at (server/phone_ballot.py).
            self.now = db.hour(self.now)
        self.deltas: list[TallyDelta] = []   # the tallies' changes, applied once committed
        # A person's row written (a sign-up): once committed, the hub checkpoints the WAL so
        # that no commit order pairs it with the ballots around it (db.forget_order).
        self.wrote_person = False
        # Current versions, read once a batch (another process may have imported one).
        self.versions: dict[str, int] = dict(conn.execute(
            select(db.consultations.c.id, db.consultations.c.version)).all())
        self._registry = registry
        self._find_consultation = consultation
        self._states = {e.name: e.new_state() for e in registry.extensions}
        self._event_rows: list[dict] = []
        self._review_rows: list[dict] = []

    # -- helpers for handlers and hooks ----------------------------------------------------------

    @property
    def device_id(self) -> str:
        return self.device["id"]

    @property
    def site_id(self) -> str | None:
        """The site the device was enrolled at: what its events are attributed to."""
        return self.device.get("site_id")

    def consultation(self, payload: dict) -> Consultation:
        """The consultation a payload names, at its current version, or EventRejected (also
        when it is not open to the device's site)."""
        consultation_id = payload.get("consultation_id")
        version = self.versions.get(consultation_id) if isinstance(consultation_id, str) else None
        consultation = (self._find_consultation(consultation_id, version)
                        if version is not None else None)
        if consultation is None:
            raise EventRejected(N_("Unknown consultation."), "payload.consultation_id")
        if not open_to_site(consultation, self.site_id):
            raise EventRejected(NOT_OPEN_HERE, "payload.consultation_id",
                                code="consultation_not_open_here")
        return consultation

    def meeting(self, consultation: Consultation, payload: dict) -> str | None:
        """The meeting a payload names when it is one of `consultation` at the device's site,
        else None (EventRejected when it is not an identifier at all)."""
        return meeting_at_site(consultation, self.optional_ident(payload, "meeting_id"),
                               self.site_id)

    @staticmethod
    def ident(payload: dict, key: str) -> str:
        """`payload[key]` as an identifier made on a device, or EventRejected."""
        value = payload.get(key)
        if not isinstance(value, str) or not IDENT.match(value):
            raise EventRejected(N_("An identifier (letters, digits, - _) is expected here."),
                                "payload." + key)
        return value

    @staticmethod
    def optional_ident(payload: dict, key: str) -> str | None:
        """`payload[key]` as a bundle's identifier (site, meeting…), None when absent."""
        value = payload.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not BUNDLE_IDENT.match(value):
            raise EventRejected(N_("An identifier (letters, digits, - _ .) is expected here."),
                                "payload." + key)
        return value

    def check_answer(self, use: AnswerUse) -> None:
        """Let every extension that checks answers refuse this one (EventRejected)."""
        for extension in self._registry.extensions:
            if extension.check_answer is not None:
                extension.check_answer(self, self._states[extension.name], use)

    # -- the batch ---------------------------------------------------------------------------------

    def check_envelope(self, env: Any) -> Event:
        """The envelope's fields, checked before any database work, or EventRejected."""
        if not isinstance(env, dict):
            raise EventRejected(N_("An event must be an object."), "event")
        if has_lone_surrogate(env):
            # No byte of it could be written, hashed or answered in UTF-8: this event only is
            # refused (a tablet's free text is cleaned of them: app.text.clean_text).
            raise EventRejected(N_("This event holds text that is not valid Unicode."),
                                "event", code="text_invalid")
        event_id = env.get("id")
        if not isinstance(event_id, str) or not IDENT.match(event_id):
            raise EventRejected(N_("An event ID (1 to 64 letters, digits, - or _) is expected."),
                                "id")
        if env.get("device_id") != self.device_id:
            raise EventRejected(N_("This event belongs to another device."), "device_id")
        seq = env.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq < 2 ** 62:
            raise EventRejected(N_("A sequence number (a whole number from 1) is expected."),
                                "seq")
        type_ = env.get("type")
        if self._registry.handler(type_) is None:
            raise EventRejected(N_("Unknown event type."), "type")
        recorded_at = env.get("recorded_at")
        if not isinstance(recorded_at, str) or len(recorded_at) > 64:
            raise EventRejected(N_("The time an event was recorded is expected as text."),
                                "recorded_at")
        payload = env.get("payload")
        if not isinstance(payload, dict):
            raise EventRejected(N_("An event payload must be an object."), "payload")
        return Event(event_id, seq, type_, payload, recorded_at)

    def run(self, envelopes: list) -> list[dict]:
        """Apply and write the batch; one result per envelope, in order."""
        results: list[dict | None] = [None] * len(envelopes)
        prepared: list[tuple[int, Event, str, str, str]] = []
        device_json = canonical_json(self.device_id)
        for index, env in enumerate(envelopes):
            try:
                event = self.check_envelope(env)
            except EventRejected as exc:
                results[index] = self.reject(env, exc)
                continue
            # The clock annotates, it is not content: a tablet coarsens an acknowledged
            # event's time (app/store.py), and sending it again is still a duplicate.
            payload_json = canonical_json(event.payload)
            content = event_content(device_json, event, payload_json)
            prepared.append((index, event, content, db.sha256(content), payload_json))
        existing = self._existing_events([p[1].id for p in prepared])
        events = [p[1] for p in prepared]
        for extension in self._registry.extensions:
            if extension.preload is not None:
                extension.preload(self, self._states[extension.name], events)
        for index, event, content, digest, payload_json in prepared:
            known = existing.get(event.id)
            if known is not None:
                if known == digest or known == _digest_with_time(self.device_id, event) \
                        or self._same_but_personal(event):
                    results[index] = {"id": event.id, "status": "duplicate"}
                else:
                    results[index] = self.conflict(event.id, content, digest)
                continue
            handler = self._registry.handler(event.type)
            try:
                handler.apply(self, self._states[handler.extension], event)
            except EventRejected as exc:
                results[index] = self.reject(envelopes[index], exc)
                continue
            except ValidationError as exc:
                results[index] = self.reject(envelopes[index], EventRejected(
                    exc.message, "payload." + (exc.field or ""), **exc.params))
                continue
            if handler.kept_apart:
                results[index] = {"id": event.id, "status": "stored"}
                continue
            existing[event.id] = digest
            # Personal data lives in its own table only (sign-ups, an idea's contact); the hash
            # above still tells a resend from a conflict.
            stored = (canonical_json(handler.stored_payload(event.payload))
                      if handler.stored_payload else payload_json)
            self._event_rows.append({"id": event.id, "device_id": self.device_id,
                                     "seq": event.seq, "type": event.type,
                                     "recorded_at": event.recorded_at, "received_at": self.now,
                                     "content_hash": digest, "payload": stored})
            results[index] = {"id": event.id, "status": "stored"}
        self.write()
        return results

    def write(self) -> None:
        """How one batch is written: events, then each extension's `write` in registration
        order, then the events kept for review. All in the batch's one transaction."""
        conn = self.conn
        if self._event_rows:
            conn.execute(db.events.insert(), self._event_rows)
            conn.execute(update(db.devices).where(db.devices.c.id == self.device_id)
                         .values(last_seen_at=self.now))
        for extension in self._registry.extensions:
            if extension.write is not None:
                extension.write(self, self._states[extension.name])
        if self._review_rows:
            stmt = db.dialect_insert(conn, db.event_reviews)
            conn.execute(stmt.on_conflict_do_nothing(), self._review_rows)

    # -- what is kept for review -----------------------------------------------------------------

    def reject(self, env: Any, exc: EventRejected) -> dict:
        event_id = env.get("id") if isinstance(env, dict) else None
        event_id = event_id if isinstance(event_id, str) and not has_lone_surrogate(event_id) \
            else ""
        error = exc.error
        try:
            envelope = canonical_json(self.redacted_envelope(env))
        except (TypeError, ValueError):
            envelope = canonical_json({"redacted": True, "unreadable": type(env).__name__})
        # Kept for review with any lone surrogate as "?" (it cannot be stored as UTF-8).
        envelope = envelope.encode("utf-8", "replace").decode("utf-8")
        self._review_rows.append({"event_id": event_id[:200],
                                  "content_hash": db.sha256(envelope),
                                  "device_id": self.device_id, "kind": "rejected",
                                  "reason": error.describe(), "envelope": envelope,
                                  "received_at": self.now})
        return {"id": event_id, "status": "rejected", **error.as_dict(), "code": exc.code}

    def conflict(self, event_id: str, content: str, digest: str) -> dict:
        message = N_("Another event with this ID was already received.")
        self._review_rows.append({"event_id": event_id, "content_hash": digest,
                                  "device_id": self.device_id, "kind": "conflict",
                                  "reason": message,
                                  "envelope": canonical_json(self.redacted_envelope(
                                      dict(json.loads(content), id=event_id))),
                                  "received_at": self.now})
        return {"id": event_id, "status": "conflict", "code": "event_conflict", "field": "id",
                "message": message}

    def redacted_envelope(self, env: Any) -> dict:
        """What the hub keeps of an event it refused or found in conflict: the envelope without
        personal data (whatever its type says, a payload that is not an object is dropped)."""
        if not isinstance(env, dict):
            return {"redacted": True, "unreadable": type(env).__name__}
        payload = env.get("payload")
        if isinstance(payload, dict):
            handler = self._registry.handler(env.get("type"))
            payload = (handler.stored_payload(payload) if handler and handler.stored_payload
                       else redacted_payload(payload))
        elif payload is not None:
            payload = {"redacted": True, "unreadable": type(payload).__name__}
        kept = {k: v for k, v in env.items() if k in ENVELOPE_KEYS}
        return {**kept, "payload": payload}

    def _same_but_personal(self, event: Event) -> bool:
        """Whether the stored event with this ID is this one but for personal data: a tablet
        that synced through a room hub redacts a sign-up or an idea's contact once the room
        acknowledged it, and sends it so when it enrolls here afterwards, while the room
        forwarded it whole (docs/protocol.md, "Hub to hub"). The same device, seq, type and
        payload once personal fields and the `redacted` mark are left out, and this one carries
        no personal data (a resend with other personal data is a conflict): a duplicate."""
        if any(event.payload.get(key) is not None for key in PERSONAL_FIELDS):
            return False
        row = self.conn.execute(select(db.events.c.device_id, db.events.c.seq, db.events.c.type,
                                       db.events.c.payload).where(db.events.c.id == event.id)
                                ).first()
        if row is None or (row.device_id, row.seq, row.type) != (
                self.device_id, event.seq, event.type):
            return False
        try:
            stored = json.loads(row.payload)
        except ValueError:
            return False
        return isinstance(stored, dict) and _impersonal(stored) == _impersonal(event.payload)

    def _existing_events(self, ids: list[str]) -> dict[str, str]:
        if self.conn.dialect.name == "postgresql":
            # One statement text whatever the batch's size (`= ANY(array)`, not an IN list
            # rendered anew): compiled once, prepared by the driver.
            return dict(self.conn.execute(_EXISTING_EVENTS_PG, {"ids": sorted(set(ids))}).all())
        found = {}
        for chunk in db.in_chunks(sorted(set(ids))):
            found.update(self.conn.execute(select(db.events.c.id, db.events.c.content_hash)
                                           .where(db.events.c.id.in_(chunk))).all())
        return found


_EXISTING_EVENTS_PG = select(db.events.c.id, db.events.c.content_hash).where(
    db.events.c.id == any_(bindparam("ids", type_=ARRAY(Text))))


def event_content(device_json: str, event: Event, payload_json: str) -> str:
    """What an event's content hash is taken of: canonical_json({"device_id", "payload",
    "seq", "type"}) written around the device ID's and the payload's canonical JSON already
    made (the payload's is stored too), not encoded a second time. Keys in canonical (sorted)
    order; tests/unit/test_ingest_content.py compares the two."""
    return '{"device_id":%s,"payload":%s,"seq":%d,"type":%s}' % (
        device_json, payload_json, event.seq, _type_json(event.type))


@functools.lru_cache(maxsize=256)
def _type_json(type_: str) -> str:
    return canonical_json(type_)      # a registered event type (check_envelope): few


def _impersonal(payload: dict) -> dict:
    return {k: v for k, v in payload.items()
            if k not in PERSONAL_FIELDS + ("redacted", "card_code", "signup_id")}


def _digest_with_time(device_id: str, event: Event) -> str:
    """The content hash hubs stored before the clock was left out of it (time included), so
    that an unchanged resend of an event stored then is still a duplicate."""
    return db.sha256(canonical_json({"device_id": device_id, "seq": event.seq,
                                     "type": event.type, "recorded_at": event.recorded_at,
                                     "payload": event.payload}))
