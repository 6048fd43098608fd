"""The display page: text size, high contrast, read aloud, the reset after inactivity and the
on-screen keyboard of this tablet, applied at once by the kiosk (`settings_changed`) and kept.
They are the tablet's defaults: a resident may change the first three for themself (the
display and voice panel, screens/resident_panel.py) until the next resident."""
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from app.errors import N_
from app.kiosk import IDLE_TIMEOUT_MAX, IDLE_TIMEOUT_MIN
from screens import load_kv
from screens.facilitator.page import FacilitatorPage


class DisplayPage(FacilitatorPage):
    page_name = "display"
    title = N_("Display")
    idle_timeout = NumericProperty(60)
    onscreen_keyboard = BooleanProperty(False)
    read_aloud = StringProperty("off")

    def refresh(self, *_args):
        self.idle_timeout = self.settings.idle_timeout
        self.onscreen_keyboard = self.settings.onscreen_keyboard
        self.read_aloud = self.settings.read_aloud

    def set_text_size(self, size):
        self.settings.text_size = size
        self.shell.settings_changed()

    def set_read_aloud(self, mode):
        self.settings.read_aloud = mode
        self.read_aloud = mode
        self.shell.settings_changed()

    def set_high_contrast(self, value):
        self.settings.high_contrast = value
        self.shell.settings_changed()

    def change_idle(self, delta):
        value = min(IDLE_TIMEOUT_MAX, max(IDLE_TIMEOUT_MIN, self.settings.idle_timeout + delta))
        self.settings.idle_timeout = value
        self.idle_timeout = value
        self.shell.settings_changed()

    def set_onscreen_keyboard(self, value):
        self.settings.onscreen_keyboard = value
        self.onscreen_keyboard = value
        self.shell.settings_changed()


load_kv(__file__)
