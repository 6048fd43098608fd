"""The Kivy application: builds the screens for a role and wires them to the services."""
import os

from kivy.app import App
from kivy.core.window import Window

import screens.widgets  # noqa: F401  (registers the shared kv rules before any screen)
from screens.widgets import FittedImage
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
        self._hold = None               # the bundle folder the screens read (app/bundle_folders)
        tr.lang = lang
        self.title = "Piazzetta"

    def build(self):
        Window.clearcolor = theme.colours["background"]
        self._read_from(self.bundle_dir)
        # Pictures shown smaller than their files are kept scaled to that size between starts
        # (screens.widgets.FittedImage): public content, beside the store.
        FittedImage.copies = os.path.join(os.path.dirname(self.store.path), "cache", "pictures")
        if self.role == "projector":
            if self.projector_factory is not None:
                return self.projector_factory(self)
            from kivy.uix.label import Label
            return Label(text=tr._("The projector screen is not available in this build."),
                         color=theme.colours["text"], font_size=theme.font_heading)
        self.kiosk = self._make_kiosk()
        if self.role == "kiosk":
            # Closing the window is one more way out of the kiosk: only through the PIN.
            Window.bind(on_request_close=lambda *_a: not self._quitting)
        return self.kiosk

    def _make_kiosk(self):
        from app.kiosk import KioskSession, KioskSettings
        from app.security import FacilitatorPin
        from screens.kiosk import KioskRoot
        session = KioskSession(self.store, self.consultation,
                               settings=KioskSettings(self.store))
        return KioskRoot(session=session, pin=FacilitatorPin(self.store), sync=self.sync,
                         bundle_dir=str(self.bundle_dir), role=self.role,
                         default_lang=self.default_lang, on_quit=self.quit,
                         catalogue=self)

    # -- the consultations this tablet holds (the facilitator chooses one) -------------------

    def installed(self):
        """(consultation, bundle folder) for the demo and every bundle pulled from the hub."""
        from pathlib import Path

        from app.bundle import installed_bundles
        return installed_bundles(Path(self.store.path).parent)

    def switch(self, consultation_id):
        """Show another consultation: remembered for the next start, and the kiosk rebuilt
        around it at once (back on the facilitator screen). The same consultation in another
        version is rebuilt too. False when it is not installed."""
        from app.kiosk import KioskSettings
        found = next(((c, f) for c, f in self.installed() if c.id == consultation_id), None)
        if found is None:
            return False
        KioskSettings(self.store).consultation_id = consultation_id
        if consultation_id == self.consultation.id \
                and found[0].version == self.consultation.version:
            return True
        self._rebuild(found, then="facilitator")  # the PIN was given for the old root
        return True

    def _read_from(self, folder):
        """The screens read their images from `folder` now: sync replaces it only between
        residents (app/bundle_folders.py); the folder read before is let go."""
        from pathlib import Path

        from app.bundle_folders import Hold
        if self._hold is not None and self._hold.active \
                and self._hold.folder == Path(folder).resolve():
            return
        # A kiosk's hold holds back another process on the data folder too (a projector
        # beside it); a projector's holds back no kiosk.
        old, self._hold = self._hold, Hold(folder, across_processes=self.role != "projector")
        if old is not None:
            old.release()

    @staticmethod
    def _forget_images():
        """A new version may hold other pictures under the same paths: Kivy's image caches
        (kept by file name for a minute) must not show the old ones."""
        from kivy.cache import Cache
        Cache.remove("kv.image")
        Cache.remove("kv.texture")

    def _rebuild(self, found, then=None):
        old = self.kiosk
        old.session.abandon()           # a ballot left open still counts (close_ballot)
        self.consultation, self.bundle_dir = found
        self._read_from(self.bundle_dir)
        self._forget_images()
        self.kiosk = self._make_kiosk()
        old.dispose()
        Window.remove_widget(old)
        self.root = self.kiosk
        Window.add_widget(self.kiosk)
        if then is not None:
            self.kiosk.go(then)

    # -- new versions pulled by sync (issue 26) ----------------------------------------------

    def content_arrived(self, consultation_ids):
        """Sync installed new bundles for these consultations: called in the sync worker's
        thread (main.py wires it as the service's `on_content`); the screens follow on the UI
        thread."""
        from kivy.clock import Clock
        ids = list(consultation_ids)
        Clock.schedule_once(lambda _dt: self.new_content(ids), 0)

    def new_content(self, consultation_ids):
        """On the UI thread: a new version of the consultation on screen reaches it — on the
        projector at once, on a kiosk between two residents (a resident who started on one
        version finishes on it)."""
        if self.consultation.id not in consultation_ids:
            return
        if self.role == "projector":
            self.reload()
        elif self.kiosk is not None:
            self.kiosk.when_between_residents(self.reload)

    def reload(self):
        """Show the installed version of the consultation on screen when it is another one
        than the running one; True when it changed. A version waiting for this screen to let
        go of the folder it reads takes its place first — on a kiosk only between two
        residents."""
        if self.role != "projector" and self.kiosk is not None \
                and not self.kiosk.between_residents():   # a resident came meanwhile
            self.kiosk.when_between_residents(self.reload)
            return False
        if self._hold is not None:
            from app.bundle_folders import swap_waiting
            swap_waiting(self.bundle_dir, mine=self._hold)
        found = next(((c, f) for c, f in self.installed() if c.id == self.consultation.id),
                     None)
        if found is None or found[0].version == self.consultation.version:
            return False
        if self.role == "projector":
            self.consultation, self.bundle_dir = found
            self._read_from(self.bundle_dir)
            self._forget_images()
            projector = getattr(self, "projector", None)
            if projector is not None:
                projector.reload(*found)
            return True
        if self.kiosk is None:
            return False
        self._rebuild(found, then=self.kiosk.manager.current)
        return True

    def on_start(self):
        if self.sync is None and self.sync_factory is not None \
                and (self.kiosk is not None or self.role == "projector"):
            from kivy.clock import Clock
            # A second after the first frame's tick (the clock's time before the loop runs
            # can be that of the imports): the worker's imports never hold that frame back.
            Clock.schedule_once(
                lambda _dt: Clock.schedule_once(self._start_sync, 1.0), 0)

    def _start_sync(self, _dt):
        self.sync = self.sync_factory()
        if self.sync is not None and self.kiosk is not None:
            self.kiosk.set_sync(self.sync)

    def quit(self):
        self._quitting = True
        self.stop()

    def on_stop(self):
        if self._hold is not None:
            self._hold.release()
        if self.kiosk is not None:
            self.kiosk.dispose()
        if self.sync is not None:
            try:
                self.sync.stop()
            except Exception:
                pass
