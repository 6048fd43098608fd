"""Sign-up: the signed link a tablet prints in its QR, the form a resident fills in (on a phone
at the hub, or on the tablet), and the participation card of the identified ballot mode.

Shared by the tablet and the hub, so pure Python (stdlib `hmac`, and the pure-Python `ecdsa`
package for the cards' Ed25519 signatures).

- **Sign-up links** are minted offline by the tablet. The hub never hands out its own secret:
  at enrollment it gives each device `device_signup_key(hub_secret, device_id)`, and re-derives
  it from the `device` claim to check a token. The format is compact, for a QR that scans from
  afar: `<consultation>~<site>~<meeting>~<device>~<exp base 36>.<16-byte HMAC base64url>`; the
  hub's first form (`<base64url JSON claims>.<base64url HMAC-SHA256>`) is still accepted.
- **Participation cards** are signed by the hub with Ed25519; tablets check them offline with
  the hub's public key (delivered with the bundle index). A card's short code is its secret:
  typed codes are checked against a list of their hashes, and a per-question *nullifier*
  `HMAC(code, consultation|question)` enforces one answer per person per question without
  ever storing the code beside the answers.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import N_, DomainError, ValidationError
from .text import clean_text
from .tokens import b64url as _b64, hmac_b64 as _mac, unb64url as _unb64

# -- signed sign-up links --------------------------------------------------------------------------

SIGNUP_TTL = 12 * 3600          # a QR shown in the morning still works in the evening meeting
TOKEN_MAX = 2048
_IDENT = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class SignupTokenError(DomainError):
    """A sign-up link that is forged, damaged or expired (the sign-up still works, unattributed)."""


def device_signup_key(hub_secret: str, device_id: str) -> str:
    """The key a device signs its sign-up links with: HMAC(hub secret, "signup:" + device)."""
    if not hub_secret:
        raise ValueError("a hub secret is needed")
    return _b64(hmac.new(hub_secret.encode(), ("signup:" + device_id).encode(),
                         hashlib.sha256).digest())


def _mac16(key: str, body: str) -> str:
    """A sign-up link's signature: HMAC-SHA256 cut to 16 bytes (22 characters), enough against
    forgery and a smaller QR."""
    return _b64(hmac.new(key.encode(), body.encode(), hashlib.sha256).digest()[:16])


_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_COMPACT_SEP = "~"                     # never in an identifier, nor in base64url
_COMPACT_FIELDS = ("consultation", "site", "meeting", "device")


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _B36[rest] + digits
        if not number:
            return digits


def mint_signup_token(key: str, *, consultation: str | None, site: str | None,
                      meeting: str | None, device: str, ttl: int = SIGNUP_TTL,
                      now: float | None = None) -> str:
    """A sign-up link's `t`, signed with the device's key (no network needed).

    Compact form, so that the QR stays coarse enough to scan from the back of a room:
    `<consultation>~<site>~<meeting>~<device>~<exp in base 36>.<16-byte HMAC, base64url>`
    (an empty field is no attribution). The hub still accepts the first form,
    `<base64url JSON claims>.<base64url HMAC-SHA256>`, for links printed before."""
    if not key:
        raise ValueError("a signing key is needed")
    if not isinstance(device, str) or not _IDENT.match(device):
        raise ValueError("a device identifier is needed")
    # An identifier the hub would refuse is left out: the link then works, unattributed there.
    fields = [value if isinstance(value, str) and _IDENT.match(value) else ""
              for value in (consultation, site, meeting)]
    exp = int((time.time() if now is None else now) + ttl)
    body = _COMPACT_SEP.join(fields + [device, _base36(exp)])
    return f"{body}.{_mac16(key, body)}"


def mint_signup_token_v1(key: str, *, consultation: str | None, site: str | None,
                         meeting: str | None, device: str, ttl: int = SIGNUP_TTL,
                         now: float | None = None) -> str:
    """The first form of a sign-up link (JSON claims, full HMAC), still accepted by the hub."""
    claims = {"consultation": consultation, "site": site, "meeting": meeting, "device": device,
              "exp": int((time.time() if now is None else now) + ttl)}
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(key, body)}"


def _compact_claims(token: str) -> dict:
    body = token.rpartition(".")[0]
    parts = body.split(_COMPACT_SEP)
    if len(parts) != 5 or not re.fullmatch(r"[0-9a-z]{1,10}", parts[4]):
        raise SignupTokenError(N_("This link is not valid."), "t")
    claims: dict = {name: (value or None) for name, value in zip(_COMPACT_FIELDS, parts)}
    claims["exp"] = int(parts[4], 36)
    return claims


def unverified_claims(token: object) -> dict:
    """The claims of a token, NOT checked: only to learn which device's key checks it."""
    if not isinstance(token, str) or len(token) > TOKEN_MAX:
        raise SignupTokenError(N_("This link is not valid."), "t")
    if _COMPACT_SEP in token:
        if not token.isascii() or "." not in token:
            raise SignupTokenError(N_("This link is not valid."), "t")
        return _compact_claims(token)
    if token.count(".") != 1:
        raise SignupTokenError(N_("This link is not valid."), "t")
    try:
        claims = json.loads(_unb64(token.split(".")[0]))
    except (ValueError, UnicodeDecodeError):
        raise SignupTokenError(N_("This link is not valid."), "t") from None
    if not isinstance(claims, dict):
        raise SignupTokenError(N_("This link is not valid."), "t")
    return claims


def verify_signup_token(token: object, hub_secret: str, *, now: float | None = None) -> dict:
    """The claims of a genuine, unexpired sign-up link (either form), or SignupTokenError."""
    claims = unverified_claims(token)
    device = claims.get("device")
    if not isinstance(device, str) or not _IDENT.match(device):
        raise SignupTokenError(N_("This link is not valid."), "t")
    body, _dot, mac = token.rpartition(".")
    key = device_signup_key(hub_secret, device)
    expected = _mac16(key, body) if _COMPACT_SEP in token else _mac(key, body)
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        raise SignupTokenError(N_("This link is not valid."), "t")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise SignupTokenError(N_("This link is not valid."), "t")
    for key in ("consultation", "site", "meeting"):
        value = claims.get(key)
        if value is not None and (not isinstance(value, str) or not _IDENT.match(value)):
            raise SignupTokenError(N_("This link is not valid."), "t")
    if exp < (time.time() if now is None else now):
        raise SignupTokenError(N_("This link has expired."), "t")
    return claims


def signup_url(hub_url: str, token: str) -> str:
    return hub_url.rstrip("/") + "/signup?t=" + token


def idea_url(hub_url: str, short_code: str) -> str:
    return hub_url.rstrip("/") + "/ideas/" + short_code


# -- the sign-up form -------------------------------------------------------------------------------

NAME_MAX = 80
CONTACT_MAX = 120
AGE_BRACKETS = ("under_18", "18_29", "30_44", "45_59", "60_74", "75_plus")
AGE_BRACKET_LABELS = {"under_18": N_("Under 18"), "18_29": N_("18 to 29"),
                      "30_44": N_("30 to 44"), "45_59": N_("45 to 59"),
                      "60_74": N_("60 to 74"), "75_plus": N_("75 or over")}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 .\-()]{5,22}$")


@dataclass(frozen=True)
class SignupConfig:
    """What a consultation asks at sign-up, from its bundle's optional `signup` object:
    `{"age_bracket": true, "neighbourhoods": [{"id": …, "name": {"fr": …}}]}`. Name (or
    pseudonym), one contact and consent are always asked; nothing else unless configured."""
    age_bracket: bool = False
    neighbourhoods: tuple[tuple[str, Mapping[str, str]], ...] = ()

    @classmethod
    def from_bundle(cls, data: object) -> "SignupConfig":
        section = data.get("signup") if isinstance(data, dict) else None
        if not isinstance(section, dict):
            return cls()
        hoods = []
        for item in section.get("neighbourhoods") or []:
            if isinstance(item, dict) and isinstance(item.get("id"), str) \
                    and _IDENT.match(item["id"]) and isinstance(item.get("name"), dict):
                hoods.append((item["id"], {k: str(v) for k, v in item["name"].items()
                                           if k in ("fr", "it", "en")}))
        return cls(age_bracket=section.get("age_bracket") is True, neighbourhoods=tuple(hoods))


@dataclass(frozen=True)
class SignupDraft:
    name: str
    contact: str
    contact_kind: str          # "email" | "phone"
    consent: bool
    age_bracket: str | None
    neighbourhood: str | None


def contact_kind(contact: str) -> str | None:
    if _EMAIL.match(contact):
        return "email"
    if _PHONE.match(contact) and sum(ch.isdigit() for ch in contact) >= 6:
        return "phone"
    return None


def validate_signup(config: SignupConfig, form: Mapping[str, Any]) -> SignupDraft:
    """Check a sign-up as typed; return it cleaned or raise ValidationError naming the field.
    Fields the consultation did not configure are ignored, whatever was sent."""
    name = clean_text(form.get("name"), field="name", max_length=NAME_MAX, required=True)
    contact = clean_text(form.get("contact"), field="contact", max_length=CONTACT_MAX,
                         required=True).strip()
    kind = contact_kind(contact)
    if kind is None:
        raise ValidationError(N_("Enter an email address or a phone number."), "contact")
    consent = form.get("consent")
    if consent not in (True, "1", "on", "yes", "true"):
        raise ValidationError(N_("Tick the consent box to sign up."), "consent")
    age = form.get("age_bracket") or None
    if not config.age_bracket:
        age = None
    elif age is not None and age not in AGE_BRACKETS:
        raise ValidationError(N_("Choose one of the age brackets."), "age_bracket")
    hood = form.get("neighbourhood") or None
    if not config.neighbourhoods:
        hood = None
    elif hood is not None and hood not in {h for h, _ in config.neighbourhoods}:
        raise ValidationError(N_("Choose one of the neighbourhoods."), "neighbourhood")
    return SignupDraft(name, contact.lower() if kind == "email" else contact, kind, True, age,
                       hood)


PERSONAL_FIELDS = ("name", "contact", "age_bracket", "neighbourhood")


def redacted_signup_payload(payload: Mapping[str, Any]) -> dict:
    """A `signup` event's payload without the resident's data (what stays on the tablet once
    the hub acknowledged it)."""
    return {**{k: v for k, v in payload.items() if k not in PERSONAL_FIELDS}, "redacted": True}


# -- participation cards ----------------------------------------------------------------------------

CARD_PREFIX = "PZC1"
CARD_CODE_LENGTH = 10
CARD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I
_CARD_CONTEXT = b"piazzetta-card-v1:"


class CardError(DomainError):
    """A participation card that is not genuine, unknown to this tablet, or already used."""


def new_card_code() -> str:
    return "".join(secrets.choice(CARD_ALPHABET) for _ in range(CARD_CODE_LENGTH))


def normalize_card_code(text: object) -> str:
    """A card code as typed: case, spaces and dashes do not matter."""
    if not isinstance(text, str):
        return ""
    return "".join(ch for ch in text.upper() if ch.isalnum())[:64]


def format_card_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def card_code_hash(code: str) -> str:
    """What tablets hold to check a typed code offline (never the code itself)."""
    return hashlib.sha256(b"piazzetta-card-code:" + normalize_card_code(code).encode()
                          ).hexdigest()[:32]


def card_signing_seed(hub_secret: str) -> bytes:
    """The hub's Ed25519 private key seed, derived from its secret (nothing else to keep)."""
    return hmac.new(hub_secret.encode(), b"piazzetta-card-signing-key", hashlib.sha256).digest()


def card_public_key(seed: bytes) -> str:
    from ecdsa import Ed25519, SigningKey
    return SigningKey.from_string(seed, curve=Ed25519).get_verifying_key().to_string().hex()


def sign_card(seed: bytes, code: str) -> str:
    """The text of a card's QR: `PZC1.<code>.<base64url Ed25519 signature>`."""
    from ecdsa import Ed25519, SigningKey
    code = normalize_card_code(code)
    signature = SigningKey.from_string(seed, curve=Ed25519).sign(_CARD_CONTEXT + code.encode())
    return f"{CARD_PREFIX}.{code}.{_b64(signature)}"


def read_card(text: object, public_key_hex: str | None,
              known_hashes: frozenset[str] | set[str] = frozenset()) -> str:
    """The card code in a scanned QR (checked by signature) or a typed short code (checked
    against the hashes of issued cards). Raises CardError with a message for the resident."""
    if not isinstance(text, str) or len(text) > 400:
        raise CardError(N_("This is not a participation card."), "card")
    text = text.strip()
    if text.upper().startswith(CARD_PREFIX + "."):
        parts = text.split(".")
        if len(parts) != 3 or not public_key_hex:
            raise CardError(N_("This participation card cannot be checked."), "card")
        code = normalize_card_code(parts[1])
        from ecdsa import BadSignatureError, Ed25519, VerifyingKey
        try:
            key = VerifyingKey.from_string(bytes.fromhex(public_key_hex), curve=Ed25519)
            key.verify(_unb64(parts[2]), _CARD_CONTEXT + code.encode())
        except (BadSignatureError, ValueError, AssertionError, TypeError):
            raise CardError(N_("This participation card was not issued by this platform."),
                            "card") from None
        if len(code) != CARD_CODE_LENGTH:
            raise CardError(N_("This participation card was not issued by this platform."),
                            "card")
        return code
    code = normalize_card_code(text)
    if len(code) != CARD_CODE_LENGTH:
        raise CardError(N_("A card code has 10 letters and digits."), "card")
    if card_code_hash(code) not in known_hashes:
        raise CardError(N_("This card code is unknown here: check it, or wait until the "
                           "tablet has synchronised."), "card")
    return code


def nullifier(code: str, consultation_id: str, question_id: str) -> str:
    """One value per card and question: the same card answering again gives the same value,
    and the value alone does not tell which card it was."""
    return hmac.new(normalize_card_code(code).encode(),
                    f"{consultation_id}|{question_id}".encode(), hashlib.sha256).hexdigest()


# Settings the tablet keeps (Store.set_setting), filled by enrollment and the bundle index.
SIGNUP_KEY = "sync.signup_key"
CARD_PUBLIC_KEY = "sync.card_public_key"
CARD_CODE_HASHES = "sync.card_code_hashes"


def kiosk_signup_url(store, *, consultation_id: str | None, site_id: str | None,
                     meeting_id: str | None, ttl: int = SIGNUP_TTL) -> str:
    """The sign-up link this tablet shows (minted offline), or "" when it is not enrolled:
    then no sign-up QR is shown at all."""
    hub_url = store.get_setting("sync.hub_url")      # sync.protocol.HUB_URL
    key = store.get_setting(SIGNUP_KEY)
    if not hub_url or not key:
        return ""
    try:
        token = mint_signup_token(key, consultation=consultation_id, site=site_id,
                                  meeting=meeting_id, device=store.device_id, ttl=ttl)
    except ValueError:
        return ""
    return signup_url(hub_url, token)


class SignupLink:
    """The sign-up link a screen shows for a long time (the projector): minted from the store's
    enrollment settings, and minted again once an hour so that it never nears its expiry.
    Call it for the current URL ("" when the device is not enrolled)."""

    def __init__(self, store, *, consultation_id: str | None, site_id: str | None = None,
                 meeting_id: str | None = None, refresh: float = 3600.0):
        self.store, self.refresh = store, refresh
        self.claims = dict(consultation_id=consultation_id, site_id=site_id,
                           meeting_id=meeting_id)
        self._url, self._at = "", None

    def __call__(self) -> str:
        now = time.monotonic()
        if self._at is None or now - self._at >= self.refresh:
            self._url, self._at = kiosk_signup_url(self.store, **self.claims), now
        return self._url


def kiosk_idea_url(store, short_code: str) -> str:
    """The receipt link of an idea collected here, or "" when the tablet knows no hub (then
    only the short code is shown)."""
    hub_url = store.get_setting("sync.hub_url")
    return idea_url(hub_url, short_code) if hub_url and short_code else ""


def signup_config_of_bundle(folder) -> SignupConfig:
    """What the consultation in bundle folder `folder` asks at sign-up (its `signup` object);
    the minimum (name, contact, consent) when the bundle says nothing or cannot be read."""
    from pathlib import Path
    try:
        data = json.loads((Path(folder) / "bundle.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return SignupConfig()
    return SignupConfig.from_bundle(data)


def card_checks(store) -> tuple[str | None, frozenset[str]]:
    """(the hub's public key, the hashes of issued card codes) as the last bundle gave them."""
    hashes = store.get_setting(CARD_CODE_HASHES) or []
    return store.get_setting(CARD_PUBLIC_KEY), frozenset(h for h in hashes
                                                          if isinstance(h, str))


def follow_idea(store, short_code: object):
    """The idea with this short code collected on this tablet, with the status and answer
    synced from the hub; ValidationError when the code is not one of this tablet's ideas."""
    from .store import StoreError
    code = normalize_card_code(short_code)
    if not 4 <= len(code) <= 20:
        raise ValidationError(N_("An idea's code has 6 letters and digits."), "code")
    try:
        return store.proposal(code)
    except StoreError:
        raise ValidationError(N_("No idea with this code was sent from this tablet."),
                              "code") from None


# What a resident reads about an idea they follow (the same words as its page at the hub).
IDEA_ANSWER_LABELS = {"received": N_("Received"), "under_study": N_("Under study"),
                      "accepted": N_("Accepted"), "rejected": N_("Not retained"),
                      "done": N_("Done")}
IDEA_MODERATION_LABELS = {"pending": N_("Awaiting moderation"), "approved": N_("Published"),
                          "rejected": N_("Not published")}


def idea_status_label(proposal) -> str:
    """The msgid of an idea's status: the platform's answer status once there is one, else
    its moderation status."""
    if proposal.answer_status in IDEA_ANSWER_LABELS:
        return IDEA_ANSWER_LABELS[proposal.answer_status]
    return IDEA_MODERATION_LABELS.get(proposal.status, IDEA_MODERATION_LABELS["pending"])
