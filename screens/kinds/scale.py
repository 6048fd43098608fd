"""scale on the screens: five buttons (kiosk), a histogram with the median (projector), the
mean (figures), five numbers (counts)."""
from app.formatting import decimal, number
from app.i18n import ngettext_for
from app.kinds.scale import scale_label
from screens.kinds.base import ScreenKind
from screens.projector.scale import PjScaleView
from screens.vote_scale import ScaleBody


class ScaleScreens(ScreenKind):
    name = "scale"
    body = ScaleBody
    projector_view = PjScaleView

    def summary(self, consultation, question, result, lang, _):
        ngettext = ngettext_for(lang)
        answers = ngettext("{n} answer", "{n} answers", result.total).format(
            n=number(result.total, lang))
        return _("Mean {mean} out of 5 over {answers}").format(
            mean="–" if result.mean is None else decimal(result.mean, lang), answers=answers)

    def count_fields(self, consultation, question, lang, _):
        return [(None, [((str(v),), f"{v} — {scale_label(question, v, lang, _)}")
                         for v in range(1, 6)])]


KIND = ScaleScreens()
