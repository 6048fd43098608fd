"""Participation: the number of contributions (ballots and ideas) in very large type against
the consultation's goal, with a bar toward the goal; beside it, when the projector knows a
sign-up link, its QR as large as the screen allows (scanned from the back of the room)."""
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

import screens.widgets.qr  # noqa: F401  (QRImage)
from app.formatting import number
from screens import load_kv
from screens.projector.base import PjResultView, set_fraction


class PjBigFigure(BoxLayout):
    figure = StringProperty("")
    word = StringProperty("")
    goal = StringProperty("")
    breakdown = StringProperty("")


class PjSignupPanel(BoxLayout):
    """The sign-up QR and what it is for; nothing at all without a link."""
    url = StringProperty("")
    caption = StringProperty("")


class PjParticipationView(PjResultView):

    def build(self, body):
        self.prompt = self._("Participation", sep="\n")
        row = BoxLayout(orientation="horizontal")
        self.big = PjBigFigure()
        row.add_widget(self.big)
        self.signup = PjSignupPanel(url=self.signup_url, caption=self._(
            "Stay involved: scan to sign up with your phone", sep="\n"))
        self.fbind("signup_url", self._signup_changed)
        row.add_widget(self.signup)
        body.add_widget(row)

    def _signup_changed(self, _view, url):
        self.signup.url = url

    def update(self, result, animate):
        lang = self.lang
        total = int(result.get("contributions") or 0)
        goal = int(self.consultation.goal or 0)
        big = self.big
        big.figure = number(total, lang)
        big.word = self.ngettext("contribution", "contributions", total, sep=" / ")
        big.goal = (self._("Goal reached: {goal}", sep="\n", goal=number(goal, lang))
                    if total >= goal else self._("Goal: {goal}", sep="\n",
                                                 goal=number(goal, lang))) if goal else ""
        ballots, ideas = int(result.get("ballots") or 0), int(result.get("ideas") or 0)
        big.breakdown = self.compose(lambda lang, _, ngettext: " · ".join((
            ngettext("{n} participant", "{n} participants", ballots).format(
                n=number(ballots, lang)),
            ngettext("{n} idea", "{n} ideas", ideas).format(n=number(ideas, lang)))))
        set_fraction(big.ids.goal_bar, total / goal if goal else 0, animate)


load_kv(__file__)
