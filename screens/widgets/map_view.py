"""A small offline map: the bundle's MBTiles base map, the consultation's perimeter drawn as
outlines, a pin, dots, and labels pinned to places. Pan by drag, zoom by pinch or with the
−/+ buttons, kept within the map's zoom limits and the perimeter's bounding box. The
attribution is always shown, on an opaque backing.

Written here rather than taken from kivy_garden.mapview: no new dependency for the Android
build, and tiles come only through app.bundle.open_map_tiles (the bundle's MBTiles, read-only,
its paths checked), never from the network.

Positions on the widget: the view keeps the world pixel (Web Mercator at the current,
possibly fractional, zoom) that sits at its centre; tiles of the nearest zoom level the map
holds are scaled to it.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from io import BytesIO
from pathlib import Path

from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.graphics import Canvas, Color, Ellipse, Line, Rectangle
from kivy.metrics import dp
from kivy.properties import (BooleanProperty, ListProperty, NumericProperty, ObjectProperty,
                             StringProperty)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.stencilview import StencilView
from kivy.uix.widget import Widget

from app.bundle import open_map_tiles
from app.geo import TILE_SIZE, lonlat_to_pixel, pixel_to_lonlat, simplify_ring
from screens import load_kv

# Decoded tiles kept (textures of 256×256: about 256 KiB each on the GPU). Shared by every map
# widget, keyed by the MBTiles file, so a view rebuilt for another language draws at once.
TILE_CACHE_SIZE = 160
# A finger moving less than this is a tap, not a drag.
TAP_SLOP = dp(12)
# Outlines are drawn through vertices at least about this far from the line they would
# otherwise form, in screen pixels (Douglas–Peucker): at the perimeter's fitted zoom most of
# the demo's 2,152 vertices are closer than that, and under software OpenGL every vertex of a
# wide line is triangles to rasterise (bench/map_frames.py).
OUTLINE_TOLERANCE_PX = 0.6
# The first view (the whole perimeter) may be this many zoom levels further out than the
# bundle's min_zoom, the tiles of min_zoom drawn smaller, when the map is too small for the
# perimeter at min_zoom (very large text, a refusal message above it): better the whole area
# a little small than its top cut off. Residents still zoom out no further than min_zoom.
FIT_BELOW_MIN_ZOOM = 1.0
# Bevel joints: at these widths they look like round ones, with a triangle per vertex instead
# of a fan (round joints made the outlines 5 times as costly to draw under software OpenGL).
OUTLINE_JOINT = "bevel"

_textures: OrderedDict = OrderedDict()
_open_tiles: dict = {}


def tile_texture(source, path_key: str, z: int, x: int, y: int):
    """The texture of XYZ tile (x, y) at `z` (None when the map has no such tile), decoded
    once and kept in a bounded LRU."""
    key = (path_key, z, x, y)
    if key in _textures:
        _textures.move_to_end(key)
        return _textures[key]
    data = source.tile(z, x, y)
    texture = None
    if data:
        ext = "png" if data[:4] == b"\x89PNG" else "jpg"
        try:
            texture = CoreImage(BytesIO(data), ext=ext, nocache=True).texture
        except Exception:   # a damaged tile leaves a hole, not a crash
            texture = None
    _textures[key] = texture
    while len(_textures) > TILE_CACHE_SIZE:
        _textures.popitem(last=False)
    return texture


def map_tiles(bundle_dir, consultation_map):
    """One open MapTiles per MBTiles file (a read-only connection any thread may use)."""
    path = str(Path(bundle_dir) / consultation_map.tiles)
    source = _open_tiles.get(path)
    if source is None:
        if len(_open_tiles) > 4:        # bundles replaced over a long day: close the old ones
            for old in list(_open_tiles.values()):
                old.close()
            _open_tiles.clear()
        source = _open_tiles[path] = open_map_tiles(bundle_dir, consultation_map)
    return path, source


class MapZoomButton(ButtonBehavior, Widget):
    """A square −/+ button drawn as an icon (48 dp at least)."""
    icon = StringProperty("plus")


class MapView(StencilView):
    """The map. Set `consultation_map` and `bundle_dir`; listen to `on_tap(lon, lat)`."""
    consultation_map = ObjectProperty(None, allownone=True)
    bundle_dir = StringProperty("")
    zoom = NumericProperty(11.0)
    min_zoom = NumericProperty(0)
    max_zoom = NumericProperty(20)
    centre_px = ListProperty([0.0, 0.0])   # world pixel at the view's centre, at `zoom`
    pin = ListProperty([])                 # [lon, lat] or []
    points = ListProperty([])              # [(lon, lat, count)] drawn as dots
    interactive = BooleanProperty(True)
    show_zoom_buttons = BooleanProperty(True)
    attribution = StringProperty("")
    attribution_font_size = NumericProperty(dp(13))
    outline_colour = ListProperty([0.05, 0.33, 0.55, 1])
    outline_width = NumericProperty(dp(2.5))
    halo_colour = ListProperty([1, 1, 1, 1])   # opaque: a translucent wide Line can leak past the stencil
    pin_colour = ListProperty([0.68, 0.29, 0.10, 1])
    dot_colour = ListProperty([1.0, 0.80, 0.25, 0.9])
    dot_outline = ListProperty([0.03, 0.04, 0.06, 1])
    background_colour = ListProperty([0.89, 0.88, 0.85, 1])
    can_zoom_in = BooleanProperty(True)
    can_zoom_out = BooleanProperty(True)
    zoom_step = NumericProperty(1.0)
    # The areas' names, drawn by the app over the tiles at a size people read (the names in
    # the tiles are 8-10 px, less when the whole perimeter is fitted): `name_of(area)` gives
    # the text; names that find no room on their area's centre are left out.
    area_names = BooleanProperty(False)
    name_font_size = NumericProperty(dp(18))
    name_of = ObjectProperty(None, allownone=True)

    __events__ = ("on_tap", "on_view")

    def __init__(self, **kwargs):
        self._trigger = Clock.create_trigger(self.redraw, -1)
        self._touches = []
        self._gesture = None
        self._rings = []            # per area: rings in world pixels at zoom 0
        self._outline_levels = {}   # zoom level: rings simplified for it (simplify_ring)
        self._source = None
        self._path_key = ""
        super().__init__(**kwargs)
        # The map under the −/+ buttons and the attribution (children draw after it); not
        # canvas.before, which holds the StencilView's push. The pin has its own group: a
        # tap redraws the pin only, not the tiles and outlines under it.
        self._layer = Canvas()
        self._names_layer = Canvas()
        self._pin_layer = Canvas()
        self._anchors = {}          # area id: its visual centre (lon, lat)
        self.canvas.insert(0, self._layer)
        self.canvas.insert(1, self._names_layer)
        self.canvas.insert(2, self._pin_layer)
        self._pin_trigger = Clock.create_trigger(self._redraw_pin, -1)
        self.bind(pos=self._trigger, size=self._on_size, zoom=self._zoom_changed,
                  centre_px=self._trigger, pin=self._pin_trigger, points=self._trigger,
                  consultation_map=self._new_map, bundle_dir=self._new_map,
                  area_names=self._trigger, name_font_size=self._trigger, name_of=self._trigger)
        self._new_map()

    # -- the map's data ------------------------------------------------------------------

    def _new_map(self, *_args):
        perimeter = self.consultation_map
        self._rings = []
        self._outline_levels = {}
        self._source = None
        self._anchors = {}
        if perimeter is None:
            return
        if self.bundle_dir:
            try:
                self._path_key, self._source = map_tiles(self.bundle_dir, perimeter)
            except Exception:       # no base map: the outlines alone still work
                self._source = None
        self.min_zoom, self.max_zoom = perimeter.min_zoom, perimeter.max_zoom
        for area in perimeter.areas:
            rings = []
            for polygon in area.shape.polygons:
                for ring in (polygon.outer, *polygon.holes):
                    flat = []
                    for lon, lat in ring:
                        flat.extend(lonlat_to_pixel(lon, lat, 0))
                    rings.append(flat)
            self._rings.append(rings)
        self.go_home()

    def go_home(self) -> None:
        """The first view: the whole perimeter once the widget has a size (a resident sees
        the outlined area before zooming), the bundle's centre and zoom until then."""
        perimeter = self.consultation_map
        if perimeter is None:
            return
        self._moved = False
        if self.width > 100 and self.height > 100:
            self.fit_perimeter()
        else:
            self.set_view(perimeter.center[0], perimeter.center[1], perimeter.zoom)

    def fit_perimeter(self, margin: float = 0.05) -> None:
        """Zoom and centre so that the whole perimeter shows above the attribution (within
        the zoom limits)."""
        perimeter = self.consultation_map
        if perimeter is None or self.width < 2 or self.height < 2:
            return
        inset = self.attribution_height()
        w, s, e, n = perimeter.bbox
        x0, y0 = lonlat_to_pixel(w, n, 0)
        x1, y1 = lonlat_to_pixel(e, s, 0)
        usable_w = self.width * (1 - 2 * margin)
        usable_h = (self.height - inset) * (1 - 2 * margin)
        zoom = math.log2(max(1e-9, min(usable_w / max(x1 - x0, 1e-12),
                                       usable_h / max(y1 - y0, 1e-12))))
        self.zoom = max(self.min_zoom - FIT_BELOW_MIN_ZOOM, min(self.max_zoom, zoom))
        scale = 2.0 ** self.zoom
        self.centre_px = self._clamp((x0 + x1) / 2 * scale, (y0 + y1) / 2 * scale + inset / 2)
        self._limits()

    def attribution_height(self) -> float:
        """The attribution's height at the widget's current width. Measured here: while a
        layout resizes the map its label still has the height of the previous width (at
        100 px wide, dozens of lines), which made the first view zoom out and cut the
        perimeter's top."""
        if not self.attribution:
            return 0.0
        label = self.ids.attribution
        label.text_size = (max(1.0, self.width - dp(16)), None)     # as in map_view.kv
        label.texture_update()
        return label.texture_size[1] + dp(8)

    def set_view(self, lon: float, lat: float, zoom: float) -> None:
        self.zoom = max(self.min_zoom, min(self.max_zoom, float(zoom)))
        self.centre_px = self._clamp(*lonlat_to_pixel(lon, lat, self.zoom))
        self._limits()

    # -- positions -----------------------------------------------------------------------

    def to_widget_xy(self, lon: float, lat: float) -> tuple[float, float]:
        wx, wy = lonlat_to_pixel(lon, lat, self.zoom)
        return self.center_x + wx - self.centre_px[0], self.center_y - (wy - self.centre_px[1])

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        wx = self.centre_px[0] + (x - self.center_x)
        wy = self.centre_px[1] - (y - self.center_y)
        return pixel_to_lonlat(wx, wy, self.zoom)

    def _clamp(self, wx: float, wy: float) -> list:
        perimeter = self.consultation_map
        if perimeter is None:
            return [wx, wy]
        w, s, e, n = perimeter.bbox
        x0, y0 = lonlat_to_pixel(w, n, self.zoom)
        x1, y1 = lonlat_to_pixel(e, s, self.zoom)
        return [max(x0, min(x1, wx)), max(y0, min(y1, wy))]

    def _limits(self):
        self.can_zoom_in = self.zoom < self.max_zoom - 1e-6
        self.can_zoom_out = self.zoom > self.min_zoom + 1e-6

    # -- zoom and pan --------------------------------------------------------------------

    def zoom_by(self, delta: float, anchor: tuple[float, float] | None = None) -> None:
        """Change the zoom by `delta` levels, keeping the point under `anchor` (widget
        coordinates; the centre by default) where it is."""
        old = self.zoom
        # Below min_zoom only after a fit (FIT_BELOW_MIN_ZOOM): from there, out is no
        # further and in goes on from where the view is.
        new = max(min(self.min_zoom, old), min(self.max_zoom, old + delta))
        if abs(new - old) < 1e-9:
            self._limits()
            return
        ax, ay = anchor if anchor is not None else (self.center_x, self.center_y)
        lon, lat = self.to_lonlat(ax, ay)
        self.zoom = new
        wx, wy = lonlat_to_pixel(lon, lat, new)
        self.centre_px = self._clamp(wx - (ax - self.center_x), wy + (ay - self.center_y))
        self._limits()
        self._moved = True
        self.dispatch("on_view")

    def zoom_in(self) -> None:
        self.zoom_by(self.zoom_step)

    def zoom_out(self) -> None:
        self.zoom_by(-self.zoom_step)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the map with a finger: (dx, dy) in widget pixels."""
        self.centre_px = self._clamp(self.centre_px[0] - dx, self.centre_px[1] + dy)
        self._moved = True
        self.dispatch("on_view")

    def _zoom_changed(self, *_args):
        self._limits()
        self._trigger()

    def _on_size(self, *_args):
        if not getattr(self, "_moved", True):
            self.go_home()
        self._trigger()

    # -- touches -------------------------------------------------------------------------

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return False
        if super().on_touch_down(touch):        # the −/+ buttons first
            return True
        if not self.interactive:
            return False
        if getattr(touch, "is_mouse_scrolling", False):
            self._scroll(touch)
            return True
        touch.grab(self)
        self._touches.append(touch)
        self._start_gesture()
        return True

    def _scroll(self, touch) -> None:
        if touch.button == "scrolldown":
            self.zoom_by(0.5, touch.pos)
        elif touch.button == "scrollup":
            self.zoom_by(-0.5, touch.pos)

    def _start_gesture(self):
        if len(self._touches) >= 2:
            a, b = self._touches[:2]
            self._gesture = {"kind": "pinch", "distance": max(1.0, a.distance(b)),
                             "zoom": self.zoom, "moved": True}
        else:
            t = self._touches[0]
            self._gesture = {"kind": "pan", "start": t.pos, "last": t.pos, "moved": False}

    def on_touch_move(self, touch):
        if touch.grab_current is not self:
            return super().on_touch_move(touch)
        gesture = self._gesture
        if gesture is None:
            return True
        if gesture["kind"] == "pinch" and len(self._touches) >= 2:
            a, b = self._touches[:2]
            mid = ((a.x + b.x) / 2, (a.y + b.y) / 2)
            target = gesture["zoom"] + math.log2(max(1.0, a.distance(b)) / gesture["distance"])
            self.zoom_by(target - self.zoom, mid)
        elif gesture["kind"] == "pan":
            sx, sy = gesture["start"]
            if not gesture["moved"] and math.hypot(touch.x - sx, touch.y - sy) > TAP_SLOP:
                gesture["moved"] = True
            if gesture["moved"]:
                lx, ly = gesture["last"]
                self.pan_by(touch.x - lx, touch.y - ly)
            gesture["last"] = touch.pos
        return True

    def on_touch_up(self, touch):
        if touch.grab_current is not self:
            return super().on_touch_up(touch)
        touch.ungrab(self)
        gesture = self._gesture
        tapped = gesture is not None and gesture["kind"] == "pan" and not gesture["moved"] \
            and len(self._touches) == 1
        if touch in self._touches:
            self._touches.remove(touch)
        if self._touches:
            self._start_gesture()               # a pinch that loses a finger goes on as a pan
            self._gesture["moved"] = True       # … and is no tap
        else:
            self._gesture = None
        if tapped:
            self.tap_at(*touch.pos)
        return True

    def tap_at(self, x: float, y: float) -> None:
        """A tap at widget position (x, y): on_tap with its longitude and latitude."""
        lon, lat = self.to_lonlat(x, y)
        self.dispatch("on_tap", lon, lat)

    def on_tap(self, lon, lat):
        pass

    def on_view(self):
        pass

    # -- drawing -------------------------------------------------------------------------

    def visible_tiles(self):
        """(z, x, y, left, bottom, size) of every tile to draw, in widget coordinates."""
        perimeter = self.consultation_map
        if perimeter is None or self._source is None:
            return []
        z = max(perimeter.min_zoom, min(perimeter.max_zoom, int(round(self.zoom))))
        scale = 2.0 ** (self.zoom - z)
        size = TILE_SIZE * scale
        left_px = self.centre_px[0] - self.width / 2        # world pixels at self.zoom
        top_px = self.centre_px[1] - self.height / 2
        last = 2 ** z - 1
        x0 = max(0, int(math.floor(left_px / size)))
        x1 = min(last, int(math.floor((left_px + self.width) / size)))
        y0 = max(0, int(math.floor(top_px / size)))
        y1 = min(last, int(math.floor((top_px + self.height) / size)))
        tiles = []
        for ty in range(y0, y1 + 1):
            for tx in range(x0, x1 + 1):
                left = self.x + tx * size - left_px
                top = self.top - (ty * size - top_px)
                tiles.append((z, tx, ty, left, top - size, size))
        return tiles

    def redraw(self, *_args):
        canvas = self._layer
        canvas.clear()
        if self.width < 2 or self.height < 2:
            self._pin_layer.clear()
            return
        with canvas:
            Color(*self.background_colour)
            Rectangle(pos=self.pos, size=self.size)
            Color(1, 1, 1, 1)
            for z, tx, ty, left, bottom, size in self.visible_tiles():
                texture = tile_texture(self._source, self._path_key, z, tx, ty)
                if texture is not None:
                    self._draw_tile(texture, left, bottom, size)
            self._draw_outlines()
            self._draw_points()
        self._draw_names()
        self._redraw_pin()

    def names_changed(self) -> None:
        """The names' language changed: draw them again."""
        self._trigger()

    def _draw_names(self):
        layer = self._names_layer
        layer.clear()
        perimeter = self.consultation_map
        if not self.area_names or perimeter is None or self.name_of is None:
            return
        from kivy.core.text import Label as CoreLabel
        from kivy.graphics import RoundedRectangle

        from app.geo import visual_centre
        from screens.projector.labels import place_labels
        from screens.theme import theme
        pad_x, pad_y = dp(8), dp(3)
        labels, textures = [], {}
        for area in perimeter.areas:
            text = self.name_of(area)
            if not text:
                continue
            if area.id not in self._anchors:
                self._anchors[area.id] = visual_centre(area.shape)
            core = CoreLabel(text=text, font_size=self.name_font_size, bold=True)
            core.refresh()
            texture = core.texture
            textures[area.id] = texture
            labels.append((area.id, self.to_widget_xy(*self._anchors[area.id]),
                           (texture.width + 2 * pad_x, texture.height + 2 * pad_y)))
        inset = self.ids.attribution.height if self.attribution else 0
        bounds = (self.x, self.y + inset, self.right, self.top)
        # Only on its own area, never beside it: no search around the anchor (a city's map
        # has hundreds of areas; searching rings for each took the kiosk 40 s a redraw).
        placed = place_labels(labels, bounds, gap=dp(2), max_rings=0)
        surface, ink = theme.colours["surface"], theme.colours["text"]
        with layer:
            for area_id, spot in placed.items():
                if spot is None or spot.moved:
                    continue
                texture = textures[area_id]
                x0, y0, x1, y1 = spot.box
                Color(surface[0], surface[1], surface[2], 0.88)
                RoundedRectangle(pos=(x0, y0), size=(x1 - x0, y1 - y0), radius=[dp(6)])
                Color(*ink)
                Rectangle(texture=texture, size=texture.size,
                          pos=(x0 + pad_x, y0 + pad_y))

    def _redraw_pin(self, *_args):
        self._pin_layer.clear()
        if self.width >= 2 and self.height >= 2:
            with self._pin_layer:
                self._draw_pin()

    def _draw_tile(self, texture, left, bottom, size):
        # Cut to the widget here rather than trusting the stencil alone: a widget exported
        # to an image (the projector's screenshots) is drawn without one.
        x0, y0 = max(left, self.x), max(bottom, self.y)
        x1, y1 = min(left + size, self.right), min(bottom + size, self.top)
        if x1 <= x0 or y1 <= y0:
            return
        u0, u1 = (x0 - left) / size, (x1 - left) / size
        v0, v1 = (y0 - bottom) / size, (y1 - bottom) / size
        # Kivy textures from images are flipped: v runs from the top of the image.
        tc = texture.tex_coords
        tu0, tv0, tu1, tv1 = tc[0], tc[1], tc[4], tc[5]
        def u(f): return tu0 + (tu1 - tu0) * f
        def v(f): return tv0 + (tv1 - tv0) * f
        Rectangle(texture=texture, pos=(x0, y0), size=(x1 - x0, y1 - y0),
                  tex_coords=(u(u0), v(v0), u(u1), v(v0), u(u1), v(v1), u(u0), v(v1)))

    def outline_rings(self, level: int) -> list:
        """The perimeter's rings in world pixels at zoom 0, simplified for zoom `level` (to
        OUTLINE_TOLERANCE_PX at that zoom, less when zoomed in between levels); computed
        once per level."""
        rings = self._outline_levels.get(level)
        if rings is None:
            tolerance = OUTLINE_TOLERANCE_PX / 2.0 ** level
            rings = [simplify_ring(flat, tolerance) for area in self._rings for flat in area]
            self._outline_levels[level] = rings
        return rings

    def _draw_outlines(self):
        if not self._rings:
            return
        s = 2.0 ** self.zoom
        ox = self.center_x - self.centre_px[0]
        oy = self.center_y + self.centre_px[1]
        screen_rings = []
        for flat in self.outline_rings(max(0, int(math.floor(self.zoom + 1e-9)))):
            points = [0.0] * len(flat)
            points[0::2] = [ox + v * s for v in flat[0::2]]
            points[1::2] = [oy - v * s for v in flat[1::2]]
            screen_rings.append(points)
        # Hundreds of areas (a city's whole map) at the demo's width would ink the map over:
        # thinner lines as areas grow in number, never below 40 %.
        thin = min(1.0, max(0.4, math.sqrt(20 / max(1, len(self._rings)))))
        Color(*self.halo_colour)
        for points in screen_rings:
            Line(points=points, width=(self.outline_width + dp(1.5)) * thin, close=True,
                 joint=OUTLINE_JOINT)
        Color(*self.outline_colour)
        for points in screen_rings:
            Line(points=points, width=self.outline_width * thin, close=True,
                 joint=OUTLINE_JOINT)

    def _draw_points(self):
        if not self.points:
            return
        biggest = max((p[2] for p in self.points), default=1) or 1
        base = dp(5) if self.interactive else self.height * 0.005
        for lon, lat, count in self.points:
            x, y = self.to_widget_xy(lon, lat)
            r = base * (1 + 2 * math.sqrt(max(count, 1) / biggest))
            Color(*self.dot_outline)
            Ellipse(pos=(x - r - dp(2), y - r - dp(2)), size=(2 * r + dp(4), 2 * r + dp(4)))
            Color(*self.dot_colour)
            Ellipse(pos=(x - r, y - r), size=(2 * r, 2 * r))

    def _draw_pin(self):
        if len(self.pin) != 2:
            return
        x, y = self.to_widget_xy(*self.pin)
        arm, r = dp(26), dp(11)
        for colour, width in (((1, 1, 1, 1), dp(5)), (self.pin_colour, dp(2.5))):
            Color(*colour)
            Line(points=[x - arm, y, x - r * 0.6, y], width=width)
            Line(points=[x + r * 0.6, y, x + arm, y], width=width)
            Line(points=[x, y - arm, x, y - r * 0.6], width=width)
            Line(points=[x, y + r * 0.6, x, y + arm], width=width)
            Line(circle=(x, y, r), width=width, joint=OUTLINE_JOINT)
        Color(*self.pin_colour)
        Ellipse(pos=(x - dp(4), y - dp(4)), size=(dp(8), dp(8)))


load_kv(__file__)
