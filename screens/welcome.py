"""The kiosk's welcome screen: the consultation's title, image and themes, and the language
buttons (each written in its own language)."""
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from app.i18n import LANGUAGE_NAMES
from screens import load_kv
from screens.widgets import Chip


class WelcomeScreen(Screen):
    consultation = ObjectProperty(None, allownone=True)
    cover_source = StringProperty("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(consultation=self._refresh)
        from screens.i18n import tr
        tr.bind(lang=self._refresh)
        self._refresh()

    def language_names(self):
        langs = self.consultation.languages if self.consultation else tuple(LANGUAGE_NAMES)
        return [(lang, LANGUAGE_NAMES[lang]) for lang in langs]

    def choose_language(self, lang):
        from screens.i18n import tr
        tr.lang = lang

    def _refresh(self, *_args):
        from screens.i18n import tr
        box = self.ids.get("themes")
        if box is None or self.consultation is None:
            return
        box.clear_widgets()
        for theme_ in self.consultation.themes:
            box.add_widget(Chip(text=tr.loc(theme_.title)))
        languages = self.ids.languages
        languages.clear_widgets()
        from screens.widgets import RoundedButton
        from screens.theme import theme
        for lang, name in self.language_names():
            selected = lang == tr.lang
            button = RoundedButton(text=name, size_hint_x=None,
                                   width=max(theme.touch * 3.2, 170))
            # Set after the kv rule has applied its defaults.
            button.background = theme.colours["primary" if selected else "surface"]
            button.foreground = theme.colours["on_primary" if selected else "primary"]
            button.bind(on_release=lambda _b, lang=lang: self.choose_language(lang))
            languages.add_widget(button)


load_kv(__file__)
