"""What the hub does, independent of HTTP: sites, bundles, enrollment, event ingest, results,
answers to ideas. The API (server.api) and the admin CLI (server.admin) both call this.

Ingest is exactly-once by construction: the events table's primary key is the event ID, checked
in the same transaction that applies the event to ballots, answers and ideas. Tallies are the
domain's (app.tally), kept in memory and updated after each commit (server.results).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from app.answers import validate_answer
from app.bundle import BUNDLE_FILE, MAX_IMAGE_BYTES, parse_bundle
from app.errors import N_, BundleError, ValidationError
from app.model import BALLOT_MODES, Consultation
from app.proposals import ANSWER_STATUSES, MODERATION_STATUSES, validate_proposal
from app.signup import PERSONAL_FIELDS, device_signup_key, redacted_signup_payload
from app.text import clean_text

from . import channels, db
from .errors import AuthError, EventRejected, HubError
from .results import ResultsCache
from .settings import Settings, private_dir

log = logging.getLogger("piazzetta.hub")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
_IDENT = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_BUNDLE_IDENT = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
EVENT_TYPES = ("ballot_started", "answer", "answer_withdrawn", "ballot_closed", "proposal",
               "proposal_moderated", "tally_count")
EVENT_TYPES += ("signup",)   # a sign-up typed on a tablet (server/participation.py)
ENVELOPE_KEYS = ("id", "device_id", "seq", "type", "recorded_at", "payload")
_CHUNK = 400  # IN (...) lists stay under every driver's parameter limit


def same_secret(given: object, expected: str) -> bool:
    """Whether `given` is the secret `expected`, in constant time. Bytes are compared:
    compare_digest raises TypeError on text that is not ASCII (a 500 for a typo)."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return secrets.compare_digest(given.encode("utf-8", "surrogatepass"),
                                  expected.encode("utf-8", "surrogatepass"))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def normalize_code(code: object) -> str:
    """An enrollment code as typed: case, spaces and dashes do not matter."""
    if not isinstance(code, str):
        return ""
    return "".join(ch for ch in code.upper() if ch.isalnum())[:32]


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Hub:
    """The hub's state behind one database. Thread-safe: the API calls it from many threads."""

    def __init__(self, settings: Settings):
        self.settings = settings.with_secrets()
        self.engine = db.make_engine(self.settings.database_url)
        self.writer = db.writer(self.engine)
        self._schema_ready()
        self._write_lock = threading.RLock()   # one writer at a time, and tallies follow commits
        self._consultations: dict[tuple[str, int], Consultation] = {}
        self.results = ResultsCache()
        with self._write_lock:
            self._load_results()

    def _schema_ready(self) -> None:
        if self.settings.database_url.startswith("sqlite"):
            private_dir(self.settings.data_dir)
        db.create_schema(self.engine)
        if self.is_sqlite:
            self._private_database_files()
        with self.writer.begin() as conn:
            present = conn.execute(select(db.counters.c.name)).scalars().all()
            if "answers" not in present:
                conn.execute(db.counters.insert(), [{"name": "answers", "value": 0}])

    def _private_database_files(self) -> None:
        """The SQLite file and its -wal/-shm readable by the hub's user only (sign-up contacts
        are in it). SQLite gives the -wal and -shm it makes later the file's own mode."""
        name = self.engine.url.database
        if not name or name == ":memory:" or name.startswith("file:"):
            return
        for path in (Path(name), Path(name + "-wal"), Path(name + "-shm")):
            try:
                if path.exists() and path.stat().st_mode & 0o077:
                    path.chmod(0o600)
            except PermissionError:
                log.warning("%s is readable by other users of this machine", path.name)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    # -- consultations -------------------------------------------------------------------------

    def consultation(self, consultation_id: str, version: int | None = None) -> Consultation | None:
        """The current (or a given) version of a consultation, parsed once and cached."""
        if version is None:
            with self.engine.connect() as conn:
                version = conn.execute(select(db.consultations.c.version).where(
                    db.consultations.c.id == consultation_id)).scalar()
            if version is None:
                return None
        key = (consultation_id, version)
        found = self._consultations.get(key)
        if found is None:
            with self.engine.connect() as conn:
                raw = conn.execute(select(db.consultation_versions.c.bundle).where(
                    db.consultation_versions.c.consultation_id == consultation_id,
                    db.consultation_versions.c.version == version)).scalar()
            if raw is None:
                return None
            found = self._consultations[key] = parse_bundle(json.loads(raw))
        return found

    def consultations(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.consultations.c.id, db.consultations.c.version,
                                       db.consultations.c.sha256, db.consultations.c.site_ids)
                                .order_by(db.consultations.c.id)).all()
        out = []
        for row in rows:
            c = self.consultation(row.id, row.version)
            out.append({"id": c.id, "version": c.version, "status": c.status,
                        "title": dict(c.title), "languages": list(c.languages),
                        "opens_on": c.opens_on, "closes_on": c.closes_on, "goal": c.goal,
                        "sites": json.loads(row.site_ids), "sha256": row.sha256})
        return out

    def import_bundle(self, source: str | Path | dict, files: dict[str, bytes] | None = None
                      ) -> Consultation:
        """Import a bundle (a folder, its bundle.json, or decoded JSON plus its files).

        A higher version replaces the current one; the same version again is accepted only when
        identical; a lower version is refused.
        """
        if isinstance(source, dict):
            data, folder = source, None
        else:
            path = Path(source)
            file = path if path.suffix == ".json" else path / BUNDLE_FILE
            folder = file.parent
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise BundleError(N_("The bundle file is missing."), str(file)) from None
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BundleError(N_("The bundle file cannot be read: {reason}"), str(file),
                                  reason=str(exc)) from None
        consultation = parse_bundle(data, folder=None)
        files = dict(files or {})
        if folder is not None:
            for rel in _image_paths(consultation):
                image = folder / rel
                if image.is_file():
                    if image.stat().st_size > MAX_IMAGE_BYTES:
                        raise BundleError(N_("The image {path} is too large."), str(image),
                                          path=rel)
                    files[rel] = image.read_bytes()
        raw = canonical_json(data)
        digest = sha256(raw)
        now = now_iso()
        with self._write_lock:
            with self.writer.begin() as conn:
                current = conn.execute(select(db.consultations.c.version, db.consultations.c.sha256)
                                       .where(db.consultations.c.id == consultation.id)).first()
                if current is not None:
                    if consultation.version < current.version or (
                            consultation.version == current.version and digest != current.sha256):
                        raise HubError(
                            N_("Version {version} of this consultation is already on the hub; "
                               "give the new bundle a higher version."),
                            status=409, code="bundle_version", version=current.version)
                    if digest == current.sha256:
                        return consultation
                    misfit = incompatible_question(conn, consultation)
                    if misfit is not None:
                        raise HubError(
                            N_("This version cannot replace the current one: answers or counts "
                               "already received for the question {question} do not fit it. "
                               "Keep that question's kind, options and projects, or give the "
                               "changed question a new ID."),
                            status=409, code="bundle_incompatible", field=misfit,
                            question=misfit)
                row = {"id": consultation.id, "version": consultation.version, "bundle": raw,
                       "sha256": digest, "imported_at": now,
                       "site_ids": json.dumps([s.id for s in consultation.sites])}
                if current is None:
                    conn.execute(db.consultations.insert(), [row])
                else:
                    conn.execute(db.consultations.update()
                                 .where(db.consultations.c.id == consultation.id),
                                 {k: v for k, v in row.items() if k != "id"})
                conn.execute(db.consultation_versions.insert(), [{
                    "consultation_id": consultation.id, "version": consultation.version,
                    "bundle": raw, "sha256": digest, "imported_at": now}])
                conn.execute(db.bundle_files.delete().where(
                    db.bundle_files.c.consultation_id == consultation.id))
                wanted = set(_image_paths(consultation))
                rows = [{"consultation_id": consultation.id, "path": p, "content": content,
                         "sha256": sha256(content), "size": len(content)}
                        for p, content in sorted(files.items()) if p in wanted]
                if rows:
                    conn.execute(db.bundle_files.insert(), rows)
                for site in consultation.sites:
                    self._upsert_site(conn, site.id, dict(site.name), site.town, now)
            self._consultations[(consultation.id, consultation.version)] = consultation
            with self.engine.connect() as conn:
                self.results.load(conn, consultation)
        return consultation

    def bundle_json(self, consultation_id: str) -> tuple[str, str] | None:
        """(sha256, bundle.json text) of the current version."""
        with self.engine.connect() as conn:
            row = conn.execute(select(db.consultations.c.sha256, db.consultations.c.bundle)
                               .where(db.consultations.c.id == consultation_id)).first()
        return (row.sha256, row.bundle) if row else None

    def bundle_file(self, consultation_id: str, path: str) -> tuple[str, bytes] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(db.bundle_files.c.sha256, db.bundle_files.c.content).where(
                db.bundle_files.c.consultation_id == consultation_id,
                db.bundle_files.c.path == path)).first()
        return (row.sha256, bytes(row.content)) if row else None

    def bundle_index(self, device: dict) -> dict:
        """The consultations for this device's site, with their files' hashes."""
        site_id = device.get("site_id")
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.consultations.c.id, db.consultations.c.version,
                                       db.consultations.c.sha256, db.consultations.c.site_ids)
                                .order_by(db.consultations.c.id)).all()
            files = conn.execute(select(db.bundle_files.c.consultation_id, db.bundle_files.c.path,
                                        db.bundle_files.c.sha256, db.bundle_files.c.size)
                                 .order_by(db.bundle_files.c.path)).all()
        out = []
        for row in rows:
            site_ids = json.loads(row.site_ids)
            if site_ids and site_id not in site_ids:
                continue
            base = f"/api/v1/consultations/{row.id}"
            out.append({"id": row.id, "version": row.version, "sha256": row.sha256,
                        "bundle_url": f"{base}/bundle",
                        "files": [{"path": f.path, "sha256": f.sha256, "size": f.size,
                                   "url": f"{base}/files/{f.path}"}
                                  for f in files if f.consultation_id == row.id]})
        from .participation import participation
        return {"site_id": site_id, "consultations": out,
                "cards": participation(self).card_index()}

    # -- sites ---------------------------------------------------------------------------------

    def _upsert_site(self, conn, site_id: str, name: dict, town: str, now: str) -> None:
        stmt = db.dialect_insert(conn, db.sites).values(
            id=site_id, name=canonical_json(name), town=town, created_at=now)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["id"], set_={"name": stmt.excluded.name, "town": stmt.excluded.town}))

    def create_site(self, site_id: object, name: object, town: object = "") -> dict:
        if not isinstance(site_id, str) or not _BUNDLE_IDENT.match(site_id):
            raise HubError(N_("An identifier (letters, digits, - _ .) is expected here."),
                           field="id")
        if isinstance(name, str):
            name = {"fr": name}
        if not isinstance(name, dict) or not name or not all(
                k in ("fr", "it", "en") and isinstance(v, str) and v.strip()
                for k, v in name.items()):
            raise HubError(N_("A text in each language is expected here."), field="name")
        name = {k: clean_text(v, field="name", max_length=200) for k, v in name.items()}
        town = clean_text(town or "", field="town", max_length=200)
        with self.writer.begin() as conn:
            self._upsert_site(conn, site_id, name, town, now_iso())
        return {"id": site_id, "name": name, "town": town}

    def sites(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.sites).order_by(db.sites.c.id)).all()
        return [{"id": r.id, "name": json.loads(r.name), "town": r.town} for r in rows]

    def site_exists(self, site_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(db.sites.c.id).where(db.sites.c.id == site_id)
                                ).first() is not None

    # -- enrollment and devices ------------------------------------------------------------------

    def make_enrollment_code(self, site_id: str | None, minutes: int = 15) -> dict:
        """A short-lived, single-use code for enrolling one device at `site_id`."""
        if site_id is not None and not self.site_exists(site_id):
            raise HubError(N_("Unknown site: {id}."), status=404, code="site_unknown",
                           field="site_id", id=site_id)
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 7 * 24 * 60:
            raise HubError(N_("A code lasts from 1 minute to 7 days."), field="minutes")
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        now = datetime.now(timezone.utc)
        expires = (now + timedelta(minutes=minutes)).isoformat(timespec="seconds")
        with self.writer.begin() as conn:
            conn.execute(db.enrollment_codes.insert(), [{
                "code_hash": sha256(code), "site_id": site_id,
                "created_at": now.isoformat(timespec="seconds"), "expires_at": expires}])
        pretty = format_code(code)
        return {"code": pretty, "site_id": site_id, "expires_at": expires,
                "qr": enrollment_qr_payload(self.settings.public_url, pretty)}

    def enroll(self, code: object, device_id: object, name: object = "",
               platform: object = "") -> dict:
        """Trade a valid code for a device secret. Enrolling again lifts a revocation."""
        if not isinstance(device_id, str) or not _IDENT.match(device_id) \
                or device_id == channels.STAFF_DEVICE:   # staff's own counts are "staff"'s
            raise HubError(N_("A device identifier (1 to 64 letters, digits, - or _) is expected."),
                           field="device_id")
        name = clean_text(name if isinstance(name, str) else "", field="name", max_length=200)
        platform = clean_text(platform if isinstance(platform, str) else "", field="platform",
                              max_length=100)
        normal = normalize_code(code)
        now = now_iso()
        secret = secrets.token_urlsafe(32)
        invalid = HubError(N_("This enrollment code is not valid: it may be mistyped, expired or "
                              "already used."), code="enrollment_code_invalid", field="code")
        if len(normal) != CODE_LENGTH:
            raise invalid
        with self._write_lock, self.writer.begin() as conn:
            code_row = conn.execute(select(db.enrollment_codes).where(
                db.enrollment_codes.c.code_hash == sha256(normal))).first()
            if code_row is None or code_row.used_at is not None or code_row.expires_at < now[:19]:
                raise invalid
            used = conn.execute(update(db.enrollment_codes).where(
                db.enrollment_codes.c.code_hash == code_row.code_hash,
                db.enrollment_codes.c.used_at.is_(None)).values(used_at=now, device_id=device_id))
            if used.rowcount != 1:
                raise invalid
            row = {"site_id": code_row.site_id, "name": name, "platform": platform,
                   "secret_hash": sha256(secret), "enrolled_at": now, "revoked_at": None}
            exists = conn.execute(select(db.devices.c.id).where(db.devices.c.id == device_id)
                                  ).first()
            if exists:
                conn.execute(update(db.devices).where(db.devices.c.id == device_id).values(**row))
            else:
                conn.execute(db.devices.insert(), [{"id": device_id, **row}])
        return {"device_id": device_id, "device_secret": secret, "site_id": code_row.site_id,
                "hub_url": self.settings.public_url, "max_batch": self.settings.max_batch,
                # The device signs its sign-up links offline with this (app/signup.py).
                "signup_key": device_signup_key(self.settings.secret_key, device_id)}

    def authenticate(self, authorization: str | None) -> dict:
        """The device named by an `Authorization: Bearer <id>:<secret>` header, or AuthError."""
        if not authorization or not authorization.startswith("Bearer ") or ":" not in authorization:
            raise AuthError(N_("This tablet is not enrolled with the hub."), "device_unknown")
        device_id, _, secret = authorization[7:].strip().partition(":")
        with self.engine.connect() as conn:
            row = conn.execute(select(db.devices).where(db.devices.c.id == device_id)).first()
        # compare_digest refuses non-ASCII text: compare bytes, always.
        if row is None or not secrets.compare_digest(row.secret_hash.encode(),
                                                     sha256(secret).encode()):
            raise AuthError(N_("This tablet is not enrolled with the hub."), "device_unknown")
        if row.revoked_at is not None:
            raise AuthError(N_("This tablet was revoked: its data is kept, enroll it again to "
                               "send it."), "device_revoked")
        return dict(row._mapping)

    def is_admin(self, authorization: str | None) -> bool:
        token = (authorization or "")[7:].strip() if (authorization or "").startswith("Bearer ") else ""
        return same_secret(token, self.settings.admin_token)

    def devices(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.devices).order_by(db.devices.c.enrolled_at)).all()
            counts = dict(conn.execute(select(db.events.c.device_id, func.count())
                                       .group_by(db.events.c.device_id)).all())
        return [{"id": r.id, "site_id": r.site_id, "name": r.name, "platform": r.platform,
                 "enrolled_at": r.enrolled_at, "last_seen_at": r.last_seen_at,
                 "revoked": r.revoked_at is not None, "revoked_at": r.revoked_at,
                 "events": counts.get(r.id, 0)} for r in rows]

    def revoke(self, device_id: str) -> None:
        with self.writer.begin() as conn:
            done = conn.execute(update(db.devices).where(
                db.devices.c.id == device_id, db.devices.c.revoked_at.is_(None)
            ).values(revoked_at=now_iso()))
            if done.rowcount == 0:
                exists = conn.execute(select(db.devices.c.id).where(
                    db.devices.c.id == device_id)).first()
                if not exists:
                    raise HubError(N_("Unknown device: {id}."), status=404,
                                   code="device_not_found", id=device_id)

    # -- events ----------------------------------------------------------------------------------

    def ingest(self, device: dict, envelopes: list) -> list[dict]:
        """Store a batch of events from `device`; return one result per event, in order."""
        if len(envelopes) > self.settings.max_batch:
            raise HubError(N_("Too many events in one batch: at most {max}."), status=413,
                           code="batch_too_large", max=self.settings.max_batch)
        for attempt in range(5):
            try:
                with self._write_lock:
                    with self.writer.begin() as conn:
                        ingest = _Ingest(self, conn, device)
                        results, deltas = ingest.run(envelopes)
                    self._follow_versions(ingest.versions)
                    self.results.apply(deltas)
                return results
            except (IntegrityError, OperationalError):
                # Another process stored one of these events (or held the lock) meanwhile:
                # run the batch again; what is already stored now reads as duplicate.
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _follow_versions(self, versions: dict[str, int]) -> None:
        """Rebuild the tallies of a consultation imported by another process meanwhile."""
        for consultation_id, version in versions.items():
            if self.results.version(consultation_id) != version:
                with self.engine.connect() as conn:
                    self.results.load(conn, self.consultation(consultation_id, version))

    def reviews(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.event_reviews)
                                .order_by(db.event_reviews.c.received_at)).all()
        return [{"event_id": r.event_id, "device_id": r.device_id, "kind": r.kind,
                 "reason": r.reason, "received_at": r.received_at,
                 "envelope": json.loads(r.envelope)} for r in rows]

    def event_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(db.events)).scalar()

    # -- results ---------------------------------------------------------------------------------

    def _load_results(self) -> None:
        with self.engine.connect() as conn:
            ids = conn.execute(select(db.consultations.c.id)).scalars().all()
            for consultation_id in ids:
                try:
                    consultation = self.consultation(consultation_id)
                except BundleError as exc:   # stored by an older hub with other rules
                    log.error("consultation %s cannot be read: %s", consultation_id,
                              exc.describe())
                    continue
                self.results.load(conn, consultation)

    def read_results(self, consultation_id: str) -> tuple[str, bytes] | None:
        """(ETag, JSON body) of a consultation's results; None when unknown."""
        return self.results.read(consultation_id)

    # -- ideas -----------------------------------------------------------------------------------

    def proposals(self, consultation_id: str | None = None, *, public: bool = False) -> list[dict]:
        """Ideas; `public` keeps approved ones only, without any personal data."""
        query = select(db.proposals).order_by(db.proposals.c.created_at, db.proposals.c.id)
        if consultation_id is not None:
            query = query.where(db.proposals.c.consultation_id == consultation_id)
        if public:
            query = query.where(db.proposals.c.status == "approved")
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for r in rows:
            item = {"id": r.id, "short_code": r.short_code, "consultation_id": r.consultation_id,
                    "site_id": r.site_id, "meeting_id": r.meeting_id, "theme": r.theme,
                    "title": r.corrected_title or r.title, "text": r.corrected_text or r.text,
                    "status": r.status, "answer_status": r.answer_status,
                    "answer_text": r.answer_text, "created_at": r.created_at}
            if not public:
                item.update({"device_id": r.device_id, "reason": r.reason,
                             "original_title": r.title, "original_text": r.text,
                             "contact": r.contact if r.contact_consent else None,
                             "answered_at": r.answered_at})
            out.append(item)
        return out

    def answer_proposal(self, proposal_id: str, answer_status: object,
                        answer_text: object) -> dict:
        """Staff's public answer to an idea (by ID or short code); devices pull it."""
        if answer_status not in ANSWER_STATUSES:
            raise HubError(N_("Unknown answer status."), field="answer_status")
        text = clean_text(answer_text if answer_text is not None else "", field="answer_text",
                          max_length=4000) or None
        with self._write_lock, self.writer.begin() as conn:
            row = conn.execute(select(db.proposals.c.id).where(
                (db.proposals.c.id == proposal_id)
                | (db.proposals.c.short_code == str(proposal_id).upper()))).first()
            if row is None:
                raise HubError(N_("Unknown idea."), status=404, code="proposal_not_found")
            cursor = conn.execute(update(db.counters).where(db.counters.c.name == "answers")
                                  .values(value=db.counters.c.value + 1)
                                  .returning(db.counters.c.value)).scalar()
            conn.execute(update(db.proposals).where(db.proposals.c.id == row.id).values(
                answer_status=answer_status, answer_text=text, answer_cursor=cursor,
                answered_at=now_iso()))
        return {"proposal_id": row.id, "answer_status": answer_status, "answer_text": text,
                "cursor": cursor}

    def answers_since(self, device: dict, since: int, limit: int = 500) -> dict:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(db.proposals.c.id, db.proposals.c.short_code,
                       db.proposals.c.answer_status, db.proposals.c.answer_text,
                       db.proposals.c.answer_cursor, db.proposals.c.status)
                .where(db.proposals.c.device_id == device["id"],
                       db.proposals.c.answer_cursor > since)
                .order_by(db.proposals.c.answer_cursor).limit(limit)).all()
        answers = [{"proposal_id": r.id, "short_code": r.short_code,
                    "answer_status": r.answer_status, "answer_text": r.answer_text,
                    "status": r.status, "cursor": r.answer_cursor} for r in rows]
        return {"cursor": answers[-1]["cursor"] if answers else since, "answers": answers}


def redacted_payload(type_: Any, payload: dict) -> dict:
    """An event payload without a resident's personal data (a sign-up's name, contact, age
    bracket, neighbourhood; an idea's contact), marked `redacted` when something was taken."""
    if type_ == "signup":
        return redacted_signup_payload(payload)
    if not any(payload.get(key) is not None for key in PERSONAL_FIELDS):
        return payload
    return {**{k: v for k, v in payload.items() if k not in PERSONAL_FIELDS},
            **({"contact": None} if "contact" in payload else {}), "redacted": True}


def redacted_envelope(env: Any) -> dict:
    """What the hub keeps of an event it refused or found in conflict: the envelope without
    personal data (whatever its type says, a payload that is not an object is dropped)."""
    if not isinstance(env, dict):
        return {"redacted": True, "unreadable": type(env).__name__}
    payload = env.get("payload")
    if isinstance(payload, dict):
        payload = redacted_payload(env.get("type"), payload)
    elif payload is not None:
        payload = {"redacted": True, "unreadable": type(payload).__name__}
    kept = {k: v for k, v in env.items() if k in ENVELOPE_KEYS}
    return {**kept, "payload": payload}


def incompatible_question(conn, consultation: Consultation) -> str | None:
    """The first question of `consultation` (a new version) that a stored answer or a current
    count does not fit (its kind, options or projects changed), or None when all fit.
    Questions the new version drops are fine: their answers simply stop counting."""
    from app.counts import validate_count
    for question_id, value in conn.execute(
            select(db.ballot_answers.c.question_id, db.ballot_answers.c.value).where(
                db.ballot_answers.c.consultation_id == consultation.id,
                db.ballot_answers.c.value.is_not(None))
            .distinct().order_by(db.ballot_answers.c.question_id)):
        question = consultation.question(question_id)
        if question is None:
            continue
        try:
            validate_answer(consultation, question, json.loads(value))
        except (ValidationError, ValueError, TypeError):
            return question_id
    for question_id, channel, counts, ballots in conn.execute(
            select(db.tally_counts.c.question_id, db.tally_counts.c.channel,
                   db.tally_counts.c.counts, db.tally_counts.c.ballots).where(
                db.tally_counts.c.consultation_id == consultation.id,
                db.tally_counts.c.superseded_by.is_(None))
            .order_by(db.tally_counts.c.question_id)):
        if consultation.question(question_id) is None:
            continue
        try:
            validate_count(consultation, question_id, channel, json.loads(counts), ballots)
        except (ValidationError, ValueError, TypeError):
            return question_id
    return None


def enrollment_qr_payload(hub_url: str, code: str) -> str:
    from urllib.parse import urlencode
    return "piazzetta://enroll?" + urlencode({"hub": hub_url, "code": code})


def _image_paths(consultation: Consultation) -> list[str]:
    paths = [consultation.image] + [p.image for p in consultation.projects]
    return sorted({p for p in paths if p})


class _Ingest:
    """One batch, inside one transaction."""

    def __init__(self, hub: Hub, conn, device: dict):
        self.hub = hub
        self.conn = conn
        self.device = device
        self.now = now_iso()
        self.deltas: list[tuple] = []
        self.event_rows: list[dict] = []
        self.review_rows: list[dict] = []
        self.ballot_rows: dict[str, dict] = {}
        self.closed: dict[str, tuple[int, str]] = {}
        self.ballot_updates: dict[str, dict] = {}
        self.answers: dict[tuple[str, str], dict | None] = {}   # current, loaded then updated
        self.dirty_answers: set[tuple[str, str]] = set()
        self.proposal_rows: dict[str, dict] = {}
        self.known_proposals: dict[str, dict] = {}
        self.moderations: dict[str, dict] = {}
        # Current versions, read once a batch (another process may have imported one).
        self.versions: dict[str, int] = dict(conn.execute(
            select(db.consultations.c.id, db.consultations.c.version)).all())

    # validation of the envelope, before any database work
    def check_envelope(self, env: Any) -> tuple[str, int, str, dict, str]:
        if not isinstance(env, dict):
            raise EventRejected(N_("An event must be an object."), "event")
        event_id = env.get("id")
        if not isinstance(event_id, str) or not _IDENT.match(event_id):
            raise EventRejected(N_("An event ID (1 to 64 letters, digits, - or _) is expected."),
                                "id")
        if env.get("device_id") != self.device["id"]:
            raise EventRejected(N_("This event belongs to another device."), "device_id")
        seq = env.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq < 2 ** 62:
            raise EventRejected(N_("A sequence number (a whole number from 1) is expected."),
                                "seq")
        type_ = env.get("type")
        if type_ not in EVENT_TYPES:
            raise EventRejected(N_("Unknown event type."), "type")
        recorded_at = env.get("recorded_at")
        if not isinstance(recorded_at, str) or len(recorded_at) > 64:
            raise EventRejected(N_("The time an event was recorded is expected as text."),
                                "recorded_at")
        payload = env.get("payload")
        if not isinstance(payload, dict):
            raise EventRejected(N_("An event payload must be an object."), "payload")
        return event_id, seq, type_, payload, recorded_at

    def run(self, envelopes: list) -> tuple[list[dict], list[tuple]]:
        results: list[dict | None] = [None] * len(envelopes)
        prepared = []
        for index, env in enumerate(envelopes):
            try:
                event_id, seq, type_, payload, recorded_at = self.check_envelope(env)
            except EventRejected as exc:
                results[index] = self.reject(env, exc)
                continue
            content = canonical_json({"device_id": self.device["id"], "seq": seq, "type": type_,
                                      "recorded_at": recorded_at, "payload": payload})
            prepared.append((index, event_id, seq, type_, payload, recorded_at, content,
                             sha256(content)))
        existing = self._existing_events([p[1] for p in prepared])
        self._preload(prepared)
        for index, event_id, seq, type_, payload, recorded_at, content, digest in prepared:
            known = existing.get(event_id)
            if known is not None:
                if known == digest:
                    results[index] = {"id": event_id, "status": "duplicate"}
                else:
                    results[index] = self.conflict(event_id, content, digest)
                continue
            try:
                getattr(self, "apply_" + type_)(event_id, seq, payload)
            except EventRejected as exc:
                results[index] = self.reject(envelopes[index], exc)
                continue
            except ValidationError as exc:
                results[index] = self.reject(envelopes[index], EventRejected(
                    exc.message, "payload." + (exc.field or ""), **exc.params))
                continue
            existing[event_id] = digest
            # The contact of an idea lives in `proposals` only (signup events are redacted by
            # server/participation.py); the hash above still tells a resend from a conflict.
            self.event_rows.append({"id": event_id, "device_id": self.device["id"], "seq": seq,
                                    "type": type_, "recorded_at": recorded_at,
                                    "received_at": self.now, "content_hash": digest,
                                    "payload": canonical_json(
                                        redacted_payload(type_, payload)
                                        if type_ == "proposal" else payload)})
            results[index] = {"id": event_id, "status": "stored"}
        self.write()
        return results, self.deltas

    def reject(self, env: Any, exc: EventRejected) -> dict:
        event_id = env.get("id") if isinstance(env, dict) else None
        event_id = event_id if isinstance(event_id, str) else ""
        error = exc.error
        try:
            envelope = canonical_json(redacted_envelope(env))
        except (TypeError, ValueError):
            envelope = canonical_json({"redacted": True, "unreadable": type(env).__name__})
        self.review_rows.append({"event_id": event_id[:200], "content_hash": sha256(envelope),
                                 "device_id": self.device["id"], "kind": "rejected",
                                 "reason": error.describe(), "envelope": envelope,
                                 "received_at": self.now})
        return {"id": event_id, "status": "rejected", **error.as_dict()}

    def conflict(self, event_id: str, content: str, digest: str) -> dict:
        message = N_("Another event with this ID was already received.")
        self.review_rows.append({"event_id": event_id, "content_hash": digest,
                                 "device_id": self.device["id"], "kind": "conflict",
                                 "reason": message,
                                 "envelope": canonical_json(redacted_envelope(
                                     dict(json.loads(content), id=event_id))),
                                 "received_at": self.now})
        return {"id": event_id, "status": "conflict", "code": "event_conflict", "field": "id",
                "message": message}

    def _existing_events(self, ids: list[str]) -> dict[str, str]:
        found = {}
        for chunk in _chunks(sorted(set(ids))):
            found.update(self.conn.execute(select(db.events.c.id, db.events.c.content_hash)
                                           .where(db.events.c.id.in_(chunk))).all())
        return found

    def _preload(self, prepared: list) -> None:
        ballot_ids, proposal_ids = set(), set()
        for _i, _id, _seq, type_, payload, *_ in prepared:
            if type_ in ("answer", "answer_withdrawn", "ballot_started", "ballot_closed"):
                if isinstance(payload.get("ballot_id"), str):
                    ballot_ids.add(payload["ballot_id"])
            elif type_ in ("proposal", "proposal_moderated"):
                if isinstance(payload.get("proposal_id"), str):
                    proposal_ids.add(payload["proposal_id"])
        self.known_ballots: dict[str, dict] = {}   # id -> consultation_id, device_id
        for chunk in _chunks(sorted(ballot_ids)):
            for row in self.conn.execute(
                    select(db.ballots.c.id, db.ballots.c.consultation_id, db.ballots.c.device_id)
                    .where(db.ballots.c.id.in_(chunk))):
                self.known_ballots[row.id] = {"consultation_id": row.consultation_id,
                                              "device_id": row.device_id}
            # The device of each current answer: seq numbers compare within one device only.
            for row in self.conn.execute(
                    select(db.ballot_answers, db.events.c.device_id)
                    .select_from(db.ballot_answers.outerjoin(
                        db.events, db.events.c.id == db.ballot_answers.c.event_id))
                    .where(db.ballot_answers.c.ballot_id.in_(chunk))):
                self.answers[(row.ballot_id, row.question_id)] = {
                    "consultation_id": row.consultation_id, "seq": row.seq,
                    "event_id": row.event_id, "device_id": row.device_id,
                    "value": None if row.value is None else json.loads(row.value)}
        for chunk in _chunks(sorted(proposal_ids)):
            for row in self.conn.execute(select(
                    db.proposals.c.id, db.proposals.c.consultation_id, db.proposals.c.status,
                    db.proposals.c.moderation_seq, db.proposals.c.device_id)
                    .where(db.proposals.c.id.in_(chunk))):
                self.known_proposals[row.id] = dict(row._mapping)

    def _consultation(self, payload: dict) -> Consultation:
        consultation_id = payload.get("consultation_id")
        version = self.versions.get(consultation_id) if isinstance(consultation_id, str) else None
        consultation = (self.hub.consultation(consultation_id, version)
                        if version is not None else None)
        if consultation is None:
            raise EventRejected(N_("Unknown consultation."), "payload.consultation_id")
        return consultation

    @staticmethod
    def _ident(payload: dict, key: str) -> str:
        value = payload.get(key)
        if not isinstance(value, str) or not _IDENT.match(value):
            raise EventRejected(N_("An identifier (letters, digits, - _) is expected here."),
                                "payload." + key)
        return value

    @staticmethod
    def _optional_ident(payload: dict, key: str) -> str | None:
        value = payload.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not _BUNDLE_IDENT.match(value):
            raise EventRejected(N_("An identifier (letters, digits, - _ .) is expected here."),
                                "payload." + key)
        return value

    # -- one function per event type: validate, then record what to write and which deltas
    def apply_ballot_started(self, event_id: str, seq: int, payload: dict) -> None:
        consultation = self._consultation(payload)
        ballot_id = self._ident(payload, "ballot_id")
        mode = payload.get("mode", "open")
        if mode not in BALLOT_MODES:
            raise EventRejected(N_("Unknown ballot mode."), "payload.mode")
        version = payload.get("consultation_version", consultation.version)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise EventRejected(N_("A consultation version is expected here."),
                                "payload.consultation_version")
        site_id = self._optional_ident(payload, "site_id")
        meeting_id = self._optional_ident(payload, "meeting_id")
        details = {"consultation_version": version, "site_id": site_id,
                   "meeting_id": meeting_id, "mode": mode}
        if self._check_ballot(ballot_id, consultation.id):
            # The same ballot announced again, or first seen through one of its answers (events
            # may arrive in any order): counted once, and its start says how it was held.
            if ballot_id in self.ballot_rows:
                self.ballot_rows[ballot_id].update(details)
            else:
                self.ballot_updates[ballot_id] = {"b_id": ballot_id, **{
                    "b_" + k: v for k, v in details.items()}}
            return
        self._new_ballot(ballot_id, consultation.id, details)

    def _new_ballot(self, ballot_id: str, consultation_id: str, details: dict) -> None:
        """A ballot owned by the sending device (the only one that may answer in it)."""
        self.ballot_rows[ballot_id] = {
            "id": ballot_id, "consultation_id": consultation_id, "device_id": self.device["id"],
            "closed_reason": None, **details}
        self.deltas.append(("ballot", consultation_id, 1))

    def _adopt_ballot(self, ballot_id: str, consultation: Consultation, payload: dict) -> None:
        """An answer to a ballot whose start has not arrived yet: the ballot is made now, owned
        by the sender, from what the answer says; its start, when it comes, fills in the rest."""
        if ballot_id in self.known_ballots or ballot_id in self.ballot_rows:
            return
        version = payload.get("consultation_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            version = consultation.version
        where = {key: value if isinstance(value, str) and _BUNDLE_IDENT.match(value) else None
                 for key, value in ((k, payload.get(k)) for k in ("site_id", "meeting_id"))}
        self._new_ballot(ballot_id, consultation.id, {
            "consultation_version": version, **where,
            "mode": "identified" if payload.get("nullifier") is not None else "open"})

    def _set_answer(self, consultation_id: str, ballot_id: str, question_id: str, seq: int,
                    event_id: str, value: Any) -> None:
        key = (ballot_id, question_id)
        current = self.answers.get(key)
        if current is not None and current["seq"] >= seq \
                and current.get("device_id") == self.device["id"]:
            return  # a later answer (or withdrawal) of this question is already in
        # (An answer another device once wrote into this ballot, before ballots had owners,
        # has no say against its owner's: sequence numbers are per device.)
        if current is not None and current["value"] is not None:
            self.deltas.append(("remove", current["consultation_id"], question_id,
                                current["value"]))
        if value is not None:
            self.deltas.append(("add", consultation_id, question_id, value))
        self.answers[key] = {"consultation_id": consultation_id, "seq": seq,
                             "event_id": event_id, "device_id": self.device["id"],
                             "value": value}
        self.dirty_answers.add(key)

    def apply_answer(self, event_id: str, seq: int, payload: dict) -> None:
        consultation = self._consultation(payload)
        ballot_id = self._ident(payload, "ballot_id")
        question_id = payload.get("question_id")
        question = consultation.question(question_id) if isinstance(question_id, str) else None
        if question is None:
            raise EventRejected(N_("Unknown question."), "payload.question_id")
        self._check_ballot(ballot_id, consultation.id)
        value = validate_answer(consultation, question, payload.get("value"))
        self._participation_hooks().check_card(self, consultation.id, ballot_id, question.id,
                                               payload)
        self._adopt_ballot(ballot_id, consultation, payload)
        self._set_answer(consultation.id, ballot_id, question.id, seq, event_id, value)

    def apply_answer_withdrawn(self, event_id: str, seq: int, payload: dict) -> None:
        consultation = self._consultation(payload)
        ballot_id = self._ident(payload, "ballot_id")
        question_id = payload.get("question_id")
        if not isinstance(question_id, str) or not _BUNDLE_IDENT.match(question_id):
            raise EventRejected(N_("Unknown question."), "payload.question_id")
        self._check_ballot(ballot_id, consultation.id)
        self._adopt_ballot(ballot_id, consultation, {})
        self._set_answer(consultation.id, ballot_id, question_id, seq, event_id, None)

    def _ballot_owner(self, ballot_id: str) -> dict | None:
        return self.ballot_rows.get(ballot_id) or self.known_ballots.get(ballot_id)

    def _check_ballot(self, ballot_id: str, consultation_id: str | None) -> bool:
        """Whether the ballot exists; EventRejected when it is another device's (only the
        device that started a ballot may answer, withdraw or close in it) or another
        consultation's."""
        owner = self._ballot_owner(ballot_id)
        if owner is None:
            return False
        if owner["device_id"] != self.device["id"]:
            raise EventRejected(N_("This ballot belongs to another device."), "payload.ballot_id")
        if consultation_id is not None and owner["consultation_id"] != consultation_id:
            raise EventRejected(N_("This ballot belongs to another consultation."),
                                "payload.ballot_id")
        return True

    def apply_ballot_closed(self, event_id: str, seq: int, payload: dict) -> None:
        ballot_id = self._ident(payload, "ballot_id")
        reason = payload.get("reason", "finished")
        if not isinstance(reason, str) or not reason or len(reason) > 40:
            raise EventRejected(N_("A reason is expected here."), "payload.reason")
        self._check_ballot(ballot_id, None)
        if ballot_id in self.ballot_rows:
            self.ballot_rows[ballot_id]["closed_reason"] = reason
        elif ballot_id not in self.closed or self.closed[ballot_id][0] < seq:
            # A ballot of this device's in the database, or not arrived yet (then the close
            # updates nothing: answers count either way).
            self.closed[ballot_id] = (seq, reason)

    def apply_proposal(self, event_id: str, seq: int, payload: dict) -> None:
        consultation = self._consultation(payload)
        proposal_id = self._ident(payload, "proposal_id")
        short_code = payload.get("short_code")
        if not isinstance(short_code, str) or not 1 <= len(short_code) <= 20 \
                or not short_code.isalnum():
            raise EventRejected(N_("A short code is expected here."), "payload.short_code")
        draft = validate_proposal(consultation, title=payload.get("title"),
                                  text=payload.get("text"), theme=payload.get("theme"),
                                  contact=payload.get("contact"),
                                  contact_consent=payload.get("contact_consent") is True)
        known = self.proposal_rows.get(proposal_id) or self.known_proposals.get(proposal_id)
        if known is not None:
            if known["device_id"] != self.device["id"]:
                raise EventRejected(N_("This idea was collected by another device."),
                                    "payload.proposal_id")
            return
        self.proposal_rows[proposal_id] = {
            "id": proposal_id, "short_code": short_code.upper(),
            "consultation_id": consultation.id, "device_id": self.device["id"],
            "site_id": self._optional_ident(payload, "site_id"),
            "meeting_id": self._optional_ident(payload, "meeting_id"),
            "theme": draft.theme, "title": draft.title, "text": draft.text,
            "contact": draft.contact, "contact_consent": draft.contact_consent,
            "status": "pending", "reason": None, "corrected_title": None,
            "corrected_text": None, "moderation_seq": 0, "answer_status": None,
            "answer_text": None, "answer_cursor": 0, "answered_at": None,
            "created_at": self.now}
        self.deltas.append(("idea", consultation.id, None, "pending"))

    def apply_tally_count(self, event_id: str, seq: int, payload: dict) -> None:
        channels.apply_count_event(self, event_id, seq, payload)   # server/channels.py

    def apply_proposal_moderated(self, event_id: str, seq: int, payload: dict) -> None:
        proposal_id = self._ident(payload, "proposal_id")
        status = payload.get("status")
        if status not in MODERATION_STATUSES:
            raise EventRejected(N_("Unknown moderation status."), "payload.status")
        fields = {}
        for key, limit in (("reason", 500), ("corrected_title", 120), ("corrected_text", 2000)):
            value = payload.get(key)
            fields[key] = (clean_text(value, field="payload." + key, max_length=limit) or None
                           if value is not None else None)
        target = self.proposal_rows.get(proposal_id) or self.known_proposals.get(proposal_id)
        if target is None:
            raise EventRejected(N_("Unknown idea."), "payload.proposal_id")
        if target["device_id"] != self.device["id"]:
            # Only the facilitator of the tablet that collected an idea moderates it there;
            # moderation_seq is that device's sequence.
            raise EventRejected(N_("This idea was collected by another device."),
                                "payload.proposal_id")
        if target.get("moderation_seq", 0) >= seq:
            return
        self.deltas.append(("idea", target["consultation_id"], target["status"], status))
        target["status"] = status
        target["moderation_seq"] = seq
        if proposal_id in self.proposal_rows:
            row = self.proposal_rows[proposal_id]
            row.update(status=status, reason=fields["reason"], moderation_seq=seq)
            row["corrected_title"] = fields["corrected_title"] or row["corrected_title"]
            row["corrected_text"] = fields["corrected_text"] or row["corrected_text"]
        else:
            self.moderations[proposal_id] = {"p_id": proposal_id, "p_status": status,
                                             "p_seq": seq, **{"p_" + k: v
                                                              for k, v in fields.items()}}

    def _participation_hooks(self):
        from .participation import participation
        return participation(self.hub)

    def apply_signup(self, event_id: str, seq: int, payload: dict) -> None:
        self._participation_hooks().apply_signup_event(self, event_id, payload)

    def write(self) -> None:
        self._participation_hooks().before_write(self)
        conn = self.conn
        if self.event_rows:
            conn.execute(db.events.insert(), self.event_rows)
            conn.execute(update(db.devices).where(db.devices.c.id == self.device["id"])
                         .values(last_seen_at=self.now))
        if self.ballot_rows:
            conn.execute(db.ballots.insert(), list(self.ballot_rows.values()))
        if self.ballot_updates:
            conn.execute(update(db.ballots).where(
                db.ballots.c.id == bindparam("b_id"),
                db.ballots.c.device_id == self.device["id"]).values(
                consultation_version=bindparam("b_consultation_version"),
                site_id=bindparam("b_site_id"), meeting_id=bindparam("b_meeting_id"),
                mode=bindparam("b_mode")), list(self.ballot_updates.values()))
        if self.closed:
            conn.execute(update(db.ballots).where(
                db.ballots.c.id == bindparam("b_id"),
                db.ballots.c.device_id == self.device["id"])
                .values(closed_reason=bindparam("b_reason")),
                [{"b_id": k, "b_reason": v[1]} for k, v in self.closed.items()])
        if self.dirty_answers:
            rows = [{"ballot_id": b, "question_id": q,
                     "consultation_id": self.answers[(b, q)]["consultation_id"],
                     "seq": self.answers[(b, q)]["seq"],
                     "event_id": self.answers[(b, q)]["event_id"],
                     "value": None if self.answers[(b, q)]["value"] is None
                     else canonical_json(self.answers[(b, q)]["value"])}
                    for b, q in sorted(self.dirty_answers)]
            stmt = db.dialect_insert(conn, db.ballot_answers)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["ballot_id", "question_id"],
                set_={"consultation_id": stmt.excluded.consultation_id, "seq": stmt.excluded.seq,
                      "event_id": stmt.excluded.event_id, "value": stmt.excluded.value}), rows)
        if self.proposal_rows:
            conn.execute(db.proposals.insert(), list(self.proposal_rows.values()))
        if self.moderations:
            conn.execute(update(db.proposals).where(and_(
                db.proposals.c.id == bindparam("p_id"),
                db.proposals.c.moderation_seq < bindparam("p_seq"))).values(
                status=bindparam("p_status"), moderation_seq=bindparam("p_seq"),
                reason=bindparam("p_reason"),
                corrected_title=func.coalesce(bindparam("p_corrected_title"),
                                              db.proposals.c.corrected_title),
                corrected_text=func.coalesce(bindparam("p_corrected_text"),
                                             db.proposals.c.corrected_text)),
                list(self.moderations.values()))
        channels.write_counts(self)
        if self.review_rows:
            stmt = db.dialect_insert(conn, db.event_reviews)
            conn.execute(stmt.on_conflict_do_nothing(), self.review_rows)
