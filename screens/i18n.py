"""The live translator: kv rules bind `text: tr._("Vote")`; setting `tr.lang` gives `_` a new
function, which redraws every label bound to it."""
from kivy.event import EventDispatcher
from kivy.lang import global_idmap
from kivy.properties import ObjectProperty, OptionProperty

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
