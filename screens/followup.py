"""What the thanks screen (and the projector) show for staying involved: the sign-up QR (a link
to the hub, signed offline by this tablet) and, after an idea, its receipt QR and short code.
Either part is left out when there is nothing to show (a tablet not enrolled shows no sign-up
QR, and says nothing about it)."""
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

import screens.widgets.qr  # noqa: F401  (the QRImage rule)
from screens import load_kv


class FollowUpPanel(BoxLayout):
    signup_url = StringProperty("")
    idea_url = StringProperty("")
    idea_code = StringProperty("")


load_kv(__file__)
