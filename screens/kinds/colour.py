"""colour on the screens: a colour per project (kiosk), stacked bars per project (projector),
green · orange · red per project (figures), three numbers per project (counts)."""
from app.errors import N_
from app.formatting import number
from app.model import COLOURS, localized
from screens.kinds.base import ScreenKind
from screens.projector.colour import PjColourView
from screens.vote_colour import ColourBody

COLOUR_NAMES = {"green": N_("In favour"), "orange": N_("Needs rework"), "red": N_("Against")}


class ColourScreens(ScreenKind):
    name = "colour"
    body = ColourBody
    projector_view = PjColourView

    def summary(self, consultation, question, result, lang, _):
        lines = []
        for project in consultation.projects_of(question):
            figures = result.projects.get(project.id)    # a project added since: none yet
            counts = figures.counts if figures is not None else {}
            lines.append(_("{project}: {green} in favour · {orange} to rework · {red} against")
                         .format(project=localized(project.title, lang),
                                 green=number(counts.get("green", 0), lang),
                                 orange=number(counts.get("orange", 0), lang),
                                 red=number(counts.get("red", 0), lang)))
        return "\n".join(lines)

    def count_fields(self, consultation, question, lang, _):
        return [(localized(project.title, lang),
                 [((project.id, colour), _(COLOUR_NAMES[colour])) for colour in COLOURS])
                for project in consultation.projects_of(question)]


KIND = ColourScreens()
