"""The Kivy application: builds the screens for a role and wires them to the services."""
from kivy.app import App
from kivy.core.window import Window

import screens.widgets  # noqa: F401  (registers the shared kv rules before any screen)
from screens.i18n import tr
from screens.theme import theme


class PiazzettaApp(App):
    """`role` is kiosk, facilitator or projector; the services come from main.py.

    `projector_factory(app)`, when given, builds the projector's root widget: the projector
    screens belong to another part of the program, which main.py plugs in here.
    """

    def __init__(self, *, role, consultation, store, bundle_dir, lang, sync=None,
                 sync_factory=None, projector_factory=None, **kwargs):
        super().__init__(**kwargs)
        self.role = role
        self.consultation = consultation
        self.store = store
        self.bundle_dir = bundle_dir
        self.sync = sync
        self.sync_factory = sync_factory   # called after the first frame: a faster start
        self.default_lang = lang
        self.projector_factory = projector_factory
        self.kiosk = None
        self._quitting = False
        tr.lang = lang
        self.title = "Piazzetta"

    def build(self):
        Window.clearcolor = theme.colours["background"]
        if self.role == "projector":
            if self.projector_factory is not None:
                return self.projector_factory(self)
            from kivy.uix.label import Label
            return Label(text=tr._("The projector screen is not available in this build."),
                         color=theme.colours["text"], font_size=theme.font_heading)
        from app.kiosk import KioskSession, KioskSettings
        from app.security import FacilitatorPin
        from screens.kiosk import KioskRoot
        session = KioskSession(self.store, self.consultation,
                               settings=KioskSettings(self.store))
        self.kiosk = KioskRoot(session=session, pin=FacilitatorPin(self.store), sync=self.sync,
                               bundle_dir=str(self.bundle_dir), role=self.role,
                               default_lang=self.default_lang, on_quit=self.quit)
        if self.role == "kiosk":
            # Closing the window is one more way out of the kiosk: only through the PIN.
            Window.bind(on_request_close=lambda *_a: not self._quitting)
        return self.kiosk

    def on_start(self):
        if self.sync is None and self.sync_factory is not None and self.kiosk is not None:
            from kivy.clock import Clock
            Clock.schedule_once(self._start_sync, 1.0)

    def _start_sync(self, _dt):
        self.sync = self.sync_factory()
        if self.sync is not None and self.kiosk is not None:
            self.kiosk.set_sync(self.sync)

    def quit(self):
        self._quitting = True
        self.stop()

    def on_stop(self):
        if self.kiosk is not None:
            self.kiosk.dispose()
        if self.sync is not None:
            try:
                self.sync.stop()
            except Exception:
                pass
