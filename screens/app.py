"""The Kivy application: builds the screens for a role and wires them to the services."""
from kivy.app import App
from kivy.core.window import Window
from kivy.uix.screenmanager import FadeTransition, ScreenManager

import screens.widgets  # noqa: F401  (registers the shared kv rules before any screen)
from screens.i18n import tr
from screens.theme import theme
from screens.welcome import WelcomeScreen


class PiazzettaApp(App):
    """`role` is kiosk, facilitator or projector; `consultation` and `store` come from main.py."""

    def __init__(self, *, role, consultation, store, bundle_dir, lang, **kwargs):
        super().__init__(**kwargs)
        self.role = role
        self.consultation = consultation
        self.store = store
        self.bundle_dir = bundle_dir
        tr.lang = lang
        self.title = "Piazzetta"

    def build(self):
        Window.clearcolor = theme.colours["background"]
        manager = ScreenManager(transition=FadeTransition(duration=0.15))
        cover = self.bundle_dir / self.consultation.image if self.consultation.image else None
        manager.add_widget(WelcomeScreen(name="welcome", consultation=self.consultation,
                                         cover_source=str(cover) if cover else ""))
        return manager
