"""Errors the hub answers with: a stable code, an English msgid translated for the reader, and
the HTTP status. Raised by server.hub, turned into JSON by server.api, printed by the CLI."""
from __future__ import annotations

from typing import Any

from app.errors import N_, DomainError  # noqa: F401


class HubError(DomainError):
    """A request the hub refuses; nothing was changed."""

    def __init__(self, message: str, *, status: int = 400, code: str | None = None,
                 field: str | None = None, details: dict | None = None,
                 headers: dict | None = None, **params: Any):
        self.status = status
        self.headers = headers      # HTTP headers the answer carries (Retry-After)
        self.code = code or message
        self.details = details      # machine-readable extras (e.g. the IDs a code names)
        super().__init__(message, field, **params)

    def as_dict(self, gettext=None) -> dict:
        body = {"code": self.code, "message": self.describe(gettext), "field": self.field}
        if self.details:
            body["details"] = self.details
        return body


class AuthError(HubError):
    def __init__(self, message: str, code: str):
        super().__init__(message, status=401, code=code)


class EventRejected(Exception):
    """One event the hub cannot accept; the rest of its batch goes on. `code` is a stable
    machine word for the acknowledgement (the English msgid when not given)."""

    def __init__(self, message: str, field: str | None = None, *, code: str | None = None,
                 **params: Any):
        self.error = DomainError(message, field, **params)
        self.code = code or message
        super().__init__(self.error.describe())
