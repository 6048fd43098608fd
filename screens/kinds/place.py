"""place on the screens: the map or the list of areas (kiosk), the map with counts and pins
(projector), the areas' counts below the card (figures). Not counted by hand."""
from screens.widgets.place_figures import PlaceFigures
from screens.kinds.base import ScreenKind
from screens.projector.map import PjMapView
from screens.vote_place import PlaceBody


class PlaceScreens(ScreenKind):
    name = "place"
    body = PlaceBody
    projector_view = PjMapView

    def summary(self, consultation, question, result, lang, _):
        return ""        # the areas' counts are a widget of their own: figures_widget

    def figures_widget(self, consultation, question, result, lang):
        figures = PlaceFigures()
        figures.show(consultation, result, lang)
        return figures


KIND = PlaceScreens()
