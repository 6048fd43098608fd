"""What every page of facilitator mode is: a Screen of the shell's page manager, with a nav
title, that owns its state and shows it again in `refresh`. The shell (screen.py) calls
`opened` when the page comes on screen and `closed` when it leaves it (another page chosen, or
facilitator mode left); in between, `refresh` when the language changes."""
from kivy.properties import ObjectProperty
from kivy.uix.screenmanager import Screen

from screens import load_kv


class FacilitatorPage(Screen):
    page_name = ""       # its Screen name and nav key, e.g. "session"
    title = ""           # the msgid of its nav button (marked with N_)
    shell = ObjectProperty(None, allownone=True)     # the FacilitatorScreen showing it

    @property
    def session(self):
        return self.shell.session                     # app.kiosk.KioskSession

    @property
    def settings(self):
        return self.session.settings

    @property
    def store(self):
        return self.session.store

    @property
    def consultation(self):
        return self.session.consultation

    def refresh(self, *_args) -> None:
        """Show the current state of what the page is about."""

    def opened(self) -> None:
        """The page came on screen."""
        self.refresh()

    def closed(self) -> None:
        """The page left the screen: stop whatever runs for it (timers, a camera)."""


load_kv(__file__)
