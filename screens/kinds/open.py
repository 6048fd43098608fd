"""open on the screens: a text field (kiosk), a word cloud (projector), the answers and the
words they share (figures). Not counted by hand."""
from app.formatting import number
from app.i18n import ngettext_for
from screens.kinds.base import ScreenKind
from screens.projector.open_answers import PjOpenAnswersView
from screens.vote_open import OpenBody


class OpenScreens(ScreenKind):
    name = "open"
    body = OpenBody
    projector_view = PjOpenAnswersView

    def summary(self, consultation, question, result, lang, _):
        ngettext = ngettext_for(lang)
        answers = ngettext("{n} answer", "{n} answers", result.total).format(
            n=number(result.total, lang))
        words = ", ".join(w for w, _n in result.words[:8])
        return answers + (f" — {words}" if words else "")


KIND = OpenScreens()
