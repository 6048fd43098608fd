"""The display and voice panel a resident opens alone, from the welcome screen and every
question (no PIN): larger text, high contrast, read aloud (on request, or what is touched)
and its volume. Built when first opened; what it sets lasts until the next resident."""
from kivy.properties import ObjectProperty
from kivy.uix.modalview import ModalView

from screens import load_kv


class ResidentPanel(ModalView):
    kiosk = ObjectProperty(None, allownone=True)      # the KioskRoot
    choices = ObjectProperty(None, allownone=True)    # its ResidentChoices

    def on_touch_down(self, touch):
        if self.kiosk is not None:
            self.kiosk.poke()       # someone is there: no idle prompt over the panel
        return super().on_touch_down(touch)

    def set_text_size(self, size):
        self.kiosk.resident_display(text_size=size)

    def set_high_contrast(self, value):
        self.kiosk.resident_display(high_contrast=value)

    def set_read_aloud(self, mode):
        self.choices.read_aloud = mode

    def set_easy_read(self, value):
        self.choices.easy_read = value

    def change_volume(self, steps):
        self.choices.change_volume(steps)

    def close(self):
        self.dismiss(animation=False)
        self.kiosk.settling()


load_kv(__file__)
