"""What the thanks screen shows for staying involved: the sign-up QR (a link to the hub, signed
offline by this tablet) and, after an idea, its receipt QR with its short code. A part is left
out when there is nothing to show: a tablet not enrolled shows no sign-up QR and says nothing
about it; an idea without a hub to link to shows its short code alone, to follow it here."""
from kivy.metrics import dp
from kivy.properties import AliasProperty, NumericProperty, StringProperty

import screens.widgets.qr  # noqa: F401  (the QRImage rule)
from screens.widgets import CollapsingBox
from screens import load_kv


class FollowUpPanel(CollapsingBox):
    signup_url = StringProperty("")
    idea_url = StringProperty("")
    idea_code = StringProperty("")
    qr_side = NumericProperty(dp(250))     # ≥ 220 px at 1280×800: phones read it at arm's length

    def _has_content(self):
        return bool(self.signup_url or self.idea_code)

    has_content = AliasProperty(_has_content, bind=("signup_url", "idea_code"), cache=True)


load_kv(__file__)
