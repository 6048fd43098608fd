"""ranking on the screens: options put in order (kiosk), the options by Borda points
(projector and figures). Not counted by hand."""
from app.formatting import number
from app.model import localized
from screens.kinds.base import ScreenKind
from screens.projector.ranking import PjRankingView
from screens.vote_ranking import RankingBody


class RankingScreens(ScreenKind):
    name = "ranking"
    body = RankingBody
    projector_view = PjRankingView

    def summary(self, consultation, question, result, lang, _):
        return " › ".join(f"{localized(question.option(o).label, lang)} "
                          f"({number(result.points[o], lang)})" for o in result.order)


KIND = RankingScreens()
