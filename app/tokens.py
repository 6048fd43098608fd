"""The primitives of signed links, shared by the tablet (sign-up links it mints offline) and the
hub (its own signed links): URL-safe base64 without padding, and HMAC-SHA256 over text."""
from __future__ import annotations

import base64
import hashlib
import hmac


def b64url(data: bytes) -> str:
    """URL-safe base64 without the `=` padding (shorter links, nothing to escape)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """The inverse of `b64url`; raises ValueError on text that is not base64."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hmac_b64(key: str, body: str) -> str:
    """HMAC-SHA256 of `body` under `key`, as `b64url`."""
    return b64url(hmac.new(key.encode(), body.encode(), hashlib.sha256).digest())
