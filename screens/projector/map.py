"""A place question on the projector: the base map with the perimeter, the points placed (as
dots, at the rounded positions of the public result) and the count of each area written on
the map; beside it, the areas with the most answers, by name and figure. Meaning is in the
figures and names; the dots only repeat it.

The counts never overlap (neighbouring small communes — Fontan and Saorge — would put theirs
on top of each other): each sits on its area's visual centre when there is room, else at the
nearest free spot with a leader line back to a dot on that centre (screens/projector/labels.py
places them, the most answered first). A count that finds no room on the map is listed beside
it instead."""
from functools import lru_cache

from kivy.graphics import Color, Ellipse, Line
from kivy.properties import ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from app.formatting import number
from app.geo import visual_centre
from app.model import localized
from screens import load_kv
from screens.projector.base import PjResultView
from screens.projector.labels import place_labels
from screens.projector.style import PALETTE, pstyle
from screens.widgets.map_view import MapView

# Areas listed beside the map (the map itself shows every area's count).
LISTED_AREAS = 8
# Outlines on the light base map: the kiosk's deep sea blue reads on it from afar.
OUTLINE = (0.05, 0.33, 0.55, 1)


class PjMapFigure(Label):
    """An area's count written on the map, on a dark pill (legible on any tile)."""


class PjLeaders(Widget):
    """Leader lines from an area's dot to its count moved aside: [(x0, y0, x1, y1)]."""
    lines = ListProperty([])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(lines=self._draw)

    def _draw(self, *_args):
        self.canvas.clear()
        u = pstyle.u
        dark = pstyle.colours["background"][:3]
        with self.canvas:
            for width, colour in ((u * 0.6, (1, 1, 1)), (u * 0.3, dark)):
                Color(*colour, 1)
                for x0, y0, x1, y1 in self.lines:
                    Line(points=[x0, y0, x1, y1], width=width)
            for radius, colour in ((u * 1.0, (1, 1, 1)), (u * 0.7, dark)):
                Color(*colour, 1)
                for x0, y0, _x1, _y1 in self.lines:
                    Ellipse(pos=(x0 - radius, y0 - radius), size=(2 * radius, 2 * radius))


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
        self.order = []                 # areas with answers, most first: who gets room first
        self.unplaced = []              # counts that found no room on the map
        self.counts, self.shares = {}, {}
        self.leaders = PjLeaders()
        self.map.add_widget(self.leaders)
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
        """Every count shown, where place_labels puts it; the leader lines drawn."""
        mapview = self.map
        labels = []
        for area_id in self.order:
            figure = self.figures[area_id]
            figure.texture_update()
            w, h = figure.texture_size
            figure.size = (max(w, h), h)
            labels.append((area_id, mapview.to_widget_xy(*self.anchors[area_id]),
                           tuple(figure.size)))
        inset = mapview.attribution_height()
        margin = pstyle.u * 0.5
        bounds = (mapview.x + margin, mapview.y + inset + margin,
                  mapview.right - margin, mapview.top - margin)
        placed = place_labels(labels, bounds, gap=pstyle.u * 0.4, anchor_margin=pstyle.u)
        lines, unplaced = [], []
        for area_id, figure in self.figures.items():
            spot = placed.get(area_id)
            if spot is None:
                figure.opacity = 0
                if area_id in placed:
                    unplaced.append(area_id)
                continue
            figure.opacity = 1
            figure.center = spot.centre
            if spot.moved:
                anchor = mapview.to_widget_xy(*self.anchors[area_id])
                lines.append((*anchor, *spot.centre))
        self.leaders.lines = lines
        if unplaced != self.unplaced:
            self.unplaced = unplaced
            self._fill_rows()

    def label_boxes(self) -> dict:
        """{area: (x0, y0, x1, y1)} of the counts shown on the map (for tests)."""
        return {a: (f.x, f.y, f.right, f.top) for a, f in self.figures.items() if f.opacity}

    def update(self, result, animate):
        lang = self.lang
        perimeter = self.consultation.map
        counts = result.counts                          # app.kinds.place.PlaceResult
        self.shares = result.shares
        self.counts = {a: n for a, n in counts.items()
                       if isinstance(n, int) and not isinstance(n, bool) and n > 0}
        for area_id, figure in self.figures.items():
            n = self.counts.get(area_id, 0)
            figure.text = number(n, lang) if n else ""
        self.order = [a for a in result.order if a in self.counts
                      and a in self.figures and perimeter and perimeter.area(a)]
        self.unplaced = []
        self._place_figures()
        self._fill_rows()
        points = []
        for point in result.points[:2000]:
            try:
                points.append((float(point.lon), float(point.lat), max(1, int(point.count))))
            except (TypeError, ValueError):
                continue
        self.map.points = points
        forms = result.forms
        answered = result.ballots
        # The same naming as the other slides: the people who answered, then how they did.
        self.caption = self.compose(lambda lang, _, ngettext: (
            self.answers(lang, answered) + "   ·   "
            + _("Pins on the map: {pins} · chosen from the list: {areas}").format(
                pins=number(forms["point"], lang),
                areas=number(forms["area"], lang))), sep="   /   ")

    def _fill_rows(self):
        """Beside the map: the most answered areas, and any whose count found no room on the
        map (so that every count is shown somewhere)."""
        perimeter = self.consultation.map
        order = self.order
        missing = [a for a in self.unplaced if a not in order[:LISTED_AREAS]]
        listed = order[:LISTED_AREAS - len(missing)] + missing[:LISTED_AREAS]
        for index, area_row in enumerate(self.rows):
            if index < len(listed):
                area = perimeter.area(listed[index])
                area_row.label = self.text(area.name, " / ")
                area_row.figures = number(self.counts[area.id], self.lang)
                area_row.detail = self.percent(self.shares.get(area.id, 0))
                area_row.opacity = 1
            else:
                area_row.label = area_row.figures = area_row.detail = ""
                area_row.opacity = 0


@lru_cache(maxsize=256)
def _anchor(shape):
    """Where an area's count belongs: its visual centre (app.geo.visual_centre: inside the
    area, away from its edges), worked out once per shape."""
    return visual_centre(shape)


load_kv(__file__)
