"""What one resident chose for themself in the display and voice panel (screens/
resident_panel.py): read aloud, easy read, the volume. Text size and contrast are the theme's
(screens/theme.py). Everything goes back to the tablet's defaults, which the facilitator
chooses, when the next resident comes (the thanks screen's end, the idle reset), as voting
machines reset their settings after each voter."""
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, NumericProperty, OptionProperty

from app.kiosk import READ_ALOUD_MODES
VOLUME_DEFAULT = 0.8
VOLUME_STEP = 0.2


class ResidentChoices(EventDispatcher):
    read_aloud = OptionProperty("off", options=list(READ_ALOUD_MODES))
    easy_read = BooleanProperty(False)
    volume = NumericProperty(VOLUME_DEFAULT)

    def reset(self, read_aloud: str = "off") -> None:
        """Back to the tablet's defaults (`read_aloud`: the facilitator's choice)."""
        self.read_aloud = read_aloud
        self.easy_read = False
        self.volume = VOLUME_DEFAULT

    def change_volume(self, steps: int) -> None:
        self.volume = round(min(1.0, max(0.2, self.volume + steps * VOLUME_STEP)), 2)
