"""choice on the screens: option cards (kiosk), a bar per option (projector), the options by
votes (figures), a number per option and the ballots when several are ticked (counts)."""
from app.formatting import number
from app.model import localized
from screens.kinds.base import ScreenKind
from screens.projector.choice import PjChoiceView
from screens.vote_choice import ChoiceBody


class ChoiceScreens(ScreenKind):
    name = "choice"
    body = ChoiceBody
    projector_view = PjChoiceView

    def summary(self, consultation, question, result, lang, _):
        return " · ".join(f"{localized(question.option(o).label, lang)} "
                          f"{number(result.counts[o], lang)}" for o in result.order)

    def count_fields(self, consultation, question, lang, _):
        return [(None, [((o.id,), localized(o.label, lang)) for o in question.options])]

    def asks_ballots(self, question):
        return question.multiple


KIND = ChoiceScreens()
