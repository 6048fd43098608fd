"""yes_no on the screens: three buttons (kiosk), three bars (projector), the three counts
(figures and counts)."""
from app.errors import N_
from app.formatting import number
from app.model import YES_NO
from screens.kinds.base import ScreenKind
from screens.projector.yes_no import PjYesNoView
from screens.vote_yes_no import YesNoBody

ANSWER_NAMES = {"yes": N_("Yes"), "no": N_("No"), "abstain": N_("Abstain")}


class YesNoScreens(ScreenKind):
    name = "yes_no"
    body = YesNoBody
    projector_view = PjYesNoView

    def summary(self, consultation, question, result, lang, _):
        return _("Yes {yes} · No {no} · Abstain {abstain}").format(
            **{answer: number(count, lang) for answer, count in result.counts.items()})

    def count_fields(self, consultation, question, lang, _):
        return [(None, [((value,), _(ANSWER_NAMES[value])) for value in YES_NO])]


KIND = YesNoScreens()
