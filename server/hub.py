"""What the hub does, independent of HTTP: sites, bundles, enrollment, event ingest, results,
answers to ideas. The API (server.api) and the admin CLI (server.admin) both call this.

Ingest is exactly-once by construction: the events table's primary key is the event ID, checked
in the same transaction that applies the event to ballots, answers and ideas. The hub builds the
registry of ingest extensions (server.ingest) and runs each batch under its write lock. Tallies
are the domain's (app.tally), kept in memory and updated after each commit (server.results).
"""
from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.answers import validate_answer
from app import bundle as bundles
from app.bundle import (BUNDLE_FILE, bundle_files, check_image_bytes, check_map_tiles,
                        parse_bundle, read_bundle_image)
from app.canonical import canonical_json
from app.geo import round_position
from app.clock import now_iso
from app.codes import format_code, new_code, normalize_code
from app.errors import N_, BundleError, ValidationError
from app.model import Consultation
from app.proposals import ANSWER_STATUSES
from app.signup import device_signup_key
from app.text import clean_text

from . import ballots, channels, db, ideas, relay
from .db import sha256
from .errors import AuthError, HubError
from .ingest import BUNDLE_IDENT, IDENT, Batch, IngestRegistry
from .participation import Participation
from .stage import Stage
from .results import ResultsCache
from .settings import Settings, private_dir
from .unit_of_work import UnitsOfWork

log = logging.getLogger("piazzetta.hub")
CODE_LENGTH = 8
CODE_GROUP = 4        # printed and shown as ABCD-EFGH
MAX_CODE_TYPED = 32   # what is read of a typed code


def same_secret(given: object, expected: str) -> bool:
    """Whether `given` is the secret `expected`, in constant time. Bytes are compared:
    compare_digest raises TypeError on text that is not ASCII (a 500 for a typo)."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return secrets.compare_digest(given.encode("utf-8", "surrogatepass"),
                                  expected.encode("utf-8", "surrogatepass"))


class Hub:
    """The hub's state behind one database. Thread-safe: the API calls it from many threads."""

    def __init__(self, settings: Settings):
        self.settings = settings.with_secrets()
        self.engine = db.make_engine(self.settings.database_url)
        self.writer = db.writer(self.engine)
        self._schema_ready()
        # When a device last pushed (monotonic): a room hub's forwarder yields to a live room.
        self.last_ingest = 0.0
        self._consultations: dict[tuple[str, int], Consultation] = {}
        self.results = ResultsCache()
        # Every write that the tallies follow, or that must not interleave with one, is a unit
        # of work (server.unit_of_work): here, server.relay, server.channels, display controls.
        self.units = UnitsOfWork(self.engine, self.results, self.consultation)
        # PostgreSQL: sign-ups and confirmations wait out of the WAL until the hour's flush.
        self.stage = Stage(self.engine, self.writer)
        self.participation = Participation(self)
        self.ingest_registry = IngestRegistry([
            ballots.extension(), ideas.extension(), channels.count_extension(),
            self.participation.ingest_extension(), relay.extension(self)])
        with self.units.turn():
            self._load_results()
        self.stage.start()
        self.participation.start()

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
            # Devices enrolled before aliases existed get one (their tablets learn it from
            # GET /api/v1/device).
            for device_id in conn.execute(select(db.devices.c.id).where(
                    db.devices.c.alias.is_(None))).scalars().all():
                conn.execute(update(db.devices).where(db.devices.c.id == device_id,
                                                      db.devices.c.alias.is_(None))
                             .values(alias=new_alias()))

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
        """Checkpoint the WAL into the file and truncate it (SQLite: nothing of the commits'
        order stays beside the database), then close every connection. PostgreSQL: the
        sign-ups' stage written to `signups` first (server/stage.py)."""
        self.participation.stop()      # the pending confirmations, before the stage's flush
        self.stage.stop()
        try:
            db.forget_order(self.engine, attempts=20)
        except Exception:      # a database gone or locked: closing still closes
            log.warning("the WAL could not be checkpointed on close")
        self.engine.dispose()

    def unit_of_work(self):
        """A write transaction whose tally changes apply once it committed
        (server.unit_of_work)."""
        return self.units.begin()

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

        Every file the bundle lists (app.bundle.bundle_files: images, the base map) is checked
        before anything is written (checked_bundle_files); a folder must hold them all, while
        decoded JSON may come without files (tablets then show no images and no base map).

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
        files = checked_bundle_files(consultation, folder, files)
        raw = canonical_json(data)
        digest = sha256(raw)
        now = now_iso()
        with self.unit_of_work() as uow:
            conn = uow.conn
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
            rows = [{"consultation_id": consultation.id, "path": p, "content": content,
                     "sha256": sha256(content), "size": len(content)}
                    for p, content in sorted(files.items())]
            if rows:
                conn.execute(db.bundle_files.insert(), rows)
            for site in consultation.sites:
                self._upsert_site(conn, site.id, dict(site.name), site.town, now)
            self._consultations[(consultation.id, consultation.version)] = consultation
            uow.follow({consultation.id: consultation.version})
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
        return {"site_id": site_id, "consultations": out,
                "cards": self.participation.card_index([c["id"] for c in out])}

    # -- sites ---------------------------------------------------------------------------------

    def _upsert_site(self, conn, site_id: str, name: dict, town: str, now: str) -> None:
        stmt = db.dialect_insert(conn, db.sites).values(
            id=site_id, name=canonical_json(name), town=town, created_at=now)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["id"], set_={"name": stmt.excluded.name, "town": stmt.excluded.town}))

    def create_site(self, site_id: object, name: object, town: object = "") -> dict:
        if not isinstance(site_id, str) or not BUNDLE_IDENT.match(site_id):
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
        with self.unit_of_work() as uow:
            self._upsert_site(uow.conn, site_id, name, town, now_iso())
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

    def make_enrollment_code(self, site_id: str | None, minutes: int = 15,
                             device_id: str | None = None, kind: str | None = None) -> dict:
        """A short-lived, single-use code for enrolling one device at `site_id`. With
        `device_id`, a staff code for that device only: it enrolls the ID whatever it holds
        (another credential, a revocation), at `site_id` or, when None, at the device's site.
        `kind="relay"`: a code that enrolls a room hub (server.relay), never a tablet; it needs
        a site, the one the room hub forwards for."""
        if kind not in (None, "relay"):
            raise HubError(N_("Unknown kind of device."), field="kind")
        if kind == "relay" and site_id is None:
            raise HubError(N_("A room hub's code needs a site."), field="site_id")
        if site_id is not None and not self.site_exists(site_id):
            raise HubError(N_("Unknown site: {id}."), status=404, code="site_unknown",
                           field="site_id", id=site_id)
        if device_id is not None:
            check_device_id(device_id)
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 7 * 24 * 60:
            raise HubError(N_("A code lasts from 1 minute to 7 days."), field="minutes")
        code = new_code(CODE_LENGTH)
        now = datetime.now(timezone.utc)
        expires = (now + timedelta(minutes=minutes)).isoformat(timespec="seconds")
        with self.unit_of_work() as uow:
            uow.conn.execute(db.enrollment_codes.insert(), [{
                "code_hash": sha256(code), "site_id": site_id, "for_device": device_id,
                "created_at": now.isoformat(timespec="seconds"), "expires_at": expires,
                "kind": kind}])
        pretty = format_code(code, CODE_GROUP)
        return {"code": pretty, "site_id": site_id, "device_id": device_id, "expires_at": expires,
                "kind": kind,
                "qr": enrollment_qr_payload(self.settings.public_url, pretty,
                                            self.settings.tls_pin)}

    def enroll(self, code: object, device_id: object, credential: object = None,
               name: object = "", platform: object = "", *,
               authorization: str | None = None, kind: object = None) -> dict:
        """Bind a device's credential to its ID with a valid code (docs/protocol.md,
        "Enrollment"); the enrollment's data, the same for the same request again.

        `credential` is the SHA-256 (hex) of the secret the tablet made for itself; the hub
        never sees that secret at enrollment. An ID the hub already knows is enrolled again
        only with proof: `authorization` carrying its current credential, or a staff code made
        for it (the only way, besides `reinstate`, to lift a revocation). Refusals change
        nothing and leave the code unused. Without `credential` (tablets of before) the hub
        makes the secret and returns it once, as `device_secret`.
        """
        device_id = check_device_id(device_id)
        if kind not in (None, "relay"):
            raise HubError(N_("Unknown kind of device."), field="kind")
        if credential is not None and (not isinstance(credential, str)
                                       or not CREDENTIAL.match(credential)):
            raise HubError(N_("A credential is expected here: the SHA-256 of the tablet's "
                              "secret, 64 hexadecimal characters."), field="credential")
        name = clean_text(name if isinstance(name, str) else "", field="name", max_length=200)
        platform = clean_text(platform if isinstance(platform, str) else "", field="platform",
                              max_length=100)
        normal = normalize_code(code, MAX_CODE_TYPED)
        if len(normal) != CODE_LENGTH:
            raise _code_invalid()
        proof = bearer_credential(authorization)
        # Another hub process enrolled this ID (or drew this alias) at the same moment: decide
        # again on what is stored now.
        return self.units.run(lambda uow: self._enroll(
            uow.conn, sha256(normal), device_id, credential, name, platform, proof, kind),
            attempts=2, retry_on=(IntegrityError,))

    def _enroll(self, conn, code_hash: str, device_id: str, credential: str | None, name: str,
                platform: str, proof: tuple[str, str] | None, kind: str | None = None) -> dict:
        now = now_iso()
        code_row = conn.execute(select(db.enrollment_codes).where(
            db.enrollment_codes.c.code_hash == code_hash)).first()
        if code_row is None or code_row.expires_at < now[:19] \
                or (code_row.kind or None) != kind:
            # A room hub's code enrolls room hubs only, a tablet's code tablets only.
            raise _code_invalid()
        device = conn.execute(select(db.devices).where(db.devices.c.id == device_id)
                              ).first()
        if code_row.used_at is not None:
            if credential is None or device is None or code_row.device_id != device_id \
                    or code_row.credential_hash != credential:
                raise _code_invalid()
            # The request that used this code, again (its answer was lost, or a copy
            # arrived late): the same answer while nothing changed since, never a change.
            if device.revoked_at is not None:
                raise _device_revoked()
            if device.enrolled_by != code_hash or device.secret_hash != credential:
                raise HubError(N_("This tablet was enrolled again since this code was "
                                  "used: use the latest code."), status=409,
                               code="enrollment_superseded", field="code")
            return self._enrollment_answer(dict(device._mapping))
        staff_code = code_row.for_device is not None
        if staff_code and code_row.for_device != device_id:
            raise HubError(N_("This enrollment code was made for another tablet."),
                           status=409, code="enrollment_code_other_device", field="code")
        if device is not None and (device.kind or None) != kind:
            raise HubError(
                N_("This tablet is already enrolled with this hub under other "
                   "credentials. Ask the platform staff for an enrollment code made for "
                   "this tablet."), status=409, code="device_enrolled", field="device_id")
        if device is not None and not staff_code:
            if device.revoked_at is not None:
                raise _device_revoked()
            if not (proof and proof[0] == device_id and holds_credential(device, proof[1])):
                # The same words as the tablet's (sync.protocol.ENROLLMENT_REFUSALS).
                raise HubError(
                    N_("This tablet is already enrolled with this hub under other "
                       "credentials. Ask the platform staff for an enrollment code made for "
                       "this tablet."), status=409, code="device_enrolled", field="device_id")
        secret = None
        if credential is None:
            secret = secrets.token_urlsafe(32)
        binding = credential or sha256(secret)
        site_id = code_row.site_id
        if staff_code and site_id is None and device is not None:
            site_id = device.site_id
        # The alias stays while the same credential moves on (another site); a staff code
        # or a new credential gives a new one, so that links minted before stop attributing.
        keep_alias = (device is not None and device.alias and not staff_code
                      and device.secret_hash == binding)
        alias = device.alias if keep_alias else new_alias()
        used = conn.execute(update(db.enrollment_codes).where(
            db.enrollment_codes.c.code_hash == code_hash,
            db.enrollment_codes.c.used_at.is_(None)).values(
            used_at=now, device_id=device_id, credential_hash=credential))
        if used.rowcount != 1:
            raise _code_invalid()
        row = {"site_id": site_id, "name": name, "platform": platform,
               "secret_hash": binding, "enrolled_at": now, "revoked_at": None,
               "alias": alias, "enrolled_by": code_hash, "kind": kind}
        if device is not None:
            conn.execute(update(db.devices).where(db.devices.c.id == device_id).values(**row))
        else:
            conn.execute(db.devices.insert(), [{"id": device_id, **row}])
        answer = self._enrollment_answer({"id": device_id, **row})
        if secret is not None:
            answer["device_secret"] = secret
        return answer

    def _enrollment_answer(self, device: dict) -> dict:
        """What an enrollment answers: nothing secret but the sign-up key (the credential
        stays on the tablet); the same for the same device state."""
        return {"device_id": device["id"], "site_id": device["site_id"],
                "hub_url": self.settings.public_url,
                "max_batch": (relay.relay_max_batch(self.settings)
                              if device.get("kind") == relay.RELAY else self.settings.max_batch),
                "credential": device["secret_hash"], "alias": device["alias"],
                "kind": device.get("kind") or "tablet",
                # The device signs its sign-up links offline with this (app/signup.py).
                "signup_key": device_signup_key(self.settings.secret_key, device["alias"]),
                **self._phone_signup()}

    def _phone_signup(self) -> dict:
        from .phones import phone_signup     # a room hub's phones use the central hub
        return phone_signup(self)

    def device_info(self, device: dict) -> dict:
        """What an authenticated device learns of itself (GET /api/v1/device): its site, its
        alias and sign-up key (tablets enrolled before aliases get theirs this way)."""
        return {"device_id": device["id"], "site_id": device["site_id"],
                "name": device["name"], "max_batch": self.settings.max_batch,
                "alias": device["alias"],
                "signup_key": device_signup_key(self.settings.secret_key, device["alias"]),
                **self._phone_signup()}

    def authenticate(self, authorization: str | None) -> dict:
        """The device named by an `Authorization: Bearer <id>:<secret>` header, or AuthError."""
        given = bearer_credential(authorization)
        if given is None:
            raise AuthError(N_("This tablet is not enrolled with the hub."), "device_unknown")
        device_id, secret = given
        with self.engine.connect() as conn:
            row = conn.execute(select(db.devices).where(db.devices.c.id == device_id)).first()
        if row is None or not holds_credential(row, secret):
            raise AuthError(N_("This tablet is not enrolled with the hub."), "device_unknown")
        if row.revoked_at is not None:
            raise AuthError(N_("This tablet was revoked: its data is kept, enroll it again to "
                               "send it."), "device_revoked")
        return dict(row._mapping)

    def device_by_alias(self, alias: str) -> dict | None:
        """The device a sign-up link's alias names, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(db.devices).where(db.devices.c.alias == alias)).first()
        return dict(row._mapping) if row else None

    def is_admin(self, authorization: str | None) -> bool:
        token = (authorization or "")[7:].strip() if (authorization or "").startswith("Bearer ") else ""
        return same_secret(token, self.settings.admin_token)

    def devices(self) -> list[dict]:
        """Every device: enrolled here (tablets, room hubs) and registered by a room hub
        (`relayed_by`, its room hub), with the events each sent (directly or forwarded)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.devices).order_by(db.devices.c.enrolled_at)).all()
            relayed = {r.device_id: r for r in conn.execute(
                select(db.relay_devices).order_by(db.relay_devices.c.registered_at))}
            counts = dict(conn.execute(select(db.events.c.device_id, func.count())
                                       .group_by(db.events.c.device_id)).all())
        out = [{"id": r.id, "site_id": r.site_id, "name": r.name, "platform": r.platform,
                "alias": r.alias, "enrolled_at": r.enrolled_at,
                "last_seen_at": r.last_seen_at, "kind": r.kind or "tablet",
                "revoked": r.revoked_at is not None, "revoked_at": r.revoked_at,
                "relayed_by": relayed[r.id].relay_id if r.id in relayed else None,
                "events": counts.get(r.id, 0)} for r in rows]
        enrolled = {r.id for r in rows}
        out += [{"id": r.device_id, "site_id": r.site_id, "name": r.name,
                 "platform": r.platform, "alias": None, "enrolled_at": r.registered_at,
                 "last_seen_at": None, "kind": "tablet", "revoked": False,
                 "revoked_at": None, "relayed_by": r.relay_id,
                 "events": counts.get(r.device_id, 0)}
                for r in relayed.values() if r.device_id not in enrolled]
        return out

    def revoke(self, device_id: str) -> None:
        """Revoke a device at once: its next request gets 401 device_revoked."""
        self._set_revoked(device_id, now_iso())

    def reinstate(self, device_id: str) -> None:
        """Lift a revocation (a staff act): the device's own credential works again. (A staff
        code made for the device does the same and binds the credential the tablet sends.)"""
        self._set_revoked(device_id, None)

    def _set_revoked(self, device_id: str, revoked_at: str | None) -> None:
        with self.unit_of_work() as uow:
            conn = uow.conn
            done = conn.execute(update(db.devices).where(
                db.devices.c.id == device_id,
                db.devices.c.revoked_at.is_(None) if revoked_at else
                db.devices.c.revoked_at.is_not(None)).values(revoked_at=revoked_at))
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

        def work(uow):
            batch = Batch(self.ingest_registry, uow.conn, device, self.consultation)
            results = batch.run(envelopes)
            uow.include(batch)
            return results, batch.wrote_person

        # Another process stored one of these events (or held the lock) meanwhile: the batch
        # runs again; what is already stored then reads as duplicate.
        results, wrote_person = self.units.run(work)
        if wrote_person:
            db.forget_order(self.engine)
        self.last_ingest = time.monotonic()
        return results

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
                    "answer_text": r.answer_text, "created_at": r.created_at,
                    "place": self._idea_place(r, public), "lang": r.lang}
            if not public:
                item.update({"device_id": r.device_id, "reason": r.reason,
                             "original_title": r.title, "original_text": r.text,
                             "contact": r.contact if r.contact_consent else None,
                             "answered_at": r.answered_at})
            out.append(item)
        return out

    def _idea_place(self, row, public: bool) -> dict | None:
        """Where an idea would happen. A point is stored to 5 decimals (about 1 m); what the
        public reads is rounded to the map's export precision: a pin may be someone's home."""
        if not row.place:
            return None
        place = json.loads(row.place)
        if public and "lon" in place:
            consultation = self.consultation(row.consultation_id)
            decimals = consultation.map.export_decimals if consultation and consultation.map \
                else 2
            place["lon"], place["lat"] = round_position(place["lon"], place["lat"], decimals)
        return place

    def answer_proposal(self, proposal_id: str, answer_status: object,
                        answer_text: object) -> dict:
        """Staff's public answer to an idea, by ID, or by short code when one idea only has
        it: codes are made offline on each tablet and may repeat across tablets, so an
        ambiguous code is refused (409 proposal_code_ambiguous, with the IDs it names)."""
        if answer_status not in ANSWER_STATUSES:
            raise HubError(N_("Unknown answer status."), field="answer_status")
        text = clean_text(answer_text if answer_text is not None else "", field="answer_text",
                          max_length=4000) or None
        with self.unit_of_work() as uow:
            conn = uow.conn
            row = conn.execute(select(db.proposals.c.id).where(
                db.proposals.c.id == str(proposal_id))).first()
            if row is None:
                named = conn.execute(select(db.proposals.c.id).where(
                    db.proposals.c.short_code == str(proposal_id).upper())
                    .order_by(db.proposals.c.id)).scalars().all()
                if len(named) > 1:
                    raise HubError(
                        N_("Several ideas have the code {short_code}: answer by ID ({ids})."),
                        status=409, code="proposal_code_ambiguous", field="proposal_id",
                        details={"ids": named}, short_code=str(proposal_id).upper(),
                        ids=", ".join(named))
                row = conn.execute(select(db.proposals.c.id).where(
                    db.proposals.c.id == named[0])).first() if named else None
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


CREDENTIAL = re.compile(r"^[0-9a-f]{64}$")


def check_device_id(device_id: object) -> str:
    """`device_id` as a tablet's own identifier, or HubError (never staff's "staff")."""
    if not isinstance(device_id, str) or not IDENT.match(device_id) \
            or device_id == channels.STAFF_DEVICE:   # staff's own counts are "staff"'s
        raise HubError(N_("A device identifier (1 to 64 letters, digits, - or _) is expected."),
                       field="device_id")
    return device_id


def bearer_credential(authorization: str | None) -> tuple[str, str] | None:
    """(device ID, secret) from `Authorization: Bearer <id>:<secret>`, or None."""
    if not authorization or not authorization.startswith("Bearer ") or ":" not in authorization:
        return None
    device_id, _, secret = authorization[7:].strip().partition(":")
    return device_id, secret


def holds_credential(device, secret: str) -> bool:
    """Whether `secret` is the credential bound to the device row, in constant time."""
    try:
        given = sha256(secret)
    except UnicodeEncodeError:     # a lone surrogate: not any device's secret
        return False
    # compare_digest refuses non-ASCII text: compare bytes, always.
    return secrets.compare_digest(device.secret_hash.encode(), given.encode())


def new_alias() -> str:
    """A device's alias for residents: 80 random bits, 16 characters of [a-z2-7]."""
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


def _code_invalid() -> HubError:
    # One answer for unknown, expired and used: codes cannot be probed.
    return HubError(N_("This enrollment code is not valid: it may be mistyped, expired or "
                       "already used."), code="enrollment_code_invalid", field="code")


def _device_revoked() -> HubError:
    return HubError(N_("Staff revoked this tablet. Ask the platform staff for an enrollment "
                       "code made for this tablet."), status=409, code="device_revoked",
                    field="device_id")


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


def enrollment_qr_payload(hub_url: str, code: str, pin: str = "") -> str:
    """`piazzetta://enroll?hub=…&code=…`, with `&pin=` the SHA-256 fingerprint of the
    certificate a room hub made for itself (tablets pin it: docs/protocol.md, "Enrollment")."""
    from urllib.parse import urlencode
    fields = {"hub": hub_url, "code": code}
    if pin and hub_url.startswith("https://"):
        fields["pin"] = pin
    return "piazzetta://enroll?" + urlencode(fields)


def checked_bundle_files(consultation: Consultation, folder: Path | None,
                         files: dict[str, bytes] | None) -> dict[str, bytes]:
    """The files of `consultation`'s bundle to store and serve, {path inside the bundle: bytes},
    each checked by app.bundle's rules: images by read_bundle_image (from `folder`: a regular
    file inside it, no link, an image within the size and pixel limits) or check_image_bytes
    (given bytes); the base map by check_map_tiles, up to the map's own size limit, on the very
    bytes stored, with the bundle's zoom levels among those it holds. Given files the bundle
    does not list are left out. BundleError names the file."""
    tiles = consultation.map.tiles if consultation.map is not None else None
    checked: dict[str, bytes] = {}
    for rel in bundle_files(consultation):
        if folder is not None:
            if rel == tiles:
                check_map_tiles(folder, rel)      # the path's rules, before reading it
                content = _read_bounded(folder / rel, rel)
            else:
                checked[rel] = read_bundle_image(folder, rel)
                continue
        else:
            content = (files or {}).get(rel)
            if content is None:
                continue
            if isinstance(content, (bytearray, memoryview)):
                content = bytes(content)
        if rel == tiles:
            check_map_bytes(consultation, content, rel)
        elif not isinstance(content, bytes):
            raise BundleError(N_("The image {path} is not a PNG, JPEG or WebP picture."), rel,
                              path=rel)
        else:
            check_image_bytes(content, rel)
        checked[rel] = content
    return checked


def _read_bounded(path: Path, rel: str) -> bytes:
    with open(path, "rb") as f:
        content = f.read(bundles.MAX_TILES_BYTES + 1)
    if len(content) > bundles.MAX_TILES_BYTES:
        raise BundleError(N_("The map file {path} is too large."), rel, path=rel)
    return content


def check_map_bytes(consultation: Consultation, content: object, rel: str) -> None:
    """Check the base map given as bytes: written to a private temporary folder under its path
    in the bundle, then check_map_tiles, and the bundle's zoom levels among those it holds."""
    if not isinstance(content, bytes) or content[:16] != b"SQLite format 3\x00":
        raise BundleError(N_("The map file {path} is not an MBTiles (SQLite) database."), rel,
                          path=rel)
    if len(content) > bundles.MAX_TILES_BYTES:
        raise BundleError(N_("The map file {path} is too large."), rel, path=rel)
    with tempfile.TemporaryDirectory(prefix="piazzetta-map-") as tmp:
        target = Path(tmp) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        low, high = check_map_tiles(tmp, rel)
    perimeter = consultation.map
    for level in (perimeter.min_zoom, perimeter.max_zoom):
        if not low <= level <= high:
            raise BundleError(N_("The map file {path} holds zoom levels {min} to {max} only."),
                              rel, "consultation.map.tiles", path=rel, min=low, max=high)
