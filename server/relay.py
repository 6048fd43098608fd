"""Hub to hub, the central side (docs/protocol.md, "Hub to hub").

A room hub enrolls here as a device of kind `relay`, bound to one site by its code (staff make
it: `python -m server relay-code --site S`, the dashboard, or the admin API with
`"kind": "relay"`). It then:

- registers the devices it enrolled (`register_devices`): the central hub takes events on
  behalf of such a device only from that relay, and only for the relay's site;
- forwards batches of envelopes (`ingest_relayed`): each tablet's envelope exactly as the
  tablet made it (its ID, device, seq), applied by the same ingest as a tablet's own push
  (server.ingest.Batch, one per original device, all in one transaction), so ownership,
  duplicates and conflicts are judged per original device; and the room's own records under
  the relay's own ID: staff's counts (`tally_count`) and sign-ups made on the room's page
  (`room_signup`, this module's ingest extension: the person's data and whether a card was
  shown to them, never which card);
- exchanges issued participation cards both ways (`cards_for_relay`, `cards_from_relay`:
  lookup and public key — nothing that makes an answer, nothing about who holds them), so
  that each hub checks the other's cards' answers; the cards a room makes are counted and
  bounded per consultation by its site's quota (server.participation);
- reads the answers to the ideas its devices collected (`answers_for_relay`).

Every relayed batch leaves a row in `relay_batches` (what arrived, when), which the dashboard
and `export relays` sum per relay and site (`relay_summary`).
"""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select, update

from app.canonical import canonical_json
from app.clock import now_iso
from app.errors import N_
from app.signup import PERSONAL_FIELDS, contact_identity, validate_signup
from app.text import clean_text

from . import db
from .body import RELAY_BATCH_FACTOR as BODY_RELAY_FACTOR
from .errors import AuthError, EventRejected, HubError
from .ingest import IDENT, Batch, Event, IngestExtension, meeting_at_site

RELAY = "relay"
ROOM_SIGNUP = "room_signup"
TIME = re.compile(r"^[0-9T:.+\-Z ]{10,40}$")
MAX_DEVICES = 500
# A room hub forwards a whole room's backlog: its batches may hold this many times a tablet's
# `max_batch` (fewer round trips and transactions; the body limit follows, server/body.py).
RELAY_BATCH_FACTOR = BODY_RELAY_FACTOR
log = logging.getLogger("piazzetta.hub.relay")


def relay_max_batch(settings) -> int:
    return settings.max_batch * RELAY_BATCH_FACTOR

NOT_REGISTERED = N_("This room hub did not register this device.")
OTHER_SITE = N_("This device was registered for another site.")
ENROLLED_HERE = N_("This tablet is enrolled with the central hub directly: staff can move it "
                   "to a room hub.")
SEQ_JUMP = N_("This sequence number jumps too far ahead of the device's last one (at most "
              "{max} more).")
# A forwarded event's `seq` may pass its device's highest stored here by at most this much (the
# first one by this much over the lowest of its batch): a room hub cannot put an event beyond
# the reach of its tablet's own later ones (an idea's moderation, an answer).
SEQ_JUMP_MAX = 100_000
REVOKED = N_("This tablet was revoked: its data is kept, enroll it again to send it.")


def is_relay(device: dict | None) -> bool:
    return bool(device) and device.get("kind") == RELAY


def require_relay(device: dict) -> dict:
    """`device` when it is a room hub's enrollment, else HubError 403 `relay_only`."""
    if not is_relay(device):
        raise HubError(N_("Only a room hub may call this."), status=403, code="relay_only")
    return device


# -- registering the room's devices ---------------------------------------------------------------

def register_devices(hub, relay: dict, devices: object) -> list[dict]:
    """Register the devices a room hub enrolled; one result per device, in order:
    `registered`, or `refused` with a code and the reason (another room hub registered it,
    it is a room hub, staff revoked it here, a malformed ID). Nothing but the refused one is
    left out."""
    require_relay(relay)
    if not isinstance(devices, list):
        raise HubError(N_("A list of devices is expected."), field="devices")
    if len(devices) > MAX_DEVICES:
        raise HubError(N_("Too many devices in one request: at most {max}."), status=413,
                       code="batch_too_large", max=MAX_DEVICES)
    now = now_iso()
    results = []
    with hub.unit_of_work() as uow:
        conn = uow.conn
        still_live(conn, relay)
        for item in devices:
            device_id = item.get("device_id") if isinstance(item, dict) else None
            try:
                results.append(_register(conn, relay, item, device_id, now))
            except EventRejected as exc:
                results.append({"device_id": device_id if isinstance(device_id, str) else "",
                                "status": "refused", "code": exc.code,
                                "message": exc.error.describe()})
    return results


def _register(conn, relay: dict, item: dict, device_id, now: str) -> dict:
    if not isinstance(device_id, str) or not IDENT.match(device_id) or device_id == "staff":
        raise EventRejected(N_("A device identifier (1 to 64 letters, digits, - or _) is "
                               "expected."), "device_id", code="device_id_invalid")
    known = conn.execute(select(db.devices.c.kind, db.devices.c.revoked_at,
                                db.devices.c.enrolled_at).where(
        db.devices.c.id == device_id)).first()
    if device_id == relay["id"] or (known is not None and known.kind == RELAY):
        raise EventRejected(N_("A room hub cannot be registered as one of its devices."),
                            "device_id", code="device_is_relay")
    if known is not None and known.revoked_at is not None:
        raise EventRejected(REVOKED, "device_id", code="device_revoked")
    row = conn.execute(select(db.relay_devices).where(
        db.relay_devices.c.device_id == device_id)).first()
    mine = row is not None and row.relay_id == relay["id"]
    if known is not None and not (mine and row.registered_at > known.enrolled_at):
        # A direct enrollment takes precedence; staff move it (`relay-move`) to a room hub.
        raise EventRejected(ENROLLED_HERE, "device_id", code="device_enrolled_here")
    take_over = False
    if row is not None and not mine:
        if not lapsed(conn, row.relay_id):
            raise EventRejected(N_("Another room hub registered this device."), "device_id",
                                code="device_registered_elsewhere")
        if row.site_id != relay["site_id"]:
            raise EventRejected(OTHER_SITE, "device_id", code="device_other_site")
        take_over = True        # its room hub was revoked: the same site's new one takes it
    name = clean_text(str(item.get("name") or ""), field="name", max_length=200)
    platform = clean_text(str(item.get("platform") or ""), field="platform", max_length=100)
    values = {"relay_id": relay["id"], "site_id": relay["site_id"], "name": name,
              "platform": platform}
    if row is None:
        conn.execute(db.relay_devices.insert(), [{"device_id": device_id, **values,
                                                  "registered_at": now}])
    else:
        conn.execute(update(db.relay_devices).where(
            db.relay_devices.c.device_id == device_id).values(
            **values, **({"registered_at": now} if take_over else {})))
    return {"device_id": device_id, "status": "registered"}


def lapsed(conn, relay_id: str) -> bool:
    """Whether the registrations of this room hub lapsed: staff revoked it (or it is gone)."""
    row = conn.execute(select(db.devices.c.revoked_at).where(
        db.devices.c.id == relay_id, db.devices.c.kind == RELAY)).first()
    return row is None or row.revoked_at is not None


def still_live(conn, relay: dict) -> None:
    """Inside a request's write transaction: the room hub was not revoked while its body was
    on its way (its credential is checked before the body is read)."""
    if lapsed(conn, relay["id"]):
        raise AuthError(N_("This tablet was revoked: its data is kept, enroll it again to "
                           "send it."), "device_revoked")


def _identifier(value: object, field: str) -> str:
    if not isinstance(value, str) or not IDENT.match(value) or value == "staff":
        raise HubError(N_("A device identifier (1 to 64 letters, digits, - or _) is "
                          "expected."), field=field)
    return value


def move_registration(hub, device_id: object, relay_id: object) -> dict:
    """Staff move a device to a room hub (`python -m server relay-move`, the admin API): that
    relay, at its site, forwards its events from now on — also for a tablet enrolled here
    directly, until it enrolls here again (the latest of the two acts wins). Another relay's
    forwarding for it is refused from now on (`device_not_registered`)."""
    device_id, relay_id = _identifier(device_id, "device_id"), _identifier(relay_id, "relay_id")
    now = now_iso()
    with hub.unit_of_work() as uow:
        conn = uow.conn
        target = conn.execute(select(db.devices).where(db.devices.c.id == relay_id)).first()
        if target is None or target.kind != RELAY or target.revoked_at is not None:
            raise HubError(N_("Unknown room hub: {id}."), status=404, code="relay_not_found",
                           id=relay_id)
        known = conn.execute(select(db.devices.c.kind, db.devices.c.name,
                                    db.devices.c.platform).where(
            db.devices.c.id == device_id)).first()
        if known is not None and known.kind == RELAY:
            raise HubError(N_("A room hub cannot be registered as one of its devices."),
                           code="device_is_relay", field="device_id")
        row = conn.execute(select(db.relay_devices).where(
            db.relay_devices.c.device_id == device_id)).first()
        values = {"relay_id": relay_id, "site_id": target.site_id, "registered_at": now}
        if row is not None:
            conn.execute(update(db.relay_devices).where(
                db.relay_devices.c.device_id == device_id).values(**values))
        else:
            conn.execute(db.relay_devices.insert(), [{
                "device_id": device_id, "name": known.name if known else "",
                "platform": known.platform if known else "", **values}])
    log.info("staff moved device %s to room hub %s", device_id, relay_id)
    return {"device_id": device_id, "relay_id": relay_id, "site_id": target.site_id,
            "moved_from": row.relay_id if row is not None else None}


# -- forwarded batches ----------------------------------------------------------------------------

def signup_limits(hub, relay: dict, envelopes: list, limits) -> dict[int, EventRejected]:
    """The form's rate limits (server.limits), applied to the room's new sign-ups before the
    write transaction: per room hub as per tablet (`signup_device`), per contact as a card
    (`cards`). {index: refusal `rate_limited`} — an event the room hub keeps and sends again
    later (server.upstream.WAIT_EVENT)."""
    if limits is None:
        return {}
    candidates = [(i, env) for i, env in enumerate(envelopes) if isinstance(env, dict)
                  and env.get("device_id") == relay["id"] and env.get("type") == ROOM_SIGNUP
                  and isinstance(env.get("id"), str) and isinstance(env.get("payload"), dict)]
    if not candidates:
        return {}
    stored = set()
    with hub.engine.connect() as conn:
        for chunk in db.in_chunks(sorted({env["id"] for _, env in candidates})):
            stored.update(conn.execute(select(db.events.c.id).where(
                db.events.c.id.in_(chunk))).scalars())
    refused = {}
    for index, env in candidates:
        if env["id"] in stored:
            continue        # a resend: already counted
        contact = env["payload"].get("contact")
        try:
            limits.hit("signup_device", "device:" + relay["id"])
            if isinstance(contact, str) and contact.strip():
                limits.hit("cards", "contact:" + contact_identity(contact))
        except HubError as exc:
            refused[index] = EventRejected(exc.message, "payload", code="rate_limited",
                                           **exc.params)
    return refused


def ingest_relayed(hub, relay: dict, envelopes: list, limits=None) -> list[dict]:
    """Apply a room hub's batch: one result per envelope, in order, with the statuses of a
    tablet's push. Envelopes are grouped by their `device_id` and each group runs as that
    device's own batch (server.ingest.Batch): a device the relay registered, at the relay's
    site; the relay itself for the room's records. An envelope for any other device is
    rejected with its reason (kept for review). One transaction for the whole request. The
    room's sign-ups are under the form's rate limits (`limits`, server.limits.RateLimits)."""
    require_relay(relay)
    if len(envelopes) > relay_max_batch(hub.settings):
        raise HubError(N_("Too many events in one batch: at most {max}."), status=413,
                       code="batch_too_large", max=relay_max_batch(hub.settings))
    limited = signup_limits(hub, relay, envelopes, limits)

    def work(uow):
        still_live(uow.conn, relay)
        results, batches = _run(hub, uow.conn, relay, envelopes, limited)
        for batch in batches:
            uow.include(batch)
        return results, any(batch.wrote_person for batch in batches)

    results, wrote_person = hub.units.run(work)
    if wrote_person:        # the room's sign-ups: no commit order kept (as server.events)
        db.forget_order(hub.engine)
    return results


def _run(hub, conn, relay: dict, envelopes: list, limited: dict | None = None
         ) -> tuple[list[dict], list[Batch]]:
    relay_id, site_id = relay["id"], relay["site_id"]
    named = sorted({env["device_id"] for env in envelopes if isinstance(env, dict)
                    and isinstance(env.get("device_id"), str)} - {relay_id})
    registered, direct, last_seq = {}, {}, {}
    for chunk in db.in_chunks(named):
        registered.update({r.device_id: r for r in conn.execute(select(
            db.relay_devices.c.device_id, db.relay_devices.c.relay_id,
            db.relay_devices.c.site_id, db.relay_devices.c.registered_at).where(
            db.relay_devices.c.device_id.in_(chunk)))})
        direct.update({r.id: r for r in conn.execute(select(
            db.devices.c.id, db.devices.c.enrolled_at, db.devices.c.revoked_at).where(
            db.devices.c.id.in_(chunk)))})
    for chunk in db.in_chunks(sorted(set(named) | {relay_id})):
        last_seq.update(conn.execute(select(db.events.c.device_id, func.max(db.events.c.seq))
                                     .where(db.events.c.device_id.in_(chunk))
                                     .group_by(db.events.c.device_id)).all())
    own = Batch(hub.ingest_registry, conn, relay, hub.consultation)
    groups: dict[str, list[int]] = {relay_id: []}
    results: list[dict | None] = [None] * len(envelopes)
    for index, env in enumerate(envelopes):
        device_id = env.get("device_id") if isinstance(env, dict) else None
        row = registered.get(device_id)
        enrolled = direct.get(device_id)
        refusal = (limited or {}).get(index)
        if refusal is not None or device_id == relay_id:
            pass
        elif row is None or row.relay_id != relay_id:
            refusal = EventRejected(NOT_REGISTERED, "device_id",
                                    code="device_not_registered")
        elif row.site_id != site_id:
            refusal = EventRejected(OTHER_SITE, "device_id", code="device_other_site")
        elif enrolled is not None and enrolled.revoked_at is not None:
            refusal = EventRejected(REVOKED, "device_id", code="device_revoked")
        elif enrolled is not None and enrolled.enrolled_at >= row.registered_at:
            refusal = EventRejected(ENROLLED_HERE, "device_id", code="device_enrolled_here")
        if refusal is not None:
            results[index] = own.reject(env, refusal)
        else:
            groups.setdefault(device_id, []).append(index)
    for device_id, indexes in groups.items():
        seqs = [envelopes[i].get("seq") for i in indexes]
        seqs = [s for s in seqs if isinstance(s, int) and not isinstance(s, bool)]
        base = last_seq.get(device_id) or 0     # a device new here starts from 0, not its claim
        kept = []
        for i in indexes:
            seq = envelopes[i].get("seq")
            if isinstance(seq, int) and not isinstance(seq, bool) \
                    and seq > base + SEQ_JUMP_MAX:
                results[i] = own.reject(envelopes[i], EventRejected(
                    SEQ_JUMP, "seq", code="seq_jump", max=SEQ_JUMP_MAX))
            else:
                kept.append(i)
        groups[device_id] = kept
    batches = []
    for device_id, indexes in groups.items():
        batch = own if device_id == relay_id else Batch(
            hub.ingest_registry, conn, {"id": device_id, "site_id": site_id, "kind": None,
                                        "relayed_by": relay_id}, hub.consultation)
        for index, result in zip(indexes, batch.run([envelopes[i] for i in indexes])):
            results[index] = result
        batches.append(batch)
    statuses = Counter(r["status"] for r in results)
    stored = {r["id"] for r in results if r["status"] == "stored"}
    types = Counter(env["type"] for env in envelopes
                    if isinstance(env, dict) and env.get("id") in stored)
    now = now_iso()
    conn.execute(db.relay_batches.insert(), [{
        "relay_id": relay_id, "site_id": site_id, "received_at": now, "events": len(envelopes),
        "statuses": canonical_json(dict(statuses)), "types": canonical_json(dict(types))}])
    conn.execute(update(db.devices).where(db.devices.c.id == relay_id).values(last_seen_at=now))
    return results, batches


# -- the room's sign-ups (made on its page, or typed on its tablets and already redacted) ---------

@dataclass
class RelayBatch:
    signups: dict[str, dict] = field(default_factory=dict)


def extension(hub) -> IngestExtension[RelayBatch]:
    """The `room_signup` handler: only a relay sends it, for its own site."""
    relay = IngestExtension("relay", RelayBatch, write=lambda b, s: _write(hub, b, s))
    relay.handles(ROOM_SIGNUP, lambda b, s, e: _apply_room_signup(hub, b, s, e),
                  stored_payload=room_signup_stored)
    return relay


def room_signup_stored(payload: dict) -> dict:
    """What the events table keeps of a room's sign-up: its attribution, not the resident's
    data."""
    return {**{k: v for k, v in payload.items()
               if k not in PERSONAL_FIELDS + ("signup_id", "card_code")},
            "redacted": True}


def _apply_room_signup(hub, batch: Batch, state: RelayBatch, event: Event) -> None:
    if not is_relay(batch.device):
        raise EventRejected(N_("Only a room hub may send this."), "type", code="relay_only")
    payload = event.payload
    signup_id = batch.ident(payload, "signup_id")
    consultation_id = batch.optional_ident(payload, "consultation_id")
    consultation = batch.consultation(payload) if consultation_id is not None else None
    meeting = (meeting_at_site(consultation, batch.optional_ident(payload, "meeting_id"),
                               batch.site_id) if consultation else None)
    draft = validate_signup(hub.participation.config(consultation_id), payload)
    if "card_code" in payload:
        # A room hub of before the anonymous cards: a card's code beside a person is refused.
        raise EventRejected(N_("A participation card's code is never sent with a sign-up."),
                            "payload.card_code")
    device_id = batch.optional_ident(payload, "device_id")
    if device_id is not None and batch.conn.execute(select(db.relay_devices.c.device_id).where(
            db.relay_devices.c.device_id == device_id,
            db.relay_devices.c.relay_id == batch.device_id)).first() is None:
        device_id = None          # attributed to a device this room hub did not register
    channel = payload.get("channel") if payload.get("channel") in ("phone", "tablet") \
        else "phone"
    created = payload.get("created_at")
    confirmed = payload.get("confirmed_at")
    if signup_id in state.signups or hub.stage.row(batch.conn, signup_id) is not None:
        return
    lang = payload.get("lang") if payload.get("lang") in ("fr", "it", "en") else "fr"
    state.signups[signup_id] = {
        "id": signup_id, "consultation_id": consultation_id, "site_id": batch.site_id,
        "meeting_id": meeting, "device_id": device_id, "channel": channel,
        "name": draft.name, "contact": draft.contact, "contact_kind": draft.contact_kind,
        "age_bracket": draft.age_bracket, "neighbourhood": draft.neighbourhood, "lang": lang,
        "card_issued": payload.get("card_issued") is True,
        # The hour only, as every sign-up's (server/db.py).
        "created_at": (db.hour(created) if isinstance(created, str) and TIME.match(created)
                       else None) or db.hour(batch.now),
        "confirmed_at": db.hour(confirmed) if isinstance(confirmed, str)
        and TIME.match(confirmed) else None}


def _write(hub, batch: Batch, state: RelayBatch) -> None:
    if state.signups:
        # On PostgreSQL into the stage, out of the WAL (server/stage.py): a forwarded batch
        # holds the room's ballots too, and one commit must not pair them with a person.
        hub.stage.insert(batch.conn, list(state.signups.values()))
        batch.wrote_person = True
        for row in state.signups.values():
            if row["confirmed_at"] is None:
                # The room's confirmation link named the room's laptop, which the resident
                # cannot reach from home: this hub asks again.
                hub.participation.ask_confirmation(row)


# -- participation cards, both ways (docs/protocol.md "Hub to hub") --------------------------------

def _site_consultations(hub, relay: dict) -> set[str]:
    return {c["id"] for c in hub.bundle_index(relay)["consultations"]}


CARD_PAGE = 500     # cards a page of GET /api/v1/relay/cards holds at most


def cards_for_relay(hub, relay: dict, consultation_id: str | None = None, after: str = "",
                    limit: int = CARD_PAGE) -> dict:
    """The cards issued here (online sign-ups, printed batches) for the consultations of the
    relay's site: lookup and public key (app.cards.issued_row), so that the room hub checks
    them and their answers offline as this hub would; nothing that makes an answer, nothing
    about who holds them. Without `consultation_id`: how many each consultation has
    (`counts`), so that the room pulls only what changed; with it: one page of that
    consultation's cards in lookup order after `after`, and the `next` page's `after` (None on
    the last page). Rows are the issued cards' export (server.participation), as they are."""
    require_relay(relay)
    mine = sorted(_site_consultations(hub, relay))
    if consultation_id is None:
        with hub.engine.connect() as conn:
            counts = dict(conn.execute(
                select(db.issued_cards.c.consultation_id, func.count())
                .where(db.issued_cards.c.consultation_id.in_(mine),
                       db.issued_cards.c.public_key.is_not(None))    # as export_cards
                .group_by(db.issued_cards.c.consultation_id)).all()) if mine else {}
        return {"counts": {c: counts.get(c, 0) for c in mine}}
    if consultation_id not in mine:
        return {"cards": [], "next": None}
    limit = max(1, min(int(limit), CARD_PAGE))
    rows = [row for row in hub.participation.export_cards(consultation_id)
            if row["lookup"] > after]
    return {"cards": rows[:limit], "next": rows[limit - 1]["lookup"] if len(rows) > limit
            else None}


def cards_from_relay(hub, relay: dict, rows: object) -> dict:
    """The cards a room hub issued (printed at its door), for its site's consultations only,
    so that their answers, forwarded next, are checked here. A lookup ID this hub gave another
    card is left out and counted (`conflicts`): that card's answers are refused here. Cards
    the room makes are counted per consultation against its site's quota: new ones beyond it
    are refused (`refused`, with `reason`), the others taken."""
    require_relay(relay)
    with hub.engine.connect() as conn:
        still_live(conn, relay)
    result = hub.participation.import_cards(rows, partial=True,
                                            consultations=_site_consultations(hub, relay),
                                            room_site=relay["site_id"])
    if result.get("refused"):
        log.warning("room hub %s: %d cards beyond its site's quota refused",
                    relay["id"], len(result["refused"]))
    if result["conflicts"]:
        log.warning("room hub %s: %d cards share a lookup ID with cards issued here",
                    relay["id"], result["conflicts"])
    return result


# -- answers to ideas, for the room ---------------------------------------------------------------

def answers_for_relay(hub, relay: dict, since: int, limit: int = 500) -> dict:
    """Staff's answers to the ideas collected by the devices this relay registered, after the
    cursor `since` (the same cursor as a tablet's)."""
    require_relay(relay)
    mine = select(db.relay_devices.c.device_id).where(db.relay_devices.c.relay_id == relay["id"])
    with hub.engine.connect() as conn:
        rows = conn.execute(
            select(db.proposals.c.id, db.proposals.c.short_code, db.proposals.c.device_id,
                   db.proposals.c.answer_status, db.proposals.c.answer_text,
                   db.proposals.c.answer_cursor, db.proposals.c.status)
            .where(db.proposals.c.device_id.in_(mine), db.proposals.c.answer_cursor > since)
            .order_by(db.proposals.c.answer_cursor).limit(limit)).all()
    answers = [{"proposal_id": r.id, "short_code": r.short_code, "device_id": r.device_id,
                "answer_status": r.answer_status, "answer_text": r.answer_text,
                "status": r.status, "cursor": r.answer_cursor} for r in rows]
    return {"cursor": answers[-1]["cursor"] if answers else since, "answers": answers}


# -- what arrived, per relay and site -------------------------------------------------------------

def relay_summary(hub) -> list[dict]:
    """Per room hub: its site, devices registered, batches, what they brought (stored events
    by type, duplicates, refusals) and when (first and last arrival). No personal data."""
    with hub.engine.connect() as conn:
        relays = conn.execute(select(db.devices).where(db.devices.c.kind == RELAY)
                              .order_by(db.devices.c.site_id, db.devices.c.id)).all()
        devices = dict(conn.execute(select(db.relay_devices.c.relay_id, func.count())
                                    .group_by(db.relay_devices.c.relay_id)).all())
        batches = conn.execute(select(db.relay_batches).order_by(db.relay_batches.c.id)).all()
    out = {}
    for r in relays:
        out[r.id] = {"relay_id": r.id, "name": r.name, "site_id": r.site_id,
                     "enrolled_at": r.enrolled_at, "last_contact": r.last_seen_at,
                     "revoked": r.revoked_at is not None, "devices": devices.get(r.id, 0),
                     "batches": 0, "events": 0, "stored": 0, "duplicate": 0, "refused": 0,
                     "types": {}, "first_arrival": None, "last_arrival": None}
    for b in batches:
        item = out.get(b.relay_id)
        if item is None:
            continue
        statuses, types = json.loads(b.statuses), json.loads(b.types)
        item["batches"] += 1
        item["events"] += b.events
        item["stored"] += statuses.get("stored", 0)
        item["duplicate"] += statuses.get("duplicate", 0)
        item["refused"] += statuses.get("rejected", 0) + statuses.get("conflict", 0)
        for kind, n in types.items():
            item["types"][kind] = item["types"].get(kind, 0) + n
        if statuses.get("stored"):
            item["first_arrival"] = item["first_arrival"] or b.received_at
            item["last_arrival"] = b.received_at
    return list(out.values())
