"""Sign-up: the signed link a tablet prints in its QR, and the form a resident fills in (on a
phone at the hub, or on the tablet). Participation cards are in app/cards.py; what a tablet shows
from its enrollment (its sign-up link, an idea's receipt link) in app/tablet.py.

Shared by the tablet and the hub, so pure Python (stdlib `hmac`).

- **Sign-up links** are minted offline by the tablet. The hub never hands out its own secret:
  at enrollment it gives each device an opaque alias (never its device ID: links reach
  residents) and `device_signup_key(hub_secret, alias)`, and re-derives the key from the link's
  `device` claim, which holds that alias, to check a token. The format is compact, for a QR
  that scans from afar: `<consultation>~<site>~<meeting>~<alias>~<exp base 36>.<16-byte HMAC
  base64url>`; the first form (`<base64url JSON claims>.<base64url HMAC-SHA256>`) still reads.
  Links signed with the keys of before aliases (derived from device IDs) no longer verify.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .canonical import canonical_json
from .errors import N_, DomainError, ValidationError
from .identifiers import is_content_id
from .text import clean_text
from .tokens import b64url as _b64, hmac_b64 as _mac, unb64url as _unb64

# The key this tablet signs its sign-up links with, and the alias its links name instead of
# its device ID (Store.set_setting), both given by the hub at enrollment.
SIGNUP_KEY = "sync.signup_key"
SIGNUP_ALIAS = "sync.signup_alias"

# -- signed sign-up links --------------------------------------------------------------------------

SIGNUP_TTL = 12 * 3600          # a QR shown in the morning still works in the evening meeting
TOKEN_MAX = 2048


class SignupTokenError(DomainError):
    """A sign-up link that is forged, damaged or expired (the sign-up still works, unattributed)."""


def device_signup_key(hub_secret: str, alias: str) -> str:
    """The key a device signs its sign-up links with: HMAC(hub secret, "signup-alias:" +
    its alias). (Keys derived from device IDs, "signup:" + ID, were handed to anyone who
    enrolled an ID; their links no longer verify.)"""
    if not hub_secret:
        raise ValueError("a hub secret is needed")
    return _b64(hmac.new(hub_secret.encode(), ("signup-alias:" + alias).encode(),
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
    """A sign-up link's `t`, signed with the device's key (no network needed). `device` is the
    device's alias from its enrollment, never its device ID: the link is shown to residents.

    Compact form, so that the QR stays coarse enough to scan from the back of a room:
    `<consultation>~<site>~<meeting>~<alias>~<exp in base 36>.<16-byte HMAC, base64url>`
    (an empty field is no attribution). The first form, `<base64url JSON claims>.<base64url
    HMAC-SHA256>`, still verifies."""
    if not key:
        raise ValueError("a signing key is needed")
    if not is_content_id(device):
        raise ValueError("a device identifier is needed")
    # An identifier the hub would refuse is left out: the link then works, unattributed there.
    fields = [value if is_content_id(value) else ""
              for value in (consultation, site, meeting)]
    exp = int((time.time() if now is None else now) + ttl)
    body = _COMPACT_SEP.join(fields + [device, _base36(exp)])
    return f"{body}.{_mac16(key, body)}"


def mint_signup_token_v1(key: str, *, consultation: str | None, site: str | None,
                         meeting: str | None, device: str, ttl: int = SIGNUP_TTL,
                         now: float | None = None) -> str:
    """The first form of a sign-up link (JSON claims, full HMAC), which still verifies."""
    claims = {"consultation": consultation, "site": site, "meeting": meeting, "device": device,
              "exp": int((time.time() if now is None else now) + ttl)}
    body = _b64(canonical_json(claims).encode())
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


def verify_signup_token(token: object, hub_secret: str, *, now: float | None = None,
                        max_ttl: int | None = None) -> dict:
    """The claims of a genuine, unexpired sign-up link (either form), or SignupTokenError.
    `device` is the alias of the device that minted it. With `max_ttl`, a link that would
    expire more than `max_ttl` seconds after `now` is refused as not valid: no tablet mints one,
    and a key that leaked must not make links that last."""
    claims = unverified_claims(token)
    device = claims.get("device")
    if not is_content_id(device):
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
        if value is not None and not is_content_id(value):
            raise SignupTokenError(N_("This link is not valid."), "t")
    now = time.time() if now is None else now
    if max_ttl is not None and exp > now + max_ttl:
        raise SignupTokenError(N_("This link is not valid."), "t")
    if exp < now:
        raise SignupTokenError(N_("This link has expired."), "t")
    return claims


def signup_url(hub_url: str, token: str) -> str:
    """The address of the hub's sign-up page for a link's token."""
    return hub_url.rstrip("/") + "/signup?t=" + token


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
            if isinstance(item, dict) and is_content_id(item.get("id")) and isinstance(item.get("name"), dict):
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


# Characters no single email address holds: a list (`a@x, b@y`), a display name, a route.
_NOT_IN_ADDRESS = frozenset(',;<>"()[]\\:')
# Providers that ignore dots in the local part (and their other domain names).
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def is_email_address(contact: str) -> bool:
    """One plain address (`local@domain.tld`), as the standard library's parser reads it: no
    list, no display name, none of `,;<>"` (smtplib would mail every address of a list)."""
    from email.utils import getaddresses, parseaddr
    if not _EMAIL.match(contact) or _NOT_IN_ADDRESS & set(contact) or not contact.isascii():
        return False
    if empty_domain_label(contact):
        return False
    found = getaddresses([contact])
    return len(found) == 1 and parseaddr(contact) == ("", contact) == found[0]


def empty_domain_label(contact: str) -> bool:
    """Whether the part after the @ has an empty label: `me@gmail.com.` (a trailing dot),
    `me@gmail..com`, `me@.gmail.com`."""
    _local, at, domain = contact.strip().rpartition("@")
    return bool(at) and "" in domain.split(".")


def contact_identity(contact: str) -> str:
    """The address as counted for "one card per person": case folded, `+tag` removed, dots of
    the local part removed where the provider ignores them (gmail.com, googlemail.com). What is
    stored and mailed stays as typed."""
    contact = contact.strip().lower()
    local, at, domain = contact.rpartition("@")
    if not at:
        return contact
    local = local.split("+", 1)[0]
    domain = ".".join(label for label in domain.split(".") if label)   # `gmail.com.`
    if domain in _DOTLESS:
        domain = _DOTLESS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def contact_kind(contact: str) -> str | None:
    if "@" in contact:
        return "email" if is_email_address(contact) else None
    if _PHONE.match(contact) and sum(ch.isdigit() for ch in contact) >= 6:
        return "phone"
    return None


def signup_problems(config: SignupConfig, form: Mapping[str, Any]) -> list[ValidationError]:
    """Every field at fault in a sign-up as typed, each a ValidationError naming its field, in
    the order of the form (a form shows them all at once); [] when it can be recorded."""
    problems = []

    def check(rule):
        try:
            rule()
        except ValidationError as exc:
            problems.append(exc)

    def contact_given():
        contact = clean_text(form.get("contact"), field="contact", max_length=CONTACT_MAX,
                             required=True).strip()
        if "@" in contact and empty_domain_label(contact):
            raise ValidationError(N_("Check the part after the @: it has an empty part or "
                                     "ends with a dot (write gmail.com, not gmail.com. or "
                                     "gmail..com)."), "contact")
        if contact_kind(contact) is None:
            raise ValidationError(N_("Enter an email address or a phone number."), "contact")

    def consent_given():
        if form.get("consent") not in (True, "1", "on", "yes", "true"):
            raise ValidationError(N_("Tick the consent box to sign up."), "consent")

    def age_known():
        age = form.get("age_bracket") or None
        if config.age_bracket and age is not None and age not in AGE_BRACKETS:
            raise ValidationError(N_("Choose one of the age brackets."), "age_bracket")

    def hood_known():
        hood = form.get("neighbourhood") or None
        if config.neighbourhoods and hood is not None and \
                hood not in {h for h, _ in config.neighbourhoods}:
            raise ValidationError(N_("Choose one of the neighbourhoods."), "neighbourhood")

    check(lambda: clean_text(form.get("name"), field="name", max_length=NAME_MAX,
                             required=True))
    for rule in (contact_given, consent_given, age_known, hood_known):
        check(rule)
    return problems


def validate_signup(config: SignupConfig, form: Mapping[str, Any]) -> SignupDraft:
    """Check a sign-up as typed; return it cleaned or raise ValidationError naming the field
    (the first of signup_problems). Fields the consultation did not configure are ignored,
    whatever was sent."""
    problems = signup_problems(config, form)
    if problems:
        raise problems[0]
    name = clean_text(form.get("name"), field="name", max_length=NAME_MAX, required=True)
    contact = clean_text(form.get("contact"), field="contact", max_length=CONTACT_MAX,
                         required=True).strip()
    kind = contact_kind(contact)
    age = (form.get("age_bracket") or None) if config.age_bracket else None
    hood = (form.get("neighbourhood") or None) if config.neighbourhoods else None
    return SignupDraft(name, contact.lower() if kind == "email" else contact, kind, True, age,
                       hood)


PERSONAL_FIELDS = ("name", "contact", "age_bracket", "neighbourhood")


def redacted_signup_payload(payload: Mapping[str, Any]) -> dict:
    """A `signup` event's payload without the resident's data (what stays on the tablet once
    the hub acknowledged it)."""
    return {**{k: v for k, v in payload.items() if k not in PERSONAL_FIELDS}, "redacted": True}


def signup_config_of_bundle(folder) -> SignupConfig:
    """What the consultation in bundle folder `folder` asks at sign-up (its `signup` object);
    the minimum (name, contact, consent) when the bundle says nothing or cannot be read."""
    try:
        data = json.loads((Path(folder) / "bundle.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return SignupConfig()
    return SignupConfig.from_bundle(data)
