"""The question kinds on the screens' side, each declared once in a module of this package
(screens/kinds/<kind>.py): kiosk body, projector view, facilitator figures and count fields.
The question screen, the projector and the facilitator's pages read `SCREEN_KINDS`; it declares
the same kinds as the domain's registry (app/kinds/), which tests/unit/test_kinds_registry.py
checks."""
from __future__ import annotations

import importlib
import pkgutil

from app.kinds import KINDS
from .base import ScreenKind

_NOT_KINDS = {"base"}


def _declared() -> dict[str, ScreenKind]:
    found = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name in _NOT_KINDS or module.name.startswith("_"):
            continue
        kind = importlib.import_module(f"{__name__}.{module.name}").KIND
        found[kind.name] = kind
    # In the domain's order; a kind the domain does not declare is left last, for the
    # registry test to name.
    return {name: found[name] for name in [*KINDS, *sorted(set(found) - set(KINDS))]
            if name in found}


SCREEN_KINDS: dict[str, ScreenKind] = _declared()


def screens_of(question) -> ScreenKind:
    """The screens' declaration of `question`'s kind."""
    return SCREEN_KINDS[question.kind]


__all__ = ["SCREEN_KINDS", "ScreenKind", "screens_of"]
