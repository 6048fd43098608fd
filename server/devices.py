"""Sites, enrollment and devices on the hub (docs/protocol.md, "Enrollment"): the codes staff
make, a device's credential bound to its ID, every request's device found from its bearer
credential, revocation."""
from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.canonical import canonical_json
from app.clock import now_iso
from app.codes import format_code, new_code, normalize_code
from app.counts import PHONE_DEVICE_PREFIX
from app.errors import N_
from app.signup import device_signup_key
from app.text import clean_text

from . import channels, db, relay
from .db import sha256
from .errors import AuthError, HubError
from .ingest import BUNDLE_IDENT, IDENT

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


def upsert_site(conn, site_id: str, name: dict, town: str, now: str) -> None:
    """Make a site, or rename it (inside the caller's transaction)."""
    stmt = db.dialect_insert(conn, db.sites).values(
        id=site_id, name=canonical_json(name), town=town, created_at=now)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["id"], set_={"name": stmt.excluded.name, "town": stmt.excluded.town}))


class SiteRegister:
    """The sites devices are enrolled at."""

    def __init__(self, hub):
        self.hub = hub

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
        with self.hub.unit_of_work() as uow:
            upsert_site(uow.conn, site_id, name, town, now_iso())
        return {"id": site_id, "name": name, "town": town}

    def sites(self) -> list[dict]:
        with self.hub.engine.connect() as conn:
            rows = conn.execute(select(db.sites).order_by(db.sites.c.id)).all()
        return [{"id": r.id, "name": json.loads(r.name), "town": r.town} for r in rows]

    def site_exists(self, site_id: str) -> bool:
        with self.hub.engine.connect() as conn:
            return conn.execute(select(db.sites.c.id).where(db.sites.c.id == site_id)
                                ).first() is not None


class Enrollment:
    """Enrollment codes, and a device's credential bound to its ID with one."""

    def __init__(self, hub):
        self.hub = hub

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
        if site_id is not None and not self.hub.site_exists(site_id):
            raise HubError(N_("Unknown site: {id}."), status=404, code="site_unknown",
                           field="site_id", id=site_id)
        if device_id is not None:
            check_device_id(device_id)
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 7 * 24 * 60:
            raise HubError(N_("A code lasts from 1 minute to 7 days."), field="minutes")
        code = new_code(CODE_LENGTH)
        now = datetime.now(timezone.utc)
        expires = (now + timedelta(minutes=minutes)).isoformat(timespec="seconds")
        with self.hub.unit_of_work() as uow:
            uow.conn.execute(db.enrollment_codes.insert(), [{
                "code_hash": sha256(code), "site_id": site_id, "for_device": device_id,
                "created_at": now.isoformat(timespec="seconds"), "expires_at": expires,
                "kind": kind}])
        pretty = format_code(code, CODE_GROUP)
        return {"code": pretty, "site_id": site_id, "device_id": device_id, "expires_at": expires,
                "kind": kind,
                "qr": enrollment_qr_payload(self.hub.settings.public_url, pretty,
                                            self.hub.settings.tls_pin)}

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
        return self.hub.units.run(lambda uow: self._enroll(
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
        settings = self.hub.settings
        return {"device_id": device["id"], "site_id": device["site_id"],
                "hub_url": settings.public_url,
                "max_batch": (relay.relay_max_batch(settings)
                              if device.get("kind") == relay.RELAY else settings.max_batch),
                "credential": device["secret_hash"], "alias": device["alias"],
                "kind": device.get("kind") or "tablet",
                # The device signs its sign-up links offline with this (app/signup.py).
                "signup_key": device_signup_key(settings.secret_key, device["alias"]),
                **self._phone_signup()}

    def _phone_signup(self) -> dict:
        from .phones import phone_signup     # a room hub's phones use the central hub
        return phone_signup(self.hub)

    def device_info(self, device: dict) -> dict:
        """What an authenticated device learns of itself (GET /api/v1/device): its site, its
        alias and sign-up key (tablets enrolled before aliases get theirs this way)."""
        return {"device_id": device["id"], "site_id": device["site_id"],
                "name": device["name"], "max_batch": self.hub.settings.max_batch,
                "alias": device["alias"],
                "signup_key": device_signup_key(self.hub.settings.secret_key, device["alias"]),
                **self._phone_signup()}


class DeviceRegister:
    """The enrolled devices: who a request comes from, the list staff see, revocation."""

    def __init__(self, hub):
        self.hub = hub

    def authenticate(self, authorization: str | None) -> dict:
        """The device named by an `Authorization: Bearer <id>:<secret>` header, or AuthError."""
        given = bearer_credential(authorization)
        if given is None:
            raise AuthError(N_("This tablet is not enrolled with the hub."), "device_unknown")
        device_id, secret = given
        with self.hub.engine.connect() as conn:
            row = conn.execute(select(db.devices).where(db.devices.c.id == device_id)).first()
        if row is None or not holds_credential(row, secret):
            raise AuthError(N_("This tablet is not enrolled with the hub."), "device_unknown")
        if row.revoked_at is not None:
            raise AuthError(N_("This tablet was revoked: its data is kept, enroll it again to "
                               "send it."), "device_revoked")
        return dict(row._mapping)

    def device_by_alias(self, alias: str) -> dict | None:
        """The device a sign-up link's alias names, or None."""
        with self.hub.engine.connect() as conn:
            row = conn.execute(select(db.devices).where(db.devices.c.alias == alias)).first()
        return dict(row._mapping) if row else None

    def is_admin(self, authorization: str | None) -> bool:
        token = (authorization or "")[7:].strip() if (authorization or "").startswith("Bearer ") else ""
        return same_secret(token, self.hub.settings.admin_token)

    def devices(self) -> list[dict]:
        """Every device: enrolled here (tablets, room hubs) and registered by a room hub
        (`relayed_by`, its room hub), with the events each sent (directly or forwarded)."""
        with self.hub.engine.connect() as conn:
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
        with self.hub.unit_of_work() as uow:
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


CREDENTIAL = re.compile(r"^[0-9a-f]{64}$")


def check_device_id(device_id: object) -> str:
    """`device_id` as a tablet's own identifier, or HubError (never staff's "staff", nor one
    of the hubs' phone devices': their ballots are the phone channel's, app.counts)."""
    if not isinstance(device_id, str) or not IDENT.match(device_id) \
            or device_id == channels.STAFF_DEVICE \
            or device_id.startswith(PHONE_DEVICE_PREFIX):
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


ALIAS = re.compile(r"[a-z2-7]{16}")


def new_alias() -> str:
    """A device's alias for residents: 80 random bits, 16 characters of [a-z2-7]."""
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


def is_alias(name: object) -> bool:
    """Whether a device's recorded name is only the alias `new_alias` drew (a closing record
    names an unnamed tablet by it): a code nobody in the room can match to a tablet."""
    return isinstance(name, str) and ALIAS.fullmatch(name) is not None


def _code_invalid() -> HubError:
    # One answer for unknown, expired and used: codes cannot be probed.
    return HubError(N_("This enrollment code is not valid: it may be mistyped, expired or "
                       "already used."), code="enrollment_code_invalid", field="code")


def _device_revoked() -> HubError:
    return HubError(N_("Staff revoked this tablet. Ask the platform staff for an enrollment "
                       "code made for this tablet."), status=409, code="device_revoked",
                    field="device_id")


def enrollment_qr_payload(hub_url: str, code: str, pin: str = "") -> str:
    """`piazzetta://enroll?hub=…&code=…`, with `&pin=` the SHA-256 fingerprint of the
    certificate a room hub made for itself (tablets pin it: docs/protocol.md, "Enrollment")."""
    from urllib.parse import urlencode
    fields = {"hub": hub_url, "code": code}
    if pin and hub_url.startswith("https://"):
        fields["pin"] = pin
    return "piazzetta://enroll?" + urlencode(fields)
