"""Signed, expiring tokens made with the hub's secret key (PIAZZETTA_HUB_SECRET_KEY): for the
sign-up QR (`/signup?t=…` naming consultation, site, meeting and device) and anything else
that must travel through a phone and come back unchanged.

A token is `<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`; the claims hold `exp` (Unix
seconds). `verify` raises TokenError for a forged, damaged or expired token.
"""
from __future__ import annotations

import hmac
import json
import time
from typing import Any

from app.canonical import canonical_json
from app.errors import N_
from app.tokens import b64url as _b64, hmac_b64 as _mac, unb64url as _unb64

from .errors import HubError


class TokenError(HubError):
    def __init__(self, message: str):
        super().__init__(message, status=400, code="token_invalid", field="t")


def sign(claims: dict[str, Any], key: str, ttl_seconds: int, *, now: float | None = None) -> str:
    """A token carrying `claims`, valid for `ttl_seconds`."""
    if not key:
        raise ValueError("a signing key is needed")
    payload = dict(claims, exp=int((now if now is not None else time.time()) + ttl_seconds))
    # The MAC covers the transmitted base64 text, never a re-serialisation of the claims.
    body = _b64(canonical_json(payload).encode())
    return f"{body}.{_mac(key, body)}"


def verify(token: object, key: str, *, now: float | None = None) -> dict[str, Any]:
    """The claims of a token made by `sign` with `key`, or TokenError."""
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 4096:
        raise TokenError(N_("This link is not valid."))
    body, mac = token.split(".")
    try:
        expected = _mac(key, body)
    except UnicodeEncodeError:       # a lone surrogate from a damaged link
        raise TokenError(N_("This link is not valid.")) from None
    # Bytes: compare_digest raises TypeError on text that is not ASCII.
    if not hmac.compare_digest(mac.encode("utf-8", "surrogatepass"), expected.encode()):
        raise TokenError(N_("This link is not valid."))
    try:
        claims = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        raise TokenError(N_("This link is not valid.")) from None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
        raise TokenError(N_("This link is not valid."))
    if claims["exp"] < (now if now is not None else time.time()):
        raise TokenError(N_("This link has expired."))
    return claims
