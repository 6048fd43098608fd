"""budget on the screens: amounts shared among projects (kiosk), the average given against the
cost, funded or not (projector), the amount allocated per project (figures). Not counted by
hand."""
from app.formatting import money
from app.model import localized
from screens.kinds.base import ScreenKind
from screens.projector.budget import PjBudgetView
from screens.vote_budget import BudgetBody


class BudgetScreens(ScreenKind):
    name = "budget"
    body = BudgetBody
    projector_view = PjBudgetView

    def summary(self, consultation, question, result, lang, _):
        return "\n".join(
            _("{project}: {amount}").format(
                project=localized(consultation.project(p).title, lang),
                amount=money(result.projects[p].allocated, lang, question.currency))
            for p in result.order)


KIND = BudgetScreens()
