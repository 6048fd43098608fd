"""Hub to hub, the room side (docs/protocol.md, "Hub to hub"): a hub with an upstream.

`enroll(hub, url, code)` enrolls this hub with the central hub as a room hub (a `relay`
device), the way a tablet enrolls: it makes its own secret, keeps it (`upstream_state`) before
the first attempt, and sends only its SHA-256. From then on `Forwarder` (a thread of the hub's
process, started by `serve`) does, whenever the central hub can be reached:

1. registers the devices this hub enrolled (POST /api/v1/relay/devices);
2. forwards, in batches, every event this hub stored — each envelope exactly as its tablet
   made it, personal data put back from the tables that alone hold it — then the room's own
   records (sign-ups made on its page, staff's counts), under the rules tablets follow
   (sync.batches.push_in_batches: only a real acknowledgement counts, a captive portal's 200
   does not); once the central hub acknowledged a sign-up or an idea's contact, it is
   redacted here;
3. pulls the consultations meant for its site (bundles and their files) and the answers to
   its devices' ideas.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select, tuple_, update

from app.clock import now_iso
from app.counts import PHONE_DEVICE_PREFIX
from app.errors import N_, DomainError
from app.signup import PERSONAL_FIELDS
from sync import protocol as p
from sync.batches import backoff_delay, push_in_batches
from sync.client import MAX_ANSWER_BYTES, HubClient, normalize_hub_url, require_tls
from sync.content import MAX_BUNDLE_BYTES, file_limit
from sync.enroll import credential_hash

from . import db
from .channels import STAFF_DEVICE
from .relay import ROOM_SIGNUP

log = logging.getLogger("piazzetta.hub.upstream")
RELAY_EVENTS = f"{p.API_PREFIX}/relay/events"
RELAY_DEVICES = f"{p.API_PREFIX}/relay/devices"
RELAY_ANSWERS = f"{p.API_PREFIX}/relay/answers"
RELAY_CARDS = f"{p.API_PREFIX}/relay/cards"
RELAY_CLOSINGS = f"{p.API_PREFIX}/relay/closings"
LIVE_ROOM = 2.0          # seconds since a tablet's last push during which the room is live
LIVE_ROOM_BATCH = 250    # the forwarder's batches' size while it is (its pause between two:
                         # settings.upstream_live_pause_ms)
REGISTER_RETRY = 60.0    # seconds before a device the central hub refused is registered again
# Codes of a forwarded event that leave it waiting at the room (not acknowledged): its device is
# registered again later (staff may move it here), or a rate limit passes.
WAIT_DEVICE = ("device_not_registered", "device_other_site", "device_enrolled_here")
WAIT_EVENT = ("rate_limited",)


def live(hub) -> bool:
    """Whether tablets pushed to this hub in the last LIVE_ROOM seconds: the meeting is on."""
    return time.monotonic() - hub.last_ingest < LIVE_ROOM

# Keys of upstream_state.
URL, RELAY_ID, SECRET, BOUND, SITE, MAX_BATCH = (
    "url", "relay_id", "secret", "bound", "site_id", "max_batch")
LAST_CONTACT, PROBLEM, ANSWERS_CURSOR, BUNDLE_ETAG = (
    "last_contact", "problem", "answers_cursor", "bundle_etag")
CARDS_SENT, CARDS_DOWN = "cards_sent", "cards_down"
CARD_CHUNK = 100         # cards a push holds (~20 KB: the route's body limit is 64 KiB)
# What a new central hub (another URL) starts without: it gets the room's cards, content and
# answers again, as the first one did.
CLOSINGS_SENT = "closings_sent"   # the last closing record the central hub kept
CLOSINGS_BYTES = 1_000_000         # closing records sent in one request, at most (but one)
FORGOTTEN_WITH_CENTRAL = (ANSWERS_CURSOR, BUNDLE_ETAG, CARDS_SENT, CARDS_DOWN, CLOSINGS_SENT)


# -- state ----------------------------------------------------------------------------------------

def state(hub) -> dict:
    with hub.engine.connect() as conn:
        return {k: json.loads(v) for k, v in conn.execute(
            select(db.upstream_state.c.key, db.upstream_state.c.value)).all()}


def set_state(hub, conn=None, **values) -> None:
    stmt = db.dialect_insert(hub.engine, db.upstream_state)
    rows = [{"key": k, "value": json.dumps(v)} for k, v in values.items()]

    def write(c):
        c.execute(stmt.on_conflict_do_update(index_elements=["key"],
                                             set_={"value": stmt.excluded.value}), rows)
    if conn is not None:
        write(conn)
    else:
        with hub.writer.begin() as c:
            write(c)


def configured(values: dict) -> bool:
    return bool(values.get(URL) and values.get(BOUND) and values.get(SECRET))


class UpstreamError(DomainError):
    """An enrollment with the central hub that did not happen; `message` is a msgid."""


def enroll(hub, url: str, code: str, name: str = "") -> dict:
    """Enroll this hub with the central hub at `url` with a room hub's code. Safe to run again
    with the same code after any failure. A new central hub (another URL) gets everything
    again: acknowledgements and registrations of the former one are forgotten."""
    url = normalize_hub_url(url)
    require_tls(url)
    if not isinstance(code, str) or not code.strip():
        raise UpstreamError(N_("Type the enrollment code."), "code")
    values = state(hub)
    relay_id = values.get(RELAY_ID) or "room-" + secrets.token_hex(8)
    credentials = values.get("credentials") or {}
    entry = credentials.get(url) or {"secret": secrets.token_urlsafe(32), "bound": False}
    credentials[url] = entry
    set_state(hub, relay_id=relay_id, credentials=credentials)     # kept before any request
    prove = bool(entry["bound"])
    client = HubClient(url, timeout=(5.0, 15.0), user_agent="piazzetta-room-hub")
    try:
        while True:
            try:
                answer = client.enroll(code.strip(), relay_id, credential_hash(entry["secret"]),
                                       name=name or "room hub", platform="piazzetta-hub",
                                       secret=entry["secret"] if prove else None, kind="relay")
                break
            except p.HubRefused as exc:
                if exc.code == "device_enrolled" and not prove:
                    prove = True       # an earlier attempt bound it, its answer lost
                    continue
                raise UpstreamError(p.ENROLLMENT_REFUSALS.get(
                    exc.code, N_("The hub refused the enrollment.")), "code") from None
    finally:
        client.close()
    entry["bound"] = True
    with hub.writer.begin() as conn:
        if values.get(URL) and values.get(URL) != url:
            conn.execute(db.upstream_acks.delete())
            conn.execute(db.upstream_devices.delete())
            conn.execute(db.upstream_cards.delete())
            conn.execute(db.upstream_state.delete().where(
                db.upstream_state.c.key.in_(FORGOTTEN_WITH_CENTRAL)))
        max_batch = answer.get("max_batch")
        set_state(hub, conn, url=url, secret=entry["secret"], bound=True,
                  credentials=credentials, site_id=answer.get("site_id"),
                  # what the room's tablets mint phones' sign-up links with (server/room.py)
                  signup_alias=answer.get("alias"), signup_key=answer.get("signup_key"),
                  max_batch=max_batch if isinstance(max_batch, int) and max_batch > 0 else 100,
                  problem=None)
    return {"url": url, "relay_id": relay_id, "site_id": answer.get("site_id")}


# -- what waits -----------------------------------------------------------------------------------

def queue_records(hub) -> int:
    """Give each record the room holds itself — a sign-up, made on its page or typed on one
    of its tablets (the tablet's `signup` event is stored here without the person or the
    sign-up ID, server/participation.py, so the person's row goes as the room's record), a
    count typed by staff here — an event ID and a sequence number, once."""
    with hub.writer.begin() as conn:
        queued = select(db.upstream_records.c.source_id)
        signups = conn.execute(select(db.signups.c.id).where(
            db.signups.c.id.not_in(queued.where(db.upstream_records.c.source == "signup")))
            .order_by(db.signups.c.created_at, db.signups.c.id)).scalars().all()
        counts = conn.execute(select(db.tally_counts.c.id).where(
            db.tally_counts.c.device_id == STAFF_DEVICE,
            db.tally_counts.c.id.not_in(queued.where(db.upstream_records.c.source == "count")))
            .order_by(db.tally_counts.c.received_at, db.tally_counts.c.id)).scalars().all()
        if not signups and not counts:
            return 0
        seq = conn.execute(select(func.max(db.upstream_records.c.seq))).scalar() or 0
        rows = []
        for source, prefix, ids in (("signup", "rs-", signups), ("count", "rc-", counts)):
            for source_id in ids:
                seq += 1
                rows.append({"event_id": prefix + hashlib.sha256(
                    source_id.encode()).hexdigest()[:40], "seq": seq, "source": source,
                    "source_id": source_id})
        conn.execute(db.upstream_records.insert(), rows)
    return len(rows)


def waiting(hub) -> int:
    """Events and records not yet acknowledged by the central hub."""
    acked = select(db.upstream_acks.c.event_id)
    with hub.engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(db.events).where(
            db.events.c.device_id != STAFF_DEVICE, db.events.c.id.not_in(acked))).scalar()
        records = conn.execute(select(func.count()).select_from(db.upstream_records).where(
            db.upstream_records.c.event_id.not_in(acked))).scalar()
        fresh = conn.execute(select(func.count()).select_from(db.signups).where(
            db.signups.c.channel != "tablet", db.signups.c.id.not_in(
                select(db.upstream_records.c.source_id).where(
                    db.upstream_records.c.source == "signup")))).scalar()
    return events + records + fresh


class Outbox:
    """The room's queue for the central hub, read in (device, seq) order with a cursor, so a
    backlog of many thousands is read once, not once a batch."""

    def __init__(self, hub, relay_id: str):
        self.hub = hub
        self.relay_id = relay_id
        self.cursor: tuple | None = None
        self.record_cursor = 0
        self.held: dict[str, str] = {}     # event ID -> what an ack redacts ("signup", ...)

    def take(self, limit: int) -> list[dict]:
        if live(self.hub):
            limit = min(limit, LIVE_ROOM_BATCH)    # short transactions while tablets push
        envelopes = self._events(limit)
        if len(envelopes) < limit:
            envelopes += self._records(limit - len(envelopes))
        return envelopes

    def _events(self, limit: int) -> list[dict]:
        """The next events in (device, seq) order, but answers made with a card of this room
        the central hub does not hold yet: they wait for it (a later round)."""
        while True:
            rows = self._event_rows(limit)
            if not rows:
                return []
            out = self._without_waiting_cards(rows)
            if out:
                return out

    def _without_waiting_cards(self, envelopes: list[dict]) -> list[dict]:
        carded = {(env["payload"].get("consultation_id"), env["payload"].get("card"))
                  for env in envelopes if env["type"] == "answer"
                  and isinstance(env["payload"].get("card"), str)}
        if not carded:
            return envelopes
        lookups = sorted({lookup for _, lookup in carded})
        issued, upstream = set(), set()
        with self.hub.engine.connect() as conn:
            for chunk in db.in_chunks(lookups):
                issued.update(conn.execute(select(
                    db.issued_cards.c.consultation_id, db.issued_cards.c.lookup).where(
                    db.issued_cards.c.lookup.in_(chunk))).all())
                upstream.update(conn.execute(select(
                    db.upstream_cards.c.consultation_id, db.upstream_cards.c.lookup).where(
                    db.upstream_cards.c.lookup.in_(chunk))).all())
        waiting_cards = (carded & issued) - upstream
        if not waiting_cards:
            return envelopes
        kept = []
        for env in envelopes:
            if env["type"] == "answer" and (env["payload"].get("consultation_id"),
                                            env["payload"].get("card")) in waiting_cards:
                self.held.pop(env["id"], None)
            else:
                kept.append(env)
        return kept

    def _event_rows(self, limit: int) -> list[dict]:
        e = db.events
        query = (select(e.c.id, e.c.device_id, e.c.seq, e.c.type, e.c.recorded_at, e.c.payload)
                 .join(db.upstream_devices, (db.upstream_devices.c.device_id == e.c.device_id)
                       & (db.upstream_devices.c.status == "registered"))
                 .outerjoin(db.upstream_acks, db.upstream_acks.c.event_id == e.c.id)
                 .where(db.upstream_acks.c.event_id.is_(None))
                 .order_by(e.c.device_id, e.c.seq, e.c.id).limit(limit))
        if self.cursor is not None:
            query = query.where(tuple_(e.c.device_id, e.c.seq, e.c.id) > tuple_(*self.cursor))
        with self.hub.engine.connect() as conn:
            rows = conn.execute(query).all()
            if not rows:
                return []
            self.cursor = (rows[-1].device_id, rows[-1].seq, rows[-1].id)
            payloads = [json.loads(r.payload) for r in rows]
            signups = self._rows(conn, db.signups, [
                pl.get("signup_id") for r, pl in zip(rows, payloads) if r.type == "signup"])
            ideas = self._rows(conn, db.proposals, [
                pl.get("proposal_id") for r, pl in zip(rows, payloads) if r.type == "proposal"])
        out = []
        for row, payload in zip(rows, payloads):
            if row.type == "signup" and payload.get("redacted"):
                found = signups.get(payload.get("signup_id"))
                if found is not None and found.name is not None:
                    # The tablet's payload as it made it: the hub kept the resident's data
                    # in `signups` only.
                    payload = {k: v for k, v in payload.items() if k != "redacted"}
                    payload.update({k: getattr(found, k) for k in PERSONAL_FIELDS
                                    if getattr(found, k) is not None})
                    self.held[row.id] = "signup:" + found.id
            elif row.type == "proposal" and payload.get("redacted"):
                found = ideas.get(payload.get("proposal_id"))
                if found is not None and found.contact is not None:
                    payload = {k: v for k, v in payload.items() if k != "redacted"}
                    payload["contact"] = found.contact
                    self.held[row.id] = "idea:" + found.id
            out.append({"id": row.id, "device_id": row.device_id, "seq": row.seq,
                        "type": row.type, "recorded_at": row.recorded_at, "payload": payload})
        return out

    @staticmethod
    def _rows(conn, table, ids: list) -> dict:
        found = {}
        for chunk in db.in_chunks(sorted({i for i in ids if isinstance(i, str)})):
            found.update({r.id: r for r in conn.execute(select(table).where(
                table.c.id.in_(chunk)))})
        return found

    def _records(self, limit: int) -> list[dict]:
        r = db.upstream_records
        with self.hub.engine.connect() as conn:
            rows = conn.execute(
                select(r).outerjoin(db.upstream_acks, db.upstream_acks.c.event_id == r.c.event_id)
                .where(db.upstream_acks.c.event_id.is_(None), r.c.seq > self.record_cursor)
                .order_by(r.c.seq).limit(limit)).all()
            if not rows:
                return []
            self.record_cursor = rows[-1].seq
            signups = self._rows(conn, db.signups,
                                 [x.source_id for x in rows if x.source == "signup"])
            counts = self._rows(conn, db.tally_counts,
                                [x.source_id for x in rows if x.source == "count"])
        out = []
        for row in rows:
            if row.source == "signup" and row.source_id in signups:
                s = signups[row.source_id]
                payload = {"signup_id": s.id, "consultation_id": s.consultation_id,
                           "site_id": s.site_id, "meeting_id": s.meeting_id,
                           "device_id": s.device_id, "channel": s.channel, "consent": True,
                           "lang": s.lang, "card_issued": bool(s.card_issued),
                           "created_at": s.created_at, "confirmed_at": s.confirmed_at,
                           **{k: getattr(s, k) for k in PERSONAL_FIELDS
                              if getattr(s, k) is not None}}
                out.append(self._envelope(row, ROOM_SIGNUP, s.created_at, payload))
                self.held[row.event_id] = "signup:" + s.id
            elif row.source == "count" and row.source_id in counts:
                c = counts[row.source_id]
                payload = {"count_id": c.id, "consultation_id": c.consultation_id,
                           "question_id": c.question_id, "channel": c.channel,
                           "counts": json.loads(c.counts), "ballots": c.ballots,
                           "supersedes": c.supersedes, "site_id": c.site_id,
                           "meeting_id": c.meeting_id}
                out.append(self._envelope(row, "tally_count", c.received_at, payload))
        return out

    def _envelope(self, row, type_: str, recorded_at: str, payload: dict) -> dict:
        return {"id": row.event_id, "device_id": self.relay_id, "seq": row.seq,
                "type": type_, "recorded_at": recorded_at, "payload": payload}

    @contextmanager
    def _ack_transaction(self):
        """A write transaction for acknowledgements. On SQLite with `secure_delete` (freed
        bytes overwritten) and without waiting for the disk at commit (synchronous NORMAL, WAL
        still consistent): an acknowledgement lost to a power cut only means a resend, which
        the central hub answers `duplicate`, and the redaction is then done again."""
        if not self.hub.is_sqlite:
            with self.hub.writer.begin() as conn:
                yield conn
            return
        with self.hub.engine.connect() as raw:
            sqlite = raw.connection.driver_connection     # outside any transaction
            sqlite.execute("PRAGMA secure_delete = ON")
            sqlite.execute("PRAGMA synchronous = NORMAL")
            try:
                conn = raw.execution_options(immediate=True)
                with conn.begin():
                    yield conn
            finally:
                sqlite.execute("PRAGMA synchronous = FULL")

    def acknowledge(self, envelopes: list[dict], results: dict[str, dict]) -> None:
        """Record the central hub's acknowledgements and, in the same transaction, redact the
        personal data it now holds (sign-ups, ideas' contacts). An event of a device the
        central hub no longer knows from this room, or knows at another site (the room hub was
        enrolled again for another site), waits: its device is registered again."""
        now = now_iso()
        unregistered = {env["device_id"] for env in envelopes if results[env["id"]].get("code")
                        in WAIT_DEVICE}
        acked = [{"event_id": env["id"], "status": results[env["id"]]["status"],
                  "acked_at": now} for env in envelopes if env["device_id"] not in unregistered
                 and results[env["id"]].get("code") not in WAIT_EVENT]
        signup_ids, idea_ids = [], []
        for item in acked:
            held = self.held.pop(item["event_id"], "")
            kind, _, ref = held.partition(":")
            (signup_ids if kind == "signup" else idea_ids if kind == "idea" else []).append(ref)
        with self._ack_transaction() as conn:
            if acked:
                stmt = db.dialect_insert(conn, db.upstream_acks)
                conn.execute(stmt.on_conflict_do_nothing(), acked)
            for chunk in db.in_chunks(signup_ids):
                conn.execute(update(db.signups).where(db.signups.c.id.in_(chunk)).values(
                    **dict.fromkeys(PERSONAL_FIELDS)))
            for chunk in db.in_chunks(idea_ids):
                conn.execute(update(db.proposals).where(db.proposals.c.id.in_(chunk))
                             .values(contact=None))
            if unregistered:
                conn.execute(db.upstream_devices.delete().where(
                    db.upstream_devices.c.device_id.in_(sorted(unregistered))))
        if (signup_ids or idea_ids) and self.hub.is_sqlite:
            with self.hub.engine.connect() as conn:     # old pages out of the WAL, best effort
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# -- one round ------------------------------------------------------------------------------------

@dataclass
class Progress:
    """What the room's status line shows of the forwarding under way."""
    sent: int = 0
    total: int = 0
    active: bool = False


def register_devices(hub, client: HubClient) -> int:
    """Register at the central hub this hub's devices it does not know yet, and again those it
    refused more than REGISTER_RETRY seconds ago (staff may have moved one here since);
    returns how many it accepted."""
    retry = datetime.fromtimestamp(time.time() - REGISTER_RETRY, timezone.utc).isoformat(
        timespec="milliseconds")
    settled = select(db.upstream_devices.c.device_id).where(
        (db.upstream_devices.c.status == "registered") | (db.upstream_devices.c.at > retry))
    with hub.engine.connect() as conn:
        rows = conn.execute(select(db.devices.c.id, db.devices.c.name, db.devices.c.platform)
                            .where(db.devices.c.kind.is_(None),
                                   db.devices.c.id.not_in(settled))
                            .order_by(db.devices.c.id)).all()
    done = 0
    for start in range(0, len(rows), 200):
        chunk = rows[start:start + 200]
        data = client.post_json(RELAY_DEVICES, {"devices": [
            {"device_id": r.id, "name": r.name, "platform": r.platform} for r in chunk]})
        results = data.get("results")
        if not isinstance(results, list) or len(results) != len(chunk):
            raise p.NotAcknowledged("malformed registration")
        now = now_iso()
        with hub.writer.begin() as conn:
            for row, result in zip(chunk, results):
                if not isinstance(result, dict) or result.get("device_id") != row.id:
                    raise p.NotAcknowledged("malformed registration")
                status = "registered" if result.get("status") == "registered" else "refused"
                done += status == "registered"
                if status == "refused":
                    log.warning("central hub refused device %s: %s", row.id, result.get("code"))
                stmt = db.dialect_insert(conn, db.upstream_devices).values(
                    device_id=row.id, status=status, reason=result.get("message"), at=now)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["device_id"], set_={"status": status,
                                                        "reason": result.get("message"),
                                                        "at": now}))
    return done


def _mark_cards_upstream(hub, rows: list[dict]) -> None:
    """Note that the central hub holds these cards (pulled from it, or sent and acknowledged)."""
    keys = sorted({(r["consultation_id"], r["lookup"]) for r in rows if isinstance(r, dict)
                   and isinstance(r.get("consultation_id"), str)
                   and isinstance(r.get("lookup"), str)})
    if not keys:
        return
    with hub.writer.begin() as conn:
        stmt = db.dialect_insert(conn, db.upstream_cards)
        conn.execute(stmt.on_conflict_do_nothing(), [
            {"consultation_id": c, "lookup": lookup} for c, lookup in keys])


def pull_cards(hub, client: HubClient) -> dict:
    """The participation cards the central hub issued for this site (online sign-ups, printed
    batches): their public keys reach the room's tablets with the card index and let this
    hub check their answers offline (nothing that makes an answer). Only a consultation whose
    count at the central hub changed since the last pull is read again, in pages of at most
    relay.CARD_PAGE cards; a page imported is not asked again after a failure (the cursor is
    kept). A lookup ID this hub gave another card is left out (its answers are refused here,
    and counted in the log)."""
    from urllib.parse import urlencode
    data, _ = client.get_json(RELAY_CARDS)
    counts = data.get("counts") if isinstance(data, dict) else None
    if not isinstance(counts, dict):
        raise p.NotAcknowledged("malformed cards")
    seen = dict(state(hub).get(CARDS_DOWN) or {})
    totals = {"imported": 0, "known": 0, "conflicts": 0}
    for consultation_id, count in sorted(counts.items()):
        mark = seen.get(consultation_id) or {}
        if mark.get("count") == count and mark.get("after") is None:
            continue
        after = (mark.get("after") or "") if mark.get("count") == count else ""
        while True:
            page, _ = client.get_json(f"{RELAY_CARDS}?" + urlencode(
                {"consultation_id": consultation_id, "after": after}))
            rows = page.get("cards") if isinstance(page, dict) else None
            if not isinstance(rows, list) or not isinstance(page.get("next"), (str, type(None))):
                raise p.NotAcknowledged("malformed cards")
            result = hub.participation.import_cards(rows, partial=True)
            _mark_cards_upstream(hub, rows)
            for key in totals:
                totals[key] += result.get(key, 0)
            seen[consultation_id] = {"count": count, "after": page["next"]}
            set_state(hub, cards_down=seen)
            if page["next"] is None:
                break
            after = page["next"]
    if totals["conflicts"]:
        log.warning("%d cards of the central hub share a lookup ID with cards issued here",
                    totals["conflicts"])
    return totals


def push_cards(hub, client: HubClient) -> int:
    """The cards this room hub issued (printed at its door) that the central hub does not hold
    yet, in chunks of CARD_CHUNK (well under the route's body limit), each marked once
    acknowledged: a card pulled from the central hub never goes back up, and a failure costs
    only the chunk under way. Answers made with a card not sent yet wait for it (Outbox)."""
    i, u = db.issued_cards, db.upstream_cards
    with hub.engine.connect() as conn:
        lacking = conn.execute(select(i.c.consultation_id).distinct().select_from(
            i.outerjoin(u, (u.c.consultation_id == i.c.consultation_id)
                        & (u.c.lookup == i.c.lookup))).where(
            u.c.lookup.is_(None), i.c.public_key.is_not(None))      # as export_cards
        ).scalars().all()
        if not lacking:
            return 0          # every round: one query while nothing is new
        known = set(conn.execute(select(u.c.consultation_id, u.c.lookup)).all())
    rows = [row for c in sorted(lacking) for row in hub.participation.export_cards(c)
            if (row["consultation_id"], row["lookup"]) not in known]
    sent = 0
    for start in range(0, len(rows), CARD_CHUNK):
        chunk = rows[start:start + CARD_CHUNK]
        data = client.post_json(RELAY_CARDS, {"cards": chunk})
        if not isinstance(data, dict) or not isinstance(data.get("imported"), int):
            raise p.NotAcknowledged("malformed cards acknowledgement")
        if data.get("refused"):     # beyond the quota central staff set for this site
            log.warning("central hub refused %d cards: %s", len(data["refused"]),
                        (data.get("reason") or {}).get("code"))
        _mark_cards_upstream(hub, chunk)
        sent += len(chunk)
    return sent


def push_closings(hub, client: HubClient) -> int:
    """This hub's closing records the central hub has not acknowledged yet, in order, a few a
    request (server/closing.py, receive_closings); the number of the last one it kept is
    remembered (`closings_sent`). A refusal is logged and sent again next round."""
    from .closing import MAX_SENT
    sent = state(hub).get(CLOSINGS_SENT) or 0
    with hub.engine.connect() as conn:
        rows = conn.execute(select(db.closings.c.number, db.closings.c.document).where(
            db.closings.c.number > sent).order_by(db.closings.c.number).limit(MAX_SENT)).all()
    if not rows:
        return 0
    documents, size = [], 0
    for row in rows:          # a request well under the route's limit (one at least)
        if documents and size + len(row.document) > CLOSINGS_BYTES:
            break
        documents.append(row.document)
        size += len(row.document)
    data = client.post_json(RELAY_CLOSINGS, {"documents": documents})
    if not isinstance(data, dict) or not isinstance(data.get("stored"), list):
        raise p.NotAcknowledged("malformed closings acknowledgement")
    kept = [n for n in data["stored"] if isinstance(n, int)]
    if kept:
        set_state(hub, **{CLOSINGS_SENT: max(kept)})
    for refusal in data.get("refused") or ():
        log.warning("central hub refused closing %s: %s", refusal.get("number"),
                    refusal.get("reason"))
    return len(kept)


def forward(hub, client: HubClient, values: dict, progress: Progress | None = None
            ) -> dict[str, int]:
    """Forward everything waiting, in batches; counts per status."""
    queue_records(hub)
    outbox = Outbox(hub, values[RELAY_ID])
    if progress is not None:
        progress.sent, progress.total, progress.active = 0, waiting(hub), True

    def acknowledge(envelopes, results):
        outbox.acknowledge(envelopes, results)
        if progress is not None:
            progress.sent += len(envelopes)
        if live(hub):
            # Tablets are pushing: the meeting comes first (their votes on the projector),
            # the backlog goes at full speed once the room is quiet.
            time.sleep(hub.settings.upstream_live_pause_ms / 1000)

    try:
        return push_in_batches(client, outbox.take, acknowledge, values.get(MAX_BATCH) or 100,
                               path=RELAY_EVENTS,
                               on_max_batch=lambda n: set_state(hub, max_batch=n))
    finally:
        if progress is not None:
            progress.active = False


def pull_bundles(hub, client: HubClient, values: dict) -> list[str]:
    """Import the consultations the central hub sends this room's site (new versions only,
    with their files, each checked against its hash); returns those imported. One that fails
    does not hold back the others; the index's ETag is kept only once all are in, so that the
    missing ones are asked again at the next try."""
    index, etag = client.get_json(f"{p.API_PREFIX}/bundle", values.get(BUNDLE_ETAG))
    if index is None:
        return []
    items = index.get("consultations")
    if not isinstance(items, list):
        raise p.NotAcknowledged("malformed bundle index")
    held = {c["id"]: c for c in hub.consultations()}
    imported, failed, seen = [], None, set()
    for item in items:
        # An entry that names no consultation is left (an ID of another type stopped the pull,
        # and with it the cards and answers pulled after it, at every cycle).
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) \
                or held.get(item.get("id"), {}).get("sha256") == item.get("sha256") \
                or str(item.get("id")) in seen:
            continue
        # One download per consultation and pull: an index naming one consultation 100,000
        # times (it may be 32 MiB) had the room's uplink fetch its bundle 100,000 times.
        seen.add(str(item.get("id")))
        if not_to_import(item, held.get(item.get("id"))):
            continue
        try:
            # Read with the tablets' caps (sync.content): bundle.json as any JSON answer, each
            # file at its kind's limit, a bundle's files at MAX_BUNDLE_BYTES in all.
            listed = item.get("files") or []
            if not isinstance(listed, list) or not all(isinstance(f, dict) for f in listed):
                raise p.NotAcknowledged("malformed bundle index")
            text = client.get_bytes(str(item.get("bundle_url")), MAX_ANSWER_BYTES)
            files, total = {}, 0
            for f in listed:
                rel = str(f.get("path"))
                content = client.get_bytes(str(f.get("url")),
                                           max(0, min(file_limit(rel), MAX_BUNDLE_BYTES - total)))
                total += len(content)
                if hashlib.sha256(content).hexdigest() != f.get("sha256"):
                    raise p.NotAcknowledged("a bundle file does not match its hash")
                files[rel] = content
        except p.SyncError as exc:
            failed = failed or exc
            continue
        try:
            bundle = json.loads(text)
            # The index's entry names the consultation: a bundle of another one under its
            # address is not imported (it would replace that other consultation here).
            inner = bundle.get("consultation") if isinstance(bundle, dict) else None
            if not isinstance(inner, dict) or inner.get("id") != item.get("id"):
                raise ValueError("the bundle is not the consultation its index names")
            hub.import_bundle(bundle, files)
            imported.append(item["id"])
        except (DomainError, ValueError) as exc:
            log.error("consultation %s from the central hub not imported: %s",
                      item.get("id"), exc)
    if failed is not None:
        raise failed
    set_state(hub, bundle_etag=etag)
    return imported


def not_to_import(item: dict, held: dict | None) -> bool:
    """Whether the index's entry is left before any download (logged): a draft (tried on the
    tablets staff name, never a room's published version), or a version not above the one
    the room holds (import_bundle would refuse it after its files were fetched — up to 1 GiB
    at each pull from a central hub going back: a replay, an old backup)."""
    if item.get("draft") is True:
        log.error("consultation %s from the central hub not imported: a draft",
                  item.get("id"))
        return True
    version = item.get("version")
    if held is not None and isinstance(version, int) and version <= held["version"]:
        log.error("consultation %s from the central hub not imported: version %s, this hub "
                  "holds %s", item.get("id"), version, held["version"])
        return True
    return False


def pull_answers(hub, client: HubClient, values: dict) -> int:
    """The answers to the ideas this room's devices collected, after the kept cursor."""
    cursor = values.get(ANSWERS_CURSOR) or 0
    applied = 0
    while True:
        data, _ = client.get_json(f"{RELAY_ANSWERS}?since={int(cursor)}")
        answers = data.get("answers") if data else None
        if not isinstance(answers, list) or not isinstance(data.get("cursor"), int):
            raise p.NotAcknowledged("malformed answers")
        for answer in answers:
            _apply_answer(hub, answer)
        applied += len(answers)
        if data["cursor"] != cursor:
            set_state(hub, answers_cursor=data["cursor"])
        if not answers or data["cursor"] == cursor:
            return applied
        cursor = data["cursor"]


def pull_content(hub, client: HubClient, values: dict) -> list[str]:
    """Everything that comes down at once (the room kit's first pull): consultations, cards,
    answers. Returns the consultations imported."""
    imported = pull_bundles(hub, client, values)
    pull_cards(hub, client)
    pull_answers(hub, client, state(hub))
    return imported


def _apply_answer(hub, answer: dict) -> None:
    if not isinstance(answer, dict) or not isinstance(answer.get("proposal_id"), str):
        return
    with hub.engine.connect() as conn:
        row = conn.execute(select(db.proposals.c.answer_status, db.proposals.c.answer_text)
                           .where(db.proposals.c.id == answer["proposal_id"])).first()
    if row is None or (row.answer_status, row.answer_text) == (
            answer.get("answer_status"), answer.get("answer_text")):
        return
    try:
        hub.answer_proposal(answer["proposal_id"], answer.get("answer_status"),
                            answer.get("answer_text"))
    except DomainError as exc:
        log.error("answer to idea %s not applied: %s", answer["proposal_id"], exc)


# -- the loop -------------------------------------------------------------------------------------

@dataclass
class Step:
    """One exchange with the central hub, tried and retried on its own: `run(client, values)`,
    every `interval` seconds after a success, with the tablets' backoff after a failure."""
    name: str
    run: object
    interval: float
    failures: int = 0
    due: float = 0.0
    problem: str | None = None


class Forwarder(threading.Thread):
    """The hub process's upstream loops, each step on its own (docs/protocol.md, "The loop"):
    this thread sends up — registers devices, sends the room's cards, forwards events — every
    `interval` seconds; a second thread (`self.content`) brings down consultations, cards
    and answers to ideas (every `content_interval` seconds). A step that
    fails backs off alone (2 s, 4 s… up to `backoff[1]`, with jitter): a failing pull or card
    push never holds back the events. Does nothing until this hub is enrolled upstream
    (`python -m server upstream enroll`)."""

    def __init__(self, hub, interval: float = 10.0, content_interval: float = 300.0,
                 backoff: tuple[float, float] = (2.0, 300.0), timeout: float = 60.0):
        super().__init__(name="piazzetta-upstream", daemon=True)
        self.hub = hub
        self.interval = interval
        self.content_interval = content_interval
        self.backoff = backoff
        self.timeout = (min(5.0, timeout), timeout)
        self.progress = Progress()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self.steps = [
            Step("devices", lambda c, v: register_devices(hub, c), interval),
            Step("cards up", lambda c, v: push_cards(hub, c), interval),
            Step("events", lambda c, v: forward(hub, c, v, self.progress), interval),
            Step("closings", lambda c, v: push_closings(hub, c), interval)]
        self.content = _Loop(self, "piazzetta-upstream-content", [
            Step("consultations", lambda c, v: pull_bundles(hub, c, v), content_interval),
            Step("cards down", lambda c, v: pull_cards(hub, c), content_interval),
            Step("answers", lambda c, v: pull_answers(hub, c, v), content_interval)])

    @property
    def failures(self) -> int:
        return max(step.failures for step in self.steps + self.content.steps)

    @property
    def problem(self) -> str | None:
        return next((step.problem for step in self.steps + self.content.steps if step.problem),
                    None)

    def start(self) -> None:
        super().start()
        self.content.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.content.wake()

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        _run_steps(self, self.steps, self._wake)

    def cycle(self) -> float:
        """Run the steps that are due once; the seconds until the next one is."""
        return _cycle(self, self.steps)


class _Loop(threading.Thread):
    def __init__(self, owner: Forwarder, name: str, steps: list[Step]):
        super().__init__(name=name, daemon=True)
        self.owner = owner
        self.steps = steps
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        _run_steps(self.owner, self.steps, self._wake)


def _run_steps(owner: Forwarder, steps: list[Step], wake: threading.Event) -> None:
    while not owner._stopping.is_set():
        try:
            delay = _cycle(owner, steps)
        except Exception:      # a bug must not stop forwarding for good
            log.exception("upstream cycle failed")
            delay = owner.backoff[1]
        wake.wait(delay)
        wake.clear()


@contextmanager
def forwarding_turn(hub, loop: str):
    """Whether this process runs `loop`'s steps now: always on SQLite (one process); on
    PostgreSQL only the process holding the loop's advisory lock, for the cycle, so that
    several hub processes on one database never forward, register or pull at once."""
    if hub.is_sqlite:
        yield True
        return
    key = int.from_bytes(hashlib.sha256(f"piazzetta-upstream|{loop}".encode()).digest()[:8],
                         "big", signed=True)
    with hub.engine.connect() as conn:
        held = conn.exec_driver_sql("SELECT pg_try_advisory_lock(%(k)s)", {"k": key}).scalar()
        conn.commit()
        try:
            yield bool(held)
        finally:
            if held:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(%(k)s)", {"k": key})
                conn.commit()


def _cycle(owner: Forwarder, steps: list[Step]) -> float:
    hub = owner.hub
    values = state(hub)
    if not configured(values):
        return owner.interval
    with forwarding_turn(hub, steps[0].name) as mine:
        if not mine:                 # another hub process on the database runs these steps
            return owner.interval
        return _cycle_steps(owner, steps, values)


def _cycle_steps(owner: Forwarder, steps: list[Step], values: dict) -> float:
    hub = owner.hub
    client = HubClient(values[URL], values[RELAY_ID], values[SECRET], timeout=owner.timeout,
                       user_agent="piazzetta-room-hub")
    contacted = False
    try:
        for step in steps:
            if owner._stopping.is_set() or time.monotonic() < step.due:
                continue
            try:
                step.run(client, values)
            except p.SyncError as exc:
                step.failures += 1
                step.problem = exc.message
                step.due = time.monotonic() + backoff_delay(step.failures, owner.backoff)
                set_state(hub, problem=exc.message)
                log.warning("central hub, %s: %s (%s)", step.name, exc,
                            getattr(exc, "detail", ""))
                continue
            contacted = True
            step.failures, step.problem = 0, None
            step.due = time.monotonic() + step.interval
            values = state(hub)
    finally:
        client.close()
    if contacted:
        set_state(hub, last_contact=now_iso("seconds"), problem=owner.problem)
    return max(0.05, min(step.due for step in steps) - time.monotonic())


def status(hub, forwarder: Forwarder | None = None) -> dict:
    """What the room's status line and `upstream status` say: the central hub, tablets seen,
    events waiting, last contact, the problem met, the forwarding under way."""
    values = state(hub)
    with hub.engine.connect() as conn:
        tablets = conn.execute(select(func.count()).select_from(db.devices).where(
            db.devices.c.kind.is_(None), db.devices.c.last_seen_at.is_not(None))).scalar()
        enrolled = conn.execute(select(func.count()).select_from(db.devices).where(
            db.devices.c.kind.is_(None),     # the hub's own phone devices are no tablets
            ~db.devices.c.id.startswith(PHONE_DEVICE_PREFIX, autoescape=True))).scalar()
    out = {"url": values.get(URL) if configured(values) else None,
           "relay_id": values.get(RELAY_ID), "site_id": values.get(SITE),
           "tablets_enrolled": enrolled, "tablets_seen": tablets, "waiting": waiting(hub),
           "last_contact": values.get(LAST_CONTACT), "problem": values.get(PROBLEM)}
    if forwarder is not None and forwarder.progress.active:
        out["progress"] = {"sent": forwarder.progress.sent, "total": forwarder.progress.total}
    return out


def start_forwarder(hub) -> Forwarder:
    forwarder = Forwarder(hub, interval=hub.settings.upstream_interval,
                          content_interval=hub.settings.upstream_content_interval,
                          backoff=(1.0, max(1.0, float(hub.settings.upstream_backoff))),
                          timeout=float(hub.settings.upstream_timeout))
    forwarder.start()
    return forwarder


