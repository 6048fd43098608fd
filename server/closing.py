"""Closing records: the reconciled, signed and chained sheet of a meeting or of a site's day
(docs/protocol.md, "Closing records").

When staff close a meeting (or a site's day), the hub that holds its events — a room hub or
the central hub — makes one record: the cards handed out and used, the ballots per channel
(every channel of app.counts.CHANNELS), every paper or show-of-hands count with its
corrections, the ideas received, approved and rejected with their reasons, and every mismatch
it can see (more ballots or used cards than cards handed out, a tablet of the site that has not
synced since the meeting, a count corrected after an earlier closing of the same meeting).

The record is canonical JSON (app.canonical), signed with the hub's closing key (Ed25519,
derived from the hub's secret like its card key: nothing else to keep) and chained: it names
the digest of the hub's previous closing (`previous`) and a digest of the IDs of the events it
covers, in order (`events.digest`). The published file is the canonical JSON of
`{"record", "digest", "signature"}`: `verify_document` refuses it when any byte differs.

Used cards are published as fingerprints, one per card and question:
SHA-256("piazzetta-used-card|" consultation | question | lookup | card's public key). A card's
holder can find theirs (their card gives them the lookup and the public key); nobody else can
link a fingerprint to a card, a person, another question's fingerprint or an answer: the
public key is 32 random bytes, and each question's list is sorted (not in the order of use).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Iterable

from sqlalchemy import func, select

from app.canonical import canonical_json
from app.clock import now_iso
from app.counts import CHANNELS, COUNT_CHANNELS, PHONE_DEVICE_PREFIX, ballot_channel
from app.errors import N_
from app.model import meeting_ends

from . import db
from .errors import HubError

FORMAT = "piazzetta-closing/1"
# The events a closing covers (their stored types): ballots, counts, ideas.
COVERED_TYPES = ("ballot_started", "answer", "answer_withdrawn", "ballot_closed", "tally_count",
                 "proposal", "proposal_moderated")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ClosingError(HubError):
    """A closing that cannot be made (unknown meeting, a day that is not one…)."""


class VerificationError(Exception):
    """Why a closing document does not verify (plain text, for the CLI and the page)."""


# -- the hub's closing key ---------------------------------------------------------------------

def closing_seed(hub_secret: str) -> bytes:
    """The hub's Ed25519 closing key seed, derived from its secret (like the card key)."""
    return hmac.new(hub_secret.encode(), b"piazzetta-closing-signing-key",
                    hashlib.sha256).digest()


def _private_key(seed: bytes):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex(seed: bytes) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    return _private_key(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def hub_public_key(hub) -> str:
    """The hub's closing public key (hex), published at GET /api/v1/closing-key."""
    return public_key_hex(closing_seed(hub.settings.secret_key))


# -- signing and verifying ---------------------------------------------------------------------

def digest_of(record: dict) -> str:
    return hashlib.sha256(canonical_json(record).encode()).hexdigest()


def sign_record(record: dict, seed: bytes) -> str:
    """The published document of `record`: canonical JSON of record, digest and signature."""
    body = canonical_json(record).encode()
    signature = base64.b64encode(_private_key(seed).sign(body)).decode()
    return canonical_json({"record": record, "digest": hashlib.sha256(body).hexdigest(),
                           "signature": signature})


def verify_document(text: str | bytes, public_key: str | None = None) -> dict:
    """The record of a closing document when it is exactly as signed (every byte), signed by
    `public_key` (hex; default: the key the record names — then say which key it was checked
    against); else VerificationError with the reason."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise VerificationError("not UTF-8 text") from None
    try:
        text.encode("utf-8")        # a lone surrogate (a JSON string's \ud800 sent up)
    except UnicodeEncodeError:
        raise VerificationError("not UTF-8 text") from None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):       # RecursionError: nested past Python's stack
        raise VerificationError("not JSON") from None
    if not isinstance(document, dict) or set(document) != {"record", "digest", "signature"} \
            or not isinstance(document["record"], dict):
        raise VerificationError("not a closing document")
    if canonical_json(document) != text.rstrip("\n"):
        raise VerificationError("the file is not the document as signed (bytes differ)")
    record = document["record"]
    if record.get("format") != FORMAT:
        raise VerificationError("unknown format")
    body = canonical_json(record).encode()
    if hashlib.sha256(body).hexdigest() != document["digest"]:
        raise VerificationError("the digest does not match the record")
    named = record.get("hub") if isinstance(record.get("hub"), dict) else {}
    key = public_key or named.get("public_key")
    try:
        verifier = Ed25519PublicKey.from_public_bytes(bytes.fromhex(str(key)))
        verifier.verify(base64.b64decode(str(document["signature"]), validate=True), body)
    except (InvalidSignature, ValueError, TypeError):
        raise VerificationError("the signature does not match the hub's key") from None
    if public_key and named.get("public_key") != public_key:
        raise VerificationError("the record names another key")
    return record


def verify_chain(documents: Iterable[str], public_key: str | None = None) -> list[dict]:
    """Each document verified, and the chain they form: numbered one after the other, each
    `previous` the digest of the one before (the first one's numbers the one before it, which
    may be absent), every one signed by the same key: `public_key`, else the key the first
    one names (a record carrying another key of its own does not verify in the chain).
    VerificationError at the first break."""
    records, before = [], None
    for text in documents:
        record = verify_document(text, public_key)
        public_key = public_key or record["hub"]["public_key"]
        digest = digest_of(record)
        if before is not None:
            if record["number"] != before[0]["number"] + 1:
                raise VerificationError(f"closing {before[0]['number']} is followed by "
                                        f"{record['number']}: a closing is missing")
            if record["previous"] != before[1]:
                raise VerificationError(f"closing {record['number']} does not commit to "
                                        f"closing {before[0]['number']}")
        elif record["number"] == 1 and record["previous"] is not None:
            raise VerificationError("the first closing names a previous one")
        records.append(record)
        before = (record, digest)
    return records


# -- the scope: a meeting, or a site's day -----------------------------------------------------

def scope_key(scope: dict) -> str:
    if scope["kind"] == "meeting":
        return f"meeting:{scope['consultation_id']}:{scope['meeting_id']}"
    return f"site_day:{scope['site_id']}:{scope['day']}"


def meeting_scope(hub, meeting_id: str, consultation_id: str | None = None) -> dict:
    """The scope of a meeting of a consultation this hub holds (the first that has it)."""
    for row in hub.consultations():
        cid = row["id"]
        if consultation_id and cid != consultation_id:
            continue
        consultation = hub.consultation(cid)
        for meeting in consultation.meetings if consultation else ():
            if meeting.id == meeting_id:
                return {"kind": "meeting", "consultation_id": cid, "meeting_id": meeting.id,
                        "site_id": meeting.site, "starts_at": meeting.starts_at,
                        "title": dict(meeting.title)}
    raise ClosingError(N_("Unknown meeting."), status=404, code="meeting_unknown",
                       field="meeting_id")


def site_day_scope(hub, site_id: str, day: str) -> dict:
    if not isinstance(day, str) or not DAY.match(day):
        raise ClosingError(N_("A day is expected here (YYYY-MM-DD)."), field="day")
    try:
        datetime.fromisoformat(day)
    except ValueError:
        raise ClosingError(N_("A day is expected here (YYYY-MM-DD)."), field="day") from None
    if not hub.site_exists(site_id):
        raise ClosingError(N_("Unknown site."), status=404, code="site_unknown", field="site_id")
    return {"kind": "site_day", "site_id": site_id, "day": day}


def _utc(local_naive: datetime) -> datetime:
    """A meeting's published local time (naive: the hub's local time) in UTC."""
    if local_naive.tzinfo is None:
        local_naive = local_naive.astimezone()
    return local_naive.astimezone(timezone.utc)


def _window(scope: dict) -> tuple[datetime, datetime]:
    """When the scope's activity is taken to start and end (UTC)."""
    if scope["kind"] == "meeting":
        start = datetime.fromisoformat(scope["starts_at"])
        from app.model import Meeting
        end = meeting_ends(Meeting(scope["meeting_id"], scope["site_id"], {}, scope["starts_at"]))
        return _utc(start), _utc(end)
    start = datetime.fromisoformat(scope["day"])
    return _utc(start), _utc(start.replace(hour=23, minute=59, second=59))


# -- what a closing reads ----------------------------------------------------------------------

def _site_devices(conn, site_id: str) -> dict[str, dict]:
    rows = conn.execute(select(db.devices.c.id, db.devices.c.name, db.devices.c.kind,
                               db.devices.c.revoked_at, db.devices.c.last_seen_at,
                               db.devices.c.alias, db.devices.c.enrolled_at)
                        .where(db.devices.c.site_id == site_id)).all()
    found = {r.id: dict(r._mapping) for r in rows}
    for r in conn.execute(select(db.relay_devices.c.device_id, db.relay_devices.c.name)
                          .where(db.relay_devices.c.site_id == site_id)):
        found.setdefault(r.device_id, {"id": r.device_id, "name": r.name, "kind": "relayed",
                                       "revoked_at": None, "last_seen_at": None, "alias": None,
                                       "enrolled_at": None})
    return found


# Events that name no meeting: they follow the ballot or the idea they belong to.
ATTACHED = {"ballot_closed": "ballot_id", "answer_withdrawn": "ballot_id",
            "proposal_moderated": "proposal_id"}


def covered_events(conn, scope: dict, device_ids: list[str]) -> list[tuple[str, str, dict]]:
    """(event ID, type, payload) of the scope's events, in order (device, then its sequence):
    a meeting's are the site's devices' events naming it; a site's day, the site's devices'
    events the devices recorded that day. Closings of ballots, withdrawals and moderations of
    ideas come with the ballots and ideas they belong to."""
    e = db.events.c
    out: list[tuple[str, str, dict, str, int]] = []
    attached: list[tuple[str, str, dict, str, int]] = []
    for chunk in db.in_chunks(sorted(device_ids)):
        query = select(e.id, e.type, e.payload, e.device_id, e.seq, e.recorded_at).where(
            e.device_id.in_(chunk), e.type.in_(COVERED_TYPES))
        if scope["kind"] == "meeting":
            query = query.where((e.payload.like(f'%"meeting_id":"{scope["meeting_id"]}"%'))
                                | e.type.in_(tuple(ATTACHED)))
        for row in conn.execute(query):
            payload = json.loads(row.payload)
            item = (row.id, row.type, payload, row.device_id, row.seq)
            if scope["kind"] == "meeting":
                if payload.get("meeting_id") == scope["meeting_id"] and \
                        payload.get("consultation_id") == scope["consultation_id"]:
                    out.append(item)
                elif row.type in ATTACHED:
                    attached.append(item)
            elif str(row.recorded_at)[:10] == scope["day"]:
                out.append(item)
    owners = {p.get(key) for _i, t, p, _d, _s in out for key in ("ballot_id", "proposal_id")}
    owners.discard(None)
    out += [a for a in attached if a[2].get(ATTACHED[a[1]]) in owners]
    out.sort(key=lambda item: (item[3], item[4]))
    return [(i, t, p) for i, t, p, _d, _s in out]


def events_digest(event_ids: Iterable[str]) -> str:
    """SHA-256 over the covered events' IDs in order, one a line."""
    digest = hashlib.sha256()
    for event_id in event_ids:
        digest.update(event_id.encode() + b"\n")
    return digest.hexdigest()


def card_fingerprint(consultation_id: str, question_id: str, lookup: str,
                     public_key: str) -> str:
    """A used card's published fingerprint for one question (see the module's docstring)."""
    return hashlib.sha256("|".join(("piazzetta-used-card", consultation_id, question_id,
                                    lookup, public_key)).encode()).hexdigest()


def _ballot_channel(row) -> str:
    """A ballot's channel, by the device that made it (app.counts.ballot_channel: the hub's
    phone device, else a tablet)."""
    return ballot_channel(row.device_id)


def _in_correction_order(counts: list[dict], by_id: dict[str, dict]) -> list[dict]:
    """Each first count (by arrival), followed by its corrections in order."""
    ordered = []
    for root in sorted((r for r in counts if r["supersedes"] not in by_id),
                       key=lambda r: (r["received_at"], r["id"])):
        row, seen = root, set()
        while row is not None and row["id"] not in seen:
            seen.add(row["id"])
            ordered.append(row)
            row = by_id.get(row["superseded_by"]) if row["superseded_by"] else None
    return ordered


def build_record(hub, conn, scope: dict, *, number: int, previous: str | None,
                 made_at: str, closed_before: dict | None) -> dict:
    """The closing record of `scope`, as the hub's database holds it now (`conn`);
    `closed_before`: the latest earlier closing of the same scope (_last_of_scope)."""
    devices = _site_devices(conn, scope["site_id"])
    events = covered_events(conn, scope, list(devices))
    ballot_ids = sorted({p["ballot_id"] for _i, t, p in events
                         if t in ("ballot_started", "answer", "answer_withdrawn",
                                  "ballot_closed") and isinstance(p.get("ballot_id"), str)})
    count_events = [i for i, t, _p in events if t == "tally_count"]
    idea_ids = sorted({p["proposal_id"] for _i, t, p in events if t == "proposal"})

    # Ballots: those with at least one answer standing, per channel and per question.
    b, a = db.ballots, db.ballot_answers
    ballots: dict[str, dict] = {}
    answered: dict[str, set[str]] = {}
    for chunk in db.in_chunks(ballot_ids):
        for row in conn.execute(select(b).where(b.c.id.in_(chunk))):
            ballots[row.id] = {"channel": _ballot_channel(row), "mode": row.mode,
                               "consultation_id": row.consultation_id}
        for row in conn.execute(select(a.c.ballot_id, a.c.question_id).where(
                a.c.ballot_id.in_(chunk), a.c.value.is_not(None))):
            answered.setdefault(row.ballot_id, set()).add(row.question_id)
    per_channel = {channel: 0 for channel in CHANNELS}
    per_question: dict[str, dict[str, int]] = {}
    identified = 0
    for ballot_id, questions in answered.items():
        channel = ballots.get(ballot_id, {}).get("channel", "tablet")
        per_channel[channel] = per_channel.get(channel, 0) + 1
        identified += ballots.get(ballot_id, {}).get("mode") == "identified"
        for question_id in questions:
            row = per_question.setdefault(question_id, {})
            row[channel] = row.get(channel, 0) + 1

    # Counts: every one, corrections included (who, when, before/after).
    c = db.tally_counts
    counts = []
    for chunk in db.in_chunks(sorted(count_events)):
        counts += [dict(r._mapping) for r in conn.execute(select(c).where(
            c.c.event_id.in_(chunk)))]
    by_id = {r["id"]: r for r in counts}
    counts = _in_correction_order(counts, by_id)
    count_rows = []
    for r in counts:
        current = r["superseded_by"] is None
        if current:
            channel = r["channel"]
            per_channel[channel] = max(per_channel.get(channel, 0), r["ballots"])
            row = per_question.setdefault(r["question_id"], {})
            row[channel] = row.get(channel, 0) + r["ballots"]
        before = by_id.get(r["supersedes"]) if r["supersedes"] else None
        device = devices.get(r["device_id"], {})
        count_rows.append({
            "count_id": r["id"], "question_id": r["question_id"], "channel": r["channel"],
            "counts": json.loads(r["counts"]), "ballots": r["ballots"], "current": current,
            "supersedes": r["supersedes"], "superseded_by": r["superseded_by"],
            "before": json.loads(before["counts"]) if before else None,
            "recorded_by": {"device": r["device_id"],
                            "name": device.get("name") or device.get("alias") or ""},
            "received_at": r["received_at"]})

    # Ideas: received, approved, rejected (with their reasons), pending.
    p = db.proposals
    ideas = {"received": 0, "approved": 0, "rejected": 0, "pending": 0}
    reasons: dict[str, int] = {}
    for chunk in db.in_chunks(idea_ids):
        for row in conn.execute(select(p.c.status, p.c.reason).where(p.c.id.in_(chunk))):
            ideas["received"] += 1
            ideas[row.status if row.status in ideas else "pending"] += 1
            if row.status == "rejected":
                reason = " ".join((row.reason or "").split())[:120]
                reasons[reason] = reasons.get(reason, 0) + 1
    ideas["rejected_reasons"] = [{"reason": k, "ideas": n} for k, n in sorted(reasons.items())]

    # Cards: handed out (the consultation's printed batches, cards issued online), used here.
    consultation_ids = sorted({scope["consultation_id"]} if scope["kind"] == "meeting" else
                              {v["consultation_id"] for v in ballots.values()})
    cards = {"batches": [], "printed": 0, "issued_online": 0, "used": 0}
    fingerprints: dict[str, list[str]] = {}
    for consultation_id in consultation_ids:
        for row in conn.execute(select(db.card_batches).where(
                db.card_batches.c.consultation_id == consultation_id).order_by(
                db.card_batches.c.made_at, db.card_batches.c.id)):
            cards["batches"].append({"consultation_id": consultation_id, "batch": row.id,
                                     "kind": row.kind, "cards": row.count,
                                     "made_at": row.made_at})
            if row.kind == "printed":
                cards["printed"] += row.count
        cards["issued_online"] += hub.participation.signups.cards_handed_out(consultation_id)
    used: set[tuple[str, str]] = set()
    u, ic = db.card_uses, db.issued_cards
    for chunk in db.in_chunks(sorted(answered)):
        for row in conn.execute(select(u.c.consultation_id, u.c.question_id, u.c.card,
                                       ic.c.public_key).join(ic, (ic.c.consultation_id ==
                                                                  u.c.consultation_id)
                                                             & (ic.c.lookup == u.c.card))
                                .where(u.c.ballot_id.in_(chunk))):
            used.add((row.consultation_id, row.card))
            fingerprints.setdefault(row.question_id, []).append(card_fingerprint(
                row.consultation_id, row.question_id, row.card, row.public_key or ""))
    cards["used"] = len(used)
    cards["handed_out"] = cards["printed"] + cards["issued_online"]

    # Mismatches.
    mismatches = []
    if identified > cards["handed_out"]:
        mismatches.append({"kind": "more_ballots_than_cards", "ballots": identified,
                           "cards": cards["handed_out"]})
    if cards["used"] > cards["handed_out"]:
        mismatches.append({"kind": "more_cards_used_than_handed_out", "used": cards["used"],
                           "cards": cards["handed_out"]})
    start, end = _window(scope)
    made = datetime.fromisoformat(made_at)
    cutoff = end if made >= end else start
    for device_id, device in sorted(devices.items()):
        if device["kind"] not in (None, "tablet") or device["revoked_at"] \
                or device_id.startswith(PHONE_DEVICE_PREFIX):
            continue        # the hub's own phones' device holds nothing unsent
        seen = device["last_seen_at"]
        if seen is None or datetime.fromisoformat(seen) < cutoff:
            mismatches.append({"kind": "device_not_synced", "device": device_id,
                               "name": device["name"] or device["alias"] or "",
                               "last_contact": seen, "since": cutoff.isoformat()})
    if closed_before:
        covered = set(closed_before["count_ids"])
        for r in counts:
            if r["supersedes"] in covered and r["received_at"] > closed_before["made_at"]:
                mismatches.append({"kind": "count_corrected_after_closing",
                                   "count_id": r["id"], "corrects": r["supersedes"],
                                   "closing": closed_before["number"]})
    return {
        "format": FORMAT, "number": number, "previous": previous,
        "hub": {"public_key": hub_public_key(hub), "url": hub.settings.public_url},
        "scope": scope, "made_at": made_at,
        "events": {"count": len(events), "digest": events_digest(i for i, _t, _p in events)},
        "ballots": {"per_channel": per_channel,
                    "per_question": {q: dict(sorted(v.items()))
                                     for q, v in sorted(per_question.items())}},
        "counts": count_rows, "ideas": ideas, "cards": cards,
        "used_cards": {q: sorted(v) for q, v in sorted(fingerprints.items())},
        "mismatches": mismatches,
        "supersedes_closing": closed_before["number"] if closed_before else None,
    }


# -- making and reading closings ---------------------------------------------------------------

def _last_of_scope(conn, key: str) -> dict | None:
    """The latest closing of the same scope (`scope_key`), with the counts it held."""
    row = conn.execute(select(db.closings.c.number, db.closings.c.made_at,
                              db.closings.c.document).where(db.closings.c.scope == key)
                       .order_by(db.closings.c.number.desc()).limit(1)).first()
    if row is None:
        return None
    record = json.loads(row.document)["record"]
    return {"number": row.number, "made_at": row.made_at,
            "count_ids": [c["count_id"] for c in record["counts"]]}


def make_closing(hub, scope: dict) -> dict:
    """Make, sign, chain and store the closing of `scope` (meeting_scope / site_day_scope);
    the stored row: number, id, digest, document (the published text)."""
    seed = closing_seed(hub.settings.secret_key)
    with hub.writer.begin() as conn:
        if conn.dialect.name == "postgresql":      # one chain: closings made one at a time
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('piazzetta-closing'))")
        last = conn.execute(select(db.closings.c.number, db.closings.c.digest)
                            .order_by(db.closings.c.number.desc()).limit(1)).first()
        number = (last.number + 1) if last else 1
        made_at = now_iso()
        record = build_record(hub, conn, scope, number=number,
                              previous=last.digest if last else None, made_at=made_at,
                              closed_before=_last_of_scope(conn, scope_key(scope)))
        document = sign_record(record, seed)
        digest = digest_of(record)
        row = {"number": number, "id": digest[:32], "scope": scope_key(scope),
               "made_at": made_at, "digest": digest, "document": document}
        conn.execute(db.closings.insert(), [row])
    return row


def closing(hub, closing_id: str) -> dict | None:
    """A stored closing by its ID (or its number, as text); None when unknown. At a central
    hub, a room hub's closing sent up is found by its ID too (with `relay_id`, `public_key`)."""
    query = select(db.closings)
    if isinstance(closing_id, str) and closing_id.isdigit() and len(closing_id) < 10:
        query = query.where(db.closings.c.number == int(closing_id))
    elif isinstance(closing_id, str) and re.fullmatch(r"[0-9a-f]{32}", closing_id):
        query = query.where(db.closings.c.id == closing_id)
    else:
        return None
    with hub.engine.connect() as conn:
        row = conn.execute(query).first()
        if row is None and len(closing_id) == 32:
            row = conn.execute(select(db.relay_closings).where(
                db.relay_closings.c.id == closing_id)).first()
    return dict(row._mapping) if row else None


def chain_problem(hub, row: dict, record: dict) -> str | None:
    """None when the stored closing before this one (this hub's, or the same room hub's) is
    the one its `previous` names; else why not."""
    if record["number"] == 1:
        return None if record["previous"] is None else "the first closing names a previous one"
    if row.get("relay_id"):
        rc = db.relay_closings.c
        query = select(rc.document).where(rc.relay_id == row["relay_id"],
                                          rc.number == record["number"] - 1)
    else:
        query = select(db.closings.c.document).where(
            db.closings.c.number == record["number"] - 1)
    with hub.engine.connect() as conn:
        before = conn.execute(query).scalar()
    if before is None:
        return None if row.get("relay_id") else "the closing before it is missing"
    try:
        digest = digest_of(json.loads(before)["record"])
    except (ValueError, KeyError, TypeError):
        digest = None
    return None if digest == record["previous"] else \
        "it does not commit to the closing before it"


def closings(hub) -> list[dict]:
    """Every closing this hub made, in order (without their documents)."""
    with hub.engine.connect() as conn:
        rows = conn.execute(select(db.closings.c.number, db.closings.c.id, db.closings.c.scope,
                                   db.closings.c.made_at, db.closings.c.digest)
                            .order_by(db.closings.c.number)).all()
    return [dict(r._mapping) for r in rows]


def documents(hub) -> list[str]:
    """Every stored closing document, in order (for verify_chain)."""
    with hub.engine.connect() as conn:
        return list(conn.execute(select(db.closings.c.document)
                                 .order_by(db.closings.c.number)).scalars())


def show_on_projector(hub, row: dict) -> None:
    """A meeting's closing: its consultation's projectors show the record's QR (the display
    control `closing`, app/display.py) until a facilitator clears it."""
    record = json.loads(row["document"])["record"]
    if record["scope"]["kind"] != "meeting":
        return
    from .display_controls import set_display
    url = f"{hub.settings.public_url.rstrip('/')}/closing/{row['id']}"
    set_display(hub, record["scope"]["consultation_id"], {"closing": url}, "staff:closing")


def make_for(hub, *, meeting_id: str | None = None, consultation_id: str | None = None,
             site_id: str | None = None, day: str | None = None) -> dict:
    """A closing of a meeting (`meeting_id`, its QR then on the consultation's projectors) or
    of a site's day (`site_id` and `day`)."""
    if meeting_id:
        row = make_closing(hub, meeting_scope(hub, meeting_id, consultation_id))
        show_on_projector(hub, row)
        return row
    if site_id and day:
        return make_closing(hub, site_day_scope(hub, site_id, day))
    raise ClosingError(N_("A meeting, or a site and a day, is expected here."),
                       field="meeting_id")


# -- hub to hub: a room hub's closings, sent up and kept by the central hub ---------------------

MAX_SENT = 20      # closings a room hub sends in one request


def receive_closings(hub, relay: dict, texts: object, shown=None) -> dict:
    """A room hub's closings (server.upstream.push_closings), each kept when it verifies: the
    first one a room hub sends pins its key (a later one signed by another key is refused);
    each is of the room's own site; each follows the last one received (number one more,
    `previous` its digest) — or is one received already, byte for byte. Returns
    {"stored": [numbers], "refused": [{"number", "reason"}]}; stops at the first refusal.
    `shown(hub, row)`: whether this hub can show the record (server.closing_sheet.can_show,
    which the route passes): one it cannot is refused rather than stored for a failing page."""
    if not isinstance(texts, list) or len(texts) > MAX_SENT:
        raise HubError(N_("A list of closing records is expected here."), field="documents")
    stored, refused = [], []
    # Drawn before the writer's turn (some 200 ms a sheet): tablets' pushes never wait on it.
    showable = {}
    for text in texts:
        try:
            record = verify_document(text if isinstance(text, str) else "")
            digest = digest_of(record)
            showable[text] = shown is None or shown(hub, {
                "id": digest[:32], "relay_id": relay["id"], "number": record.get("number"),
                "public_key": (record.get("hub") or {}).get("public_key"), "digest": digest,
                "document": text.rstrip("\n")})
        except (VerificationError, TypeError, AttributeError):
            continue            # refused below, with its reason
    with hub.writer.begin() as conn:
        rc = db.relay_closings.c
        last = conn.execute(select(db.relay_closings).where(rc.relay_id == relay["id"])
                            .order_by(rc.number.desc()).limit(1)).first()
        for text in texts:
            try:
                record = verify_document(text if isinstance(text, str) else "",
                                         last.public_key if last else None)
                digest = digest_of(record)
                if not isinstance(record.get("number"), int) or isinstance(
                        record["number"], bool) or record["number"] < 1 \
                        or not isinstance(record.get("scope"), dict):
                    raise VerificationError("not a closing record")
                if record["scope"].get("site_id") != relay.get("site_id"):
                    raise VerificationError("a closing of another site")
                same = conn.execute(select(rc.digest).where(
                    rc.relay_id == relay["id"], rc.number == record["number"])).scalar()
                if same is not None:
                    if same != digest:
                        raise VerificationError("another closing with this number")
                    stored.append(record["number"])
                    continue
                # Another hub's closing (this hub's own, or one another room hub sent or
                # could copy from its public page) is not this room hub's to send: its key
                # would be pinned to the wrong room, and its ID is taken.
                key = record["hub"]["public_key"]
                if key == hub_public_key(hub) or conn.execute(select(rc.relay_id).where(
                        rc.public_key == key, rc.relay_id != relay["id"]).limit(1)).first() \
                        or conn.execute(select(rc.relay_id).where(
                            rc.id == digest[:32]).limit(1)).first() \
                        or conn.execute(select(db.closings.c.number).where(
                            db.closings.c.id == digest[:32]).limit(1)).first():
                    raise VerificationError("another hub's closing")
                if last is not None and (record["number"] != last.number + 1
                                         or record["previous"] != last.digest):
                    raise VerificationError("does not follow the last closing received")
            except VerificationError as exc:
                refused.append({"number": None if not isinstance(text, str) else
                                _number_of(text), "reason": str(exc)})
                break
            row = {"id": digest[:32], "relay_id": relay["id"], "number": record["number"],
                   "public_key": record["hub"]["public_key"], "digest": digest,
                   "document": text.rstrip("\n"), "received_at": now_iso()}
            if not showable.get(text):
                refused.append({"number": record["number"],
                                "reason": "a record this hub cannot show"})
                break
            conn.execute(db.relay_closings.insert(), [row])
            last = SimpleNamespace(**row)
            stored.append(record["number"])
    return {"stored": stored, "refused": refused}


def _number_of(text: str):
    try:
        return json.loads(text)["record"]["number"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
