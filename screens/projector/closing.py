"""The meeting's closing record on the projector (issue 30): its QR, as large as the screen
allows, with what it is for, in place of every view until the control that set it is cleared
(app/display.py, `closing`). Scanned, it opens the record's public page, which verifies it."""
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

import screens.widgets.qr  # noqa: F401  (QRImage)
from screens import load_kv


class PjClosingPanel(BoxLayout):
    """The closing record's QR, a title above it and a line under it."""
    url = StringProperty("")
    title = StringProperty("")
    caption = StringProperty("")


load_kv(__file__)
