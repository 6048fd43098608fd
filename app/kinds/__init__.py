"""The question kinds, each declared once in a module of this package (app/kinds/<kind>.py):
its bundle fields, answer validation, tally and result type, and paper counts. Every dispatch
on a question's kind in app/ and server/ reads `KINDS`; the screens' own registry
(screens/kinds/) declares the same kinds. Adding a kind is adding a module here (and one in
screens/kinds/): tests/unit/test_kinds_registry.py checks that every part is there."""
from __future__ import annotations

import importlib
import pkgutil

from .base import Kind, MalformedResult, Result, Tally

_NOT_KINDS = {"base"}


def _declared() -> dict[str, Kind]:
    found = []
    for module in pkgutil.iter_modules(__path__):
        if module.name in _NOT_KINDS or module.name.startswith("_"):
            continue
        found.append(importlib.import_module(f"{__name__}.{module.name}").KIND)
    return {kind.name: kind for kind in sorted(found, key=lambda k: (k.order, k.name))}


KINDS: dict[str, Kind] = _declared()
QUESTION_KINDS: tuple[str, ...] = tuple(KINDS)
COUNTABLE_KINDS: tuple[str, ...] = tuple(name for name, kind in KINDS.items() if kind.countable)


def kind_of(question) -> Kind:
    """The declaration of `question`'s kind (KeyError for a kind no module declares)."""
    return KINDS[question.kind]


def typed_result(question, data: dict | None, consultation=None) -> Result:
    """A result as JSON (the hub's, or Store.results') read into its kind's declared type;
    None — no results yet — is the result of no answer at all (needs `consultation`).
    A missing or renamed field raises MalformedResult."""
    kind = kind_of(question)
    if data is None:
        return kind.empty_result(consultation, question)
    return kind.result.from_json(data)


__all__ = ["COUNTABLE_KINDS", "KINDS", "Kind", "MalformedResult", "QUESTION_KINDS", "Result", "Tally", "kind_of",
           "typed_result"]
