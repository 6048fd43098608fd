"""Interface strings through gettext. Catalogs live in `locales/<lang>/LC_MESSAGES/piazzetta.po`
and are compiled to `.mo` by the set-up (`make catalogs`). The Kivy side (screens/i18n.py) wraps
`Catalogs` in an object whose language switches live."""
from __future__ import annotations

import gettext as _gettext
from functools import lru_cache
from typing import Callable

from .errors import N_  # noqa: F401  (re-exported: the marker for deferred strings)
from .model import LANGUAGES
from .paths import LOCALE_DIR

DOMAIN = "piazzetta"
DEFAULT_LANGUAGE = "fr"

# Each language's name written in that language, for the language buttons.
LANGUAGE_NAMES = {"fr": "Français", "it": "Italiano", "en": "English"}


@lru_cache(maxsize=None)
def translation(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog for `lang` (English msgids are the source language)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language: {lang}")
    return _gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang],
                                fallback=(lang == "en"))


def gettext_for(lang: str) -> Callable[[str], str]:
    """A `_` function for `lang`."""
    return translation(lang).gettext


def ngettext_for(lang: str) -> Callable[[str, str, int], str]:
    return translation(lang).ngettext
