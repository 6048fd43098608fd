"""A place question on the projector: the base map with the perimeter, the points placed (as
dots, at the rounded positions of the public result) and the count of each area written on
the map; beside it, the areas with the most answers, by name and figure. Meaning is in the
figures and names; the dots only repeat it."""
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from app.formatting import number
from screens import load_kv
from screens.projector.base import PjResultView
from app.model import localized
from screens.projector.style import PALETTE, pstyle
from screens.widgets.map_view import MapView

# Areas listed beside the map (the map itself shows every area's count).
LISTED_AREAS = 8
# Outlines on the light base map: the kiosk's deep sea blue reads on it from afar.
OUTLINE = (0.05, 0.33, 0.55, 1)


class PjMapFigure(Label):
    """An area's count written on the map, on a dark pill (legible on any tile)."""


class PjAreaRow(BoxLayout):
    label = StringProperty("")
    figures = StringProperty("")
    detail = StringProperty("")


class PjMapView(PjResultView):
    def build(self, body):
        perimeter = self.consultation.map
        row = BoxLayout(spacing=pstyle.u * 2)
        self.map = MapView(interactive=False, show_zoom_buttons=False,
                           bundle_dir=str(self.bundle_dir or ""), size_hint_x=0.6,
                           outline_colour=list(OUTLINE), dot_colour=list(PALETTE["accent"]),
                           dot_outline=list(PALETTE["on_bar"]))
        self.map.consultation_map = perimeter
        # A credit, not content for the room: in the first language only.
        self.map.attribution = localized(perimeter.attribution, self.lang) if perimeter else ""
        self.figures = {}
        self.anchors = {}
        for area in (perimeter.areas if perimeter else ()):
            figure = PjMapFigure(opacity=0)
            self.figures[area.id] = figure
            self.anchors[area.id] = _anchor(area.shape)
            self.map.add_widget(figure)
        self.map.bind(size=self._fit, pos=self._place_figures, centre_px=self._place_figures,
                      zoom=self._place_figures)
        row.add_widget(self.map)
        self.list_box = BoxLayout(orientation="vertical", size_hint_x=0.4)
        self.rows = []
        for _ in range(LISTED_AREAS):
            area_row = PjAreaRow(opacity=0)
            self.rows.append(area_row)
            self.list_box.add_widget(area_row)
        row.add_widget(self.list_box)
        body.add_widget(row)

    def _fit(self, *_args):
        self.map.attribution_font_size = pstyle.u * 1.5
        self.map.fit_perimeter(margin=0.03)
        self._place_figures()

    def _place_figures(self, *_args):
        for area_id, figure in self.figures.items():
            x, y = self.map.to_widget_xy(*self.anchors[area_id])
            figure.texture_update()
            w, h = figure.texture_size
            figure.size = (max(w, h), h)
            figure.center = (x, y)

    def update(self, result, animate):
        lang = self.lang
        perimeter = self.consultation.map
        counts = result.get("counts") or {}
        shares = result.get("shares") or {}
        for area_id, figure in self.figures.items():
            n = counts.get(area_id, 0)
            n = n if isinstance(n, int) and not isinstance(n, bool) else 0
            figure.text = number(n, lang) if n > 0 else ""
            figure.opacity = 1 if n > 0 else 0
        self._place_figures()
        points = []
        for point in (result.get("points") or [])[:2000]:
            try:
                points.append((float(point["lon"]), float(point["lat"]),
                               max(1, int(point.get("count", 1)))))
            except (TypeError, KeyError, ValueError):
                continue
        self.map.points = points
        order = [a for a in (result.get("order") or []) if isinstance(counts.get(a), int)
                 and counts.get(a) > 0 and perimeter and perimeter.area(a)]
        for index, area_row in enumerate(self.rows):
            if index < len(order):
                area = perimeter.area(order[index])
                area_row.label = self.text(area.name, " / ")
                area_row.figures = number(counts[area.id], lang)
                area_row.detail = self.percent(shares.get(area.id, 0))
                area_row.opacity = 1
            else:
                area_row.label = area_row.figures = area_row.detail = ""
                area_row.opacity = 0
        forms = result.get("forms") or {}
        self.caption = self._("Ballots: {n}", sep="   /   ", n=number(result.get("ballots", 0), lang)) \
            + "   ·   " + self._("Pins on the map: {pins} · chosen from the list: {areas}",
                                 sep="   /   ", pins=number(forms.get("point", 0), lang),
                                 areas=number(forms.get("area", 0), lang))


def _anchor(shape):
    """Where an area's figure goes: the middle of its largest polygon's vertices (inside for
    the compact shapes of communes; a label is a label, not a position)."""
    polygon = max(shape.polygons, key=lambda p: (p.bbox[2] - p.bbox[0]) * (p.bbox[3] - p.bbox[1]))
    ring = polygon.outer[:-1] or polygon.outer
    return (sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))


load_kv(__file__)
