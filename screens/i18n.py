"""The live translator: kv rules bind `text: tr._("Vote")`; setting `tr.lang` gives `_` a new
function, which redraws every label bound to it."""
import weakref

from kivy.event import EventDispatcher
from kivy.lang import global_idmap
from kivy.properties import ObjectProperty, OptionProperty

from app.errors import N_
from app.i18n import DEFAULT_LANGUAGE, gettext_for, ngettext_for
from app.model import LANGUAGES, localized


class LiveTranslator(EventDispatcher):
    lang = OptionProperty(DEFAULT_LANGUAGE, options=list(LANGUAGES))
    _ = ObjectProperty(None)
    ngettext = ObjectProperty(None)
    # `loc(text_map)` picks a content string (title, option…) in the current language.
    loc = ObjectProperty(None)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_lang(self, self.lang)

    def on_lang(self, _instance, lang):
        gettext = gettext_for(lang)
        self._ = lambda message: gettext(message)
        self.ngettext = ngettext_for(lang)
        self.loc = lambda text: localized(text, lang)


tr = LiveTranslator()
global_idmap["tr"] = tr

STORAGE_FAILED = N_("This tablet's storage could not be read or written (full, or faulty). "
                    "What was saved before is kept; try again.")
NETWORK_FAILED = N_("The connection failed. Check the network and try again.")


def failure_words(exc) -> str:
    """What went wrong, in the reader's language: a domain error says it itself; a storage or
    a network failure is named in words (never the raw "disk I/O error")."""
    import sqlite3
    from app.errors import DomainError
    if isinstance(exc, DomainError):
        return exc.describe(tr._)
    if isinstance(exc, sqlite3.Error):
        return tr._(STORAGE_FAILED)
    if isinstance(exc, OSError):
        return tr._(NETWORK_FAILED)
    return str(exc) or exc.__class__.__name__


class _LiveText:
    """One property of one widget that shows a message made by `make()` (e.g. a DomainError
    described with tr._), made again at every change of language. Setting the property to
    anything else (clearing an error) lets the message go."""

    def __init__(self, widget, name):
        self.widget = weakref.ref(widget)
        self.name = name
        self.make = None
        self.rendered = None
        widget.fbind(name, self._changed)
        tr.bind(lang=self._relang)

    def show(self, make):
        widget = self.widget()
        if widget is None:
            return
        self.make = make
        self.rendered = make()
        setattr(widget, self.name, self.rendered)

    def _changed(self, _widget, value):
        if self.make is not None and value != self.rendered:
            self.make = None

    def _relang(self, *_args):
        widget = self.widget()
        if widget is not None and self.make is not None:
            self.rendered = self.make()
            setattr(widget, self.name, self.rendered)


def say(widget, name: str, make) -> None:
    """Show `make()` in `widget.<name>` now, and again in the new language whenever the
    language changes, until something else is put there. E.g.
    `say(self, "error", lambda exc=exc: exc.describe(tr._))`: a refusal shown in French
    reads in Italian once the resident switches."""
    from kivy.weakproxy import WeakProxy
    if isinstance(widget, WeakProxy):       # e.g. from self.ids
        widget = widget.__ref__()
    lives = widget.__dict__.setdefault("_live_texts", {})
    live = lives.get(name)
    if live is None:
        live = lives[name] = _LiveText(widget, name)
    live.show(make)
