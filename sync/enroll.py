"""Enrollment: a code typed by the facilitator, or read from the QR the hub's staff show (it
holds the hub's URL and the code, and for a room hub the fingerprint of its certificate, which
the tablet pins from then on). The tablet keeps its own ID and makes its own credential
(one per hub, before the first attempt); the hub binds the credential's hash to the ID and
gives the tablet an alias for its sign-up links (docs/protocol.md, "Enrollment")."""
from __future__ import annotations

import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlsplit

from app.errors import N_
from app.signup import SIGNUP_ALIAS, SIGNUP_KEY
from app.store import Store
from app.tablet import PHONE_SIGNUP

from . import protocol as p
from .client import HubClient, normalize_hub_url, normalize_pin, split_hub_address


def parse_enrollment_qr(text: object) -> tuple[str, str, str | None]:
    """(hub URL, code, pin) from a QR's text: `piazzetta://enroll?hub=…&code=…[&pin=…]` (or
    the same as JSON `{"hub": …, "code": …, "pin": …}`); `pin` is the SHA-256 fingerprint of
    a room hub's own certificate, None for a hub an authority vouches for. Raises SyncError
    when it is not an enrollment QR."""
    not_ours = p.SyncError(N_("This QR code is not a Piazzetta enrollment code."), "qr")
    if not isinstance(text, str) or len(text) > 2000:
        raise not_ours
    text = text.strip()
    hub = code = pin = None
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise not_ours from None
        if isinstance(data, dict):
            hub, code, pin = data.get("hub"), data.get("code"), data.get("pin")
    else:
        parts = urlsplit(text)
        if parts.scheme == "piazzetta" and parts.netloc == "enroll":
            query = parse_qs(parts.query)
            hub = (query.get("hub") or [None])[0]
            code = (query.get("code") or [None])[0]
            pin = (query.get("pin") or [None])[0]
    if not isinstance(hub, str) or not isinstance(code, str) or not code.strip() \
            or (pin is not None and not isinstance(pin, str)):
        raise not_ours
    hub, address_pin = split_hub_address(hub)
    pin = normalize_pin(pin) if pin else address_pin
    if pin and not hub.startswith("https://"):
        raise not_ours
    return hub, code.strip(), pin


def credential_hash(secret: str) -> str:
    """What binds a credential at the hub: the SHA-256 (hex) of the secret. The enrollment
    request carries this, never the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def credential_for(store: Store, hub_url: str) -> dict:
    """This tablet's credential for `hub_url`: `{"hub", "secret", "bound"}`. Made once (a
    256-bit secret), written to the store before any request goes out, and kept across
    attempts, so that every copy of an enrollment request binds the same credential. One per
    hub: a hub never learns the secret another hub knows this tablet by."""
    hub_url = normalize_hub_url(hub_url)
    kept = [c for c in store.get_setting(p.CREDENTIALS) or []
            if isinstance(c, dict) and isinstance(c.get("hub"), str)
            and isinstance(c.get("secret"), str)]
    for entry in kept:
        if entry["hub"] == hub_url:
            return entry
    if store.get_setting(p.HUB_URL) == hub_url and store.get_setting(p.DEVICE_SECRET):
        # Enrolled before tablets made their own credentials: the hub made this one.
        entry = {"hub": hub_url, "secret": store.get_setting(p.DEVICE_SECRET), "bound": True}
    else:
        entry = {"hub": hub_url, "secret": secrets.token_urlsafe(32), "bound": False}
    current = store.get_setting(p.HUB_URL)
    older = [c for c in kept if c["hub"] != current]
    if len(kept) >= p.MAX_CREDENTIALS and older:      # a bounded list: the oldest other goes
        kept.remove(older[0])
    store.set_setting(p.CREDENTIALS, kept + [entry])
    return entry


def enroll(store: Store, hub_url: str, code: str, *, pin: str | None = None, name: str = "",
           platform: str = "", timeout: tuple[float, float] = (5.0, 15.0)) -> dict:
    """Enroll this tablet with the hub: bind this tablet's own credential for that hub to its
    device ID with `code`; keep the hub's URL, the site, the alias and the sign-up key.
    `pin` (or an address `https://…#pin=…`): the SHA-256 fingerprint of a room hub's own
    certificate, checked from this request on and kept for every later one.

    Safe to call again with the same code after any failure (the hub answers the same request
    the same way while the code is valid). Raises SyncError (HubUnreachable, NotAcknowledged,
    or a refusal whose message says what to do); nothing but the credential is kept unless the
    hub said yes.
    """
    hub_url, address_pin = split_hub_address(hub_url)
    pin = normalize_pin(pin) if pin else address_pin
    if not isinstance(code, str) or not code.strip():
        raise p.SyncError(N_("Type the enrollment code."), "code")
    entry = credential_for(store, hub_url)
    binding = credential_hash(entry["secret"])
    # A credential this hub enrolled authenticates the request (a move to another site).
    prove = bool(entry.get("bound"))
    client = HubClient(hub_url, pin=pin, timeout=timeout)
    try:
        while True:
            try:
                answer = client.enroll(code.strip(), store.device_id, binding, name=name,
                                       platform=platform,
                                       secret=entry["secret"] if prove else None)
                break
            except p.HubRefused as exc:
                if exc.code == "device_enrolled" and not prove:
                    # An earlier attempt may have bound this credential, its answer lost on
                    # the way, before another code was typed: prove it is ours, once.
                    prove = True
                    continue
                message = p.ENROLLMENT_REFUSALS.get(exc.code,
                                                    N_("The hub refused the enrollment."))
                raise p.SyncError(message, "code") from None
    finally:
        client.close()
    # A hub of before makes the secret itself and sends it once.
    secret = answer.get("device_secret") if isinstance(answer.get("device_secret"), str) \
        else entry["secret"]
    max_batch = answer.get("max_batch")
    with store.transaction():
        previous_hub = store.get_setting(p.HUB_URL)
        store.set_setting(p.CREDENTIALS, [
            dict(c, bound=True, secret=secret) if c.get("hub") == hub_url else c
            for c in store.get_setting(p.CREDENTIALS) or []])
        store.set_setting(p.HUB_URL, hub_url)
        store.set_setting(p.HUB_PIN, pin)
        store.set_setting(p.DEVICE_SECRET, secret)
        if previous_hub and previous_hub != hub_url:
            # Another hub (say the central one after a room's laptop) has none of what the
            # last one acknowledged: send everything again; each event is stored there once.
            store.forget_acknowledgements()
        store.set_setting(p.MAX_BATCH, max_batch if isinstance(max_batch, int) and max_batch > 0
                          else 100)
        store.set_setting(p.REVOKED, False)
        store.set_setting(p.AUTH_PROBLEM, None)
        keep_identity(store, answer)
    return answer


def keep_identity(store: Store, answer: dict) -> None:
    """Keep what the hub says of this tablet (an enrollment's answer, GET /api/v1/device): its
    site, and the alias and key its sign-up links are minted with (app/signup.py); from a room
    hub with a central hub, where phones sign up instead (`phone_signup`, server/room.py)."""
    alias, signup_key = answer.get("alias"), answer.get("signup_key")
    usable = isinstance(alias, str) and isinstance(signup_key, str)
    store.set_setting(p.SITE_ID, answer.get("site_id"))
    store.set_setting(SIGNUP_ALIAS, alias if usable else None)
    store.set_setting(SIGNUP_KEY, signup_key if usable else None)
    phones = answer.get("phone_signup")
    try:
        phones = {"url": normalize_hub_url(phones["url"]), "alias": phones["alias"],
                  "signup_key": phones["signup_key"]}
        if not (isinstance(phones["alias"], str) and isinstance(phones["signup_key"], str)):
            raise TypeError
    except (TypeError, KeyError, p.SyncError):
        phones = None
    store.set_setting(PHONE_SIGNUP, phones)


def refresh_identity(store: Store, client: HubClient) -> dict:
    """Ask the hub who this tablet is (authenticated) and keep it: a tablet enrolled before
    aliases existed gets its alias this way. Raises SyncError (DeviceRevoked,
    CredentialsRefused…)."""
    data = client.whoami()
    if data.get("device_id") != store.device_id:
        raise p.NotAcknowledged("not this device")
    keep_identity(store, data)
    return data


def is_enrolled(store: Store) -> bool:
    """Whether this tablet has a hub and a credential it accepted (revoked or not)."""
    return bool(store.get_setting(p.HUB_URL) and store.get_setting(p.DEVICE_SECRET))


def client_for(store: Store, timeout: tuple[float, float] = (5.0, 30.0)) -> HubClient:
    """A client to this tablet's hub, authenticated with its credential there, pinned to the
    hub's certificate when enrollment gave a pin."""
    return HubClient(store.get_setting(p.HUB_URL), store.device_id,
                     store.get_setting(p.DEVICE_SECRET), pin=store.get_setting(p.HUB_PIN),
                     timeout=timeout)
