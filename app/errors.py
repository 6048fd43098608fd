"""Domain errors: each carries an untranslated message (a gettext msgid), the field at fault,
and the values its placeholders take. The screen or the hub translates it for the reader."""
from __future__ import annotations

from typing import Any, Callable


def N_(message: str) -> str:
    """Marks a msgid for extraction without translating it yet."""
    return message


class DomainError(Exception):
    """A rule of the domain refused something; nothing was written."""

    def __init__(self, message: str, field: str | None = None, **params: Any):
        self.message = message
        self.field = field
        self.params = params
        super().__init__(self.describe())

    def describe(self, gettext: Callable[[str], str] | None = None) -> str:
        """The message in the reader's language (English msgid when no gettext is given)."""
        template = gettext(self.message) if gettext else self.message
        try:
            return template.format(**self.params)
        except (KeyError, IndexError, ValueError):
            return template

    def as_dict(self, gettext: Callable[[str], str] | None = None) -> dict:
        return {"field": self.field, "message": self.describe(gettext), "code": self.message}


class ValidationError(DomainError):
    """An answer, an idea or a sign-up that breaks its question's or form's rules."""


class BundleError(DomainError):
    """A consultation bundle that cannot be loaded; names the file and the field."""

    def __init__(self, message: str, file: str, field: str | None = None, **params: Any):
        self.file = file
        super().__init__(message, field, **params)

    def describe(self, gettext: Callable[[str], str] | None = None) -> str:
        text = super().describe(gettext)
        where = self.file + (f" [{self.field}]" if self.field else "")
        return f"{where}: {text}"


class StoreError(DomainError):
    """The local store refused an operation (unknown ballot, closed ballot…)."""
