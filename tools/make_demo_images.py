#!/usr/bin/env python3
"""Draw the demo consultation's illustrations (flat, vector-like PNGs).

Usage::

    python tools/make_demo_images.py [output_dir]

The default output directory is ``assets/demo/images`` under the repository
root.  Everything is drawn with Pillow primitives (shapes only: no text, no
fonts, no downloads) on a canvas twice the final size, then reduced with a
LANCZOS filter for anti-aliasing and saved as optimized PNGs (full colour,
or a 256-colour palette if a file would exceed 150 KB).  The random
generators are seeded, so the same Pillow version writes the same files.

Images (960x600, 16:10):

* ``cover.png``        coast and Alps, the sea, a border bridge over a ravine.
* ``p-bus.png``        a cross-border bus on a coastal road.
* ``p-bike.png``       a seaside cycle path with a bicycle.
* ``p-market.png``     a producers' market: awnings, crates of fruit.
* ``p-coworking.png``  a stone village house turned coworking space.
* ``p-telehealth.png`` a village clinic and a video consultation screen.
* ``p-services.png``   a public services house with banners and people.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

W, H = 960, 600  # final size
S = 2  # supersampling factor
MAX_BYTES = 150 * 1024  # size budget for each PNG

# --------------------------------------------------------------------------
# Palette
# --------------------------------------------------------------------------

SKY_TOP = "#7DBFE6"
SKY_LOW = "#FCE6CC"
SUN = "#FFD36B"
SUN_HALO = "#FFE9A8"
CLOUD = "#FFFFFF"
FAR_MOUNT = "#B7C2E2"
MID_MOUNT = "#8D9FCE"
NEAR_MOUNT = "#6F84B8"
SNOW = "#F7F9FD"
SHADE = "#283C6E"
SEA_TOP = "#7CC2E4"
SEA_LOW = "#2F7FB5"
WAVE = "#D8F0FA"
HILL_FAR = "#A7D29A"
HILL_MID = "#7DBB7E"
HILL_NEAR = "#5A9F6A"
GRASS = "#6DB071"
DARK_GREEN = "#3E7F58"
CYPRESS = "#2F6B4F"
TRUNK = "#8A5A3C"
SAND = "#F3DDB0"
ROCK = "#D9A574"
ROCK_DARK = "#B97F55"
STONE = "#D9CDB8"
ROOF = "#D9704A"
ROOF_DARK = "#B85A3A"
WALL_OCHRE = "#F4C98A"
WALL_PINK = "#EFA58A"
WALL_CREAM = "#F6E7CB"
WALL_YELLOW = "#F7D77E"
SHUTTER = "#3E9C86"
WINDOW = "#39507A"
WARM_LIGHT = "#FFE3A3"
CORAL = "#F2715E"
TEAL = "#23A89C"
YELLOW = "#F6C445"
NAVY = "#2E3A59"
ASPHALT = "#5D6577"
WHITE = "#FFFFFF"
SKIN = ["#F2C6A0", "#D9A07A", "#A8704F", "#F5D3B5"]


def rgb(colour, alpha=255):
    """'#RRGGBB' or a tuple -> an RGBA tuple."""
    if isinstance(colour, tuple):
        return colour if len(colour) == 4 else tuple(colour) + (alpha,)
    colour = colour.lstrip("#")
    return (int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16), alpha)


def mix(c1, c2, t):
    """Linear mix of two colours, t=0 gives c1."""
    a, b = rgb(c1), rgb(c2)
    return tuple(round(a[i] + (b[i] - a[i]) * t) for i in range(4))


# --------------------------------------------------------------------------
# Canvas: drawing primitives in final-size coordinates
# --------------------------------------------------------------------------


class Canvas:
    """A supersampled RGBA picture, or (mode "L") a mask with the same API.

    Coordinates are given in final pixels (960x600) and scaled by ``S``.
    Each primitive takes an optional ``alpha`` (0..1) and ``clip`` mask.
    """

    def __init__(self, mode="RGBA", background=WHITE):
        self.mode = mode
        size = (W * S, H * S)
        if mode == "L":
            self.img = Image.new("L", size, 0)
        else:
            self.img = Image.new("RGBA", size, rgb(background))
        self.d = ImageDraw.Draw(self.img)

    # -- helpers ------------------------------------------------------------
    def mask(self):
        return Canvas("L")

    def _fill(self, colour):
        return 255 if self.mode == "L" else rgb(colour)

    @staticmethod
    def _p(points):
        return [(x * S, y * S) for x, y in points]

    def _do(self, draw, colour, alpha=1.0, clip=None):
        if alpha >= 1 and clip is None:
            draw(self.d, self._fill(colour))
            return
        m = Image.new("L", self.img.size, 0)
        draw(ImageDraw.Draw(m), 255)
        self.paint(colour, m, alpha, clip)

    def paint(self, colour, mask, alpha=1.0, clip=None):
        if isinstance(mask, Canvas):
            mask = mask.img
        if isinstance(clip, Canvas):
            clip = clip.img
        if clip is not None:
            mask = ImageChops.multiply(mask, clip)
        if alpha < 1:
            mask = mask.point(lambda v: round(v * alpha))
        if self.mode == "L":
            self.img.paste(255, (0, 0) + self.img.size, mask)
        else:
            self.img.paste(rgb(colour), (0, 0) + self.img.size, mask)

    # -- primitives ---------------------------------------------------------
    def poly(self, points, colour=None, alpha=1.0, clip=None):
        pts = self._p(points)
        self._do(lambda d, f: d.polygon(pts, fill=f), colour, alpha, clip)

    def rect(self, x0, y0, x1, y1, colour=None, r=0, alpha=1.0, clip=None):
        box = [x0 * S, y0 * S, x1 * S, y1 * S]
        rad = max(0, min(r * S, (x1 - x0) * S / 2, (y1 - y0) * S / 2))
        if rad:
            self._do(lambda d, f: d.rounded_rectangle(box, rad, fill=f), colour, alpha, clip)
        else:
            self._do(lambda d, f: d.rectangle(box, fill=f), colour, alpha, clip)

    def ellipse(self, cx, cy, rx, ry, colour=None, alpha=1.0, clip=None):
        box = [(cx - rx) * S, (cy - ry) * S, (cx + rx) * S, (cy + ry) * S]
        self._do(lambda d, f: d.ellipse(box, fill=f), colour, alpha, clip)

    def circle(self, cx, cy, r, colour=None, alpha=1.0, clip=None):
        self.ellipse(cx, cy, r, r, colour, alpha, clip)

    def line(self, points, colour=None, width=2, alpha=1.0, clip=None, caps=True):
        pts = self._p(points)
        wpx = max(1, round(width * S))

        def draw(d, f):
            d.line(pts, fill=f, width=wpx, joint="curve")
            if caps:
                r = wpx / 2
                for x, y in (pts[0], pts[-1]):
                    d.ellipse([x - r, y - r, x + r, y + r], fill=f)

        self._do(draw, colour, alpha, clip)

    def arc(self, cx, cy, r, start, end, colour=None, width=2, alpha=1.0, clip=None):
        box = [(cx - r) * S, (cy - r) * S, (cx + r) * S, (cy + r) * S]
        wpx = max(1, round(width * S))
        self._do(lambda d, f: d.arc(box, start, end, fill=f, width=wpx), colour, alpha, clip)

    def pie(self, cx, cy, r, start, end, colour=None, alpha=1.0, clip=None):
        box = [(cx - r) * S, (cy - r) * S, (cx + r) * S, (cy + r) * S]
        self._do(lambda d, f: d.pieslice(box, start, end, fill=f), colour, alpha, clip)

    def gradient(self, stops, y0, y1, clip=None, alpha=1.0):
        """Vertical gradient between y0 and y1 (stops: [(t, colour)])."""
        height = self.img.height
        column = []
        for yy in range(height):
            t = (yy / S - y0) / float(y1 - y0)
            t = min(1.0, max(0.0, t))
            for i in range(len(stops) - 1):
                t0, c0 = stops[i]
                t1, c1 = stops[i + 1]
                if t <= t1 or i == len(stops) - 2:
                    k = 0 if t1 == t0 else min(1.0, max(0.0, (t - t0) / (t1 - t0)))
                    column.append(mix(c0, c1, k))
                    break
        col = Image.new("RGBA", (1, height))
        col.putdata(column)
        grad = col.resize(self.img.size, Image.Resampling.NEAREST)
        mask = Image.new("L", self.img.size, 255)
        if isinstance(clip, Canvas):
            clip = clip.img
        if clip is not None:
            mask = clip
        if alpha < 1:
            mask = mask.point(lambda v: round(v * alpha))
        self.img.paste(grad, (0, 0), mask)

    def final(self):
        out = self.img.convert("RGB").resize((W, H), Image.Resampling.LANCZOS)
        return out


# --------------------------------------------------------------------------
# Scenery
# --------------------------------------------------------------------------


def sky(c, horizon, top=SKY_TOP, low=SKY_LOW):
    c.gradient([(0, top), (0.55, mix(top, low, 0.45)), (1, low)], 0, horizon)


def sun(c, x, y, r):
    c.circle(x, y, r * 2.3, SUN_HALO, alpha=0.14)
    c.circle(x, y, r * 1.6, SUN_HALO, alpha=0.28)
    c.circle(x, y, r, SUN)


def cloud(c, x, y, k=1.0, alpha=0.92):
    m = c.mask()
    m.rect(x - 70 * k, y - 4 * k, x + 70 * k, y + 22 * k, r=13 * k)
    m.circle(x - 34 * k, y - 2 * k, 24 * k)
    m.circle(x + 2 * k, y - 16 * k, 34 * k)
    m.circle(x + 40 * k, y + 2 * k, 22 * k)
    c.paint(CLOUD, m, alpha)


def birds(c, points, colour=NAVY):
    for x, y, k in points:
        c.line([(x - 9 * k, y - 4 * k), (x - 4 * k, y - 5 * k), (x, y)], colour, 1.6 * k, alpha=0.7)
        c.line([(x, y), (x + 4 * k, y - 5 * k), (x + 9 * k, y - 4 * k)], colour, 1.6 * k, alpha=0.7)


def ridge(points, rng, jitter=5.0, step=22):
    """Subdivide a polyline with a little vertical noise (natural ridges)."""
    out = []
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, int(abs(x1 - x0) / step))
        for i in range(n):
            t = i / n
            y = y0 + (y1 - y0) * t
            if i:
                y += rng.uniform(-jitter, jitter)
            out.append((x0 + (x1 - x0) * t, y))
    out.append(points[-1])
    return out


def mountains(c, pts, colour, base, rng, snow_above=None, snow_depth=26, light_from=-1,
              shade_alpha=0.16):
    """A range given as alternating valleys/peaks (even index = valley).

    Peaks higher than ``snow_above`` get a snow cap; each peak has a shaded
    face on the side away from the light.
    """
    body = ridge(pts, rng)
    outline = body + [(pts[-1][0], base), (pts[0][0], base)]
    m = c.mask()
    m.poly(outline)
    c.paint(colour, m)
    for i in range(1, len(pts) - 1, 2):
        px, py = pts[i]
        if snow_above is not None and py < snow_above:
            d = snow_depth * (0.7 + 0.6 * (snow_above - py) / 120.0)
            zig = []
            x = px - 160
            up = True
            while x <= px + 160:
                zig.append((x, py + d + (rng.uniform(-9, -3) if up else rng.uniform(3, 10))))
                up = not up
                x += rng.uniform(14, 22)
            cap = [(px - 160, py - 20), (px + 160, py - 20)] + list(reversed(zig))
            c.poly(cap, SNOW, clip=m)
        vx, vy = pts[i - light_from] if 0 <= i - light_from < len(pts) else pts[i]
        # shaded facet: from the peak to the valley away from the light
        foot = px + (vx - px) * 0.18
        c.poly([(px, py), (foot, base), (vx + (vx - px) * 0.35, base), (vx, vy)], SHADE,
               alpha=shade_alpha, clip=m)
    return m


def wave_points(x0, x1, base, terms, step=6):
    pts = []
    x = x0
    while x <= x1:
        y = base + sum(a * math.sin(2 * math.pi * x / l + ph) for a, l, ph in terms)
        pts.append((x, y))
        x += step
    pts.append((x1, base + sum(a * math.sin(2 * math.pi * x1 / l + ph) for a, l, ph in terms)))
    return pts


def hill(c, base, terms, colour, x0=-10, x1=W + 10, bottom=H + 10, alpha=1.0):
    pts = wave_points(x0, x1, base, terms)
    c.poly(pts + [(x1, bottom), (x0, bottom)], colour, alpha=alpha)
    return pts


def sea(c, y0, y1, rng, sun_x=None, count=70, x0=0, x1=W):
    c.rect(x0, y0, x1, y1 + 1, SEA_TOP)
    c.gradient([(0, SEA_TOP), (1, SEA_LOW)], y0, y1,
               clip=_rect_mask(c, x0, y0, x1, y1 + 1))
    c.rect(x0, y0, x1, y0 + 2, WAVE, alpha=0.55)
    for _ in range(count):
        y = rng.uniform(y0 + 8, y1 - 4)
        depth = (y - y0) / max(1.0, (y1 - y0))
        length = 10 + 46 * depth * rng.uniform(0.5, 1.0)
        x = rng.uniform(x0 - 20, x1)
        c.line([(x, y), (x + length, y)], WAVE, 1.2 + 1.6 * depth, alpha=0.45)
    if sun_x is not None:
        y = y0 + 5
        while y < y1 - 6:
            depth = (y - y0) / max(1.0, (y1 - y0))
            half = (14 + 40 * depth) * rng.uniform(0.45, 1.0)
            off = rng.uniform(-14, 14) * (0.4 + depth)
            c.line([(sun_x - half + off, y), (sun_x + half + off, y)], SUN_HALO, 1.6 + 2 * depth,
                   alpha=0.42)
            y += 7 + 14 * depth + rng.uniform(0, 4)


def _rect_mask(c, x0, y0, x1, y1):
    m = c.mask()
    m.rect(x0, y0, x1, y1)
    return m


def cypress(c, x, ybase, h, colour=CYPRESS):
    w = h * 0.2
    c.rect(x - 2, ybase - h * 0.12, x + 2, ybase, TRUNK)
    pts = [(x, ybase - h)]
    for i in range(0, 13):
        t = i / 12.0
        pts.append((x + w * min(1.0, 0.15 + 1.1 * math.sin(t * math.pi * 0.62)), ybase - h + h * 0.95 * t))
    left = [(2 * x - px, py) for px, py in reversed(pts[1:])]
    c.poly(pts + [(x, ybase - h * 0.05)] + left, colour)
    # lit half
    c.poly(pts[:1] + [(x + 0.1, py) for _, py in pts[1:]] + left, WHITE, alpha=0.08)


def round_tree(c, x, ybase, h, colour=HILL_NEAR, trunk=TRUNK):
    r = h * 0.34
    cy = ybase - h + r
    c.rect(x - h * 0.035, cy, x + h * 0.035, ybase, trunk)
    m = c.mask()
    m.circle(x, cy, r)
    m.circle(x - r * 0.62, cy + r * 0.35, r * 0.66)
    m.circle(x + r * 0.62, cy + r * 0.35, r * 0.66)
    c.paint(colour, m)
    c.circle(x + r * 0.55, cy + r * 0.5, r * 1.05, SHADE, alpha=0.14, clip=m)
    c.circle(x - r * 0.35, cy - r * 0.35, r * 0.28, WHITE, alpha=0.15)


def pine(c, x, ybase, h, colour=DARK_GREEN):
    c.rect(x - h * 0.04, ybase - h * 0.2, x + h * 0.04, ybase, TRUNK)
    for t, wk in ((0.0, 0.22), (0.28, 0.3), (0.52, 0.38)):
        top = ybase - h + h * t
        c.poly([(x, top), (x + h * wk, top + h * 0.42), (x - h * wk, top + h * 0.42)], colour)
        c.poly([(x, top), (x + h * wk, top + h * 0.42), (x, top + h * 0.42)], SHADE, alpha=0.15)


def frond(c, ox, oy, angle, length, droop, width, colour, rib):
    """A drooping palm leaf with serrated edges."""
    a = math.radians(angle)
    n = 16
    centre, left, right = [], [], []
    for i in range(n + 1):
        t = i / n
        cx = ox + math.cos(a) * length * t
        cy = oy + math.sin(a) * length * t + droop * length * t * t
        centre.append((cx, cy))
    for i, (cx, cy) in enumerate(centre):
        t = i / n
        if i < n:
            dx, dy = centre[i + 1][0] - cx, centre[i + 1][1] - cy
        else:
            dx, dy = cx - centre[i - 1][0], cy - centre[i - 1][1]
        norm = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / norm, dx / norm
        w = width * math.sin(math.pi * min(1.0, t * 1.05)) ** 0.7
        k = 1.0 if i % 2 else 0.55
        left.append((cx + nx * w * k, cy + ny * w * k))
        right.append((cx - nx * w * k, cy - ny * w * k))
    c.poly(left + list(reversed(right)), colour)
    c.line(centre[:-2], rib, max(1.0, width * 0.12), alpha=0.8)


def palm(c, x, ybase, h, lean=1.0):
    top_x = x + lean * h * 0.18
    top_y = ybase - h
    segs = 12
    pts = []
    for i in range(segs + 1):
        t = i / segs
        pts.append((x + (top_x - x) * (t ** 1.6), ybase - h * t))
    for i in range(segs):
        w = (8.5 - 3.5 * i / segs) * h / 170
        c.line([pts[i], pts[i + 1]], "#A77450" if i % 2 else "#8E5F40", w, caps=True)
    length = h * 0.44
    back = [(-165, 0.85, 0.55), (-120, 0.75, 0.35), (-60, 0.75, 0.35), (-15, 0.85, 0.55)]
    front = [(-185, 1.0, 0.75), (-140, 1.0, 0.55), (-95, 0.7, 0.5), (-40, 1.0, 0.55), (5, 1.0, 0.75)]
    for ang, k, droop in back:
        frond(c, top_x, top_y, ang, length * k, droop, h * 0.055, "#2F7A52", "#23603F")
    for ang, k, droop in front:
        frond(c, top_x, top_y, ang, length * k, droop, h * 0.06, "#45A266", "#2F7A52")
    for dx, dy in ((-4, 6), (4, 7), (0, 10)):
        c.circle(top_x + dx * h / 170, top_y + dy * h / 170, h * 0.025, "#7A4B2E")


def person(c, x, ybase, h, body, skin=SKIN[0], hair=NAVY, legs=NAVY, bag=None):
    """A friendly rounded silhouette standing on ybase, h tall."""
    head_r = h * 0.11
    sleeve = mix(body, SHADE, 0.18)
    c.rect(x - h * 0.085, ybase - h * 0.42, x - h * 0.015, ybase, legs, r=h * 0.03)
    c.rect(x + h * 0.015, ybase - h * 0.42, x + h * 0.085, ybase, legs, r=h * 0.03)
    for side in (-1, 1):
        ax0, ax1 = sorted((x + side * h * 0.125, x + side * h * 0.2))
        c.rect(ax0, ybase - h * 0.72, ax1, ybase - h * 0.42, sleeve, r=h * 0.035)
        c.circle((ax0 + ax1) / 2, ybase - h * 0.42, h * 0.04, skin)
    c.rect(x - h * 0.15, ybase - h * 0.75, x + h * 0.15, ybase - h * 0.36, body, r=h * 0.1)
    c.rect(x - h * 0.04, ybase - h * 0.79, x + h * 0.04, ybase - h * 0.74, skin)
    c.circle(x, ybase - h + head_r, head_r, skin)
    c.pie(x, ybase - h + head_r - head_r * 0.08, head_r * 1.06, 175, 365, hair)
    if bag:
        c.rect(x + h * 0.15, ybase - h * 0.46, x + h * 0.29, ybase - h * 0.3, bag, r=h * 0.02)
        c.arc(x + h * 0.2, ybase - h * 0.46, h * 0.04, 180, 360, bag, 1.5)


def house(c, x0, x1, ytop, ybase, wall, roof=ROOF, windows=2, rows=2, shutter=SHUTTER,
          roof_h=18, door=True):
    c.rect(x0, ytop, x1, ybase, wall)
    c.rect(x1 - (x1 - x0) * 0.28, ytop, x1, ybase, SHADE, alpha=0.08)
    c.poly([(x0 - 5, ytop + 1), (x0 + 6, ytop - roof_h), (x1 - 6, ytop - roof_h), (x1 + 5, ytop + 1)], roof)
    c.poly([(x0 - 5, ytop + 1), (x1 + 5, ytop + 1), (x1 + 5, ytop + 4), (x0 - 5, ytop + 4)], ROOF_DARK)
    usable = ybase - ytop - (22 if door else 6)
    ww = (x1 - x0) / (windows * 2 + 1)
    for r in range(rows):
        wy = ytop + 8 + r * usable / rows
        wh = min(usable / rows - 8, ww * 1.5)
        for i in range(windows):
            wx = x0 + ww * (1 + 2 * i)
            c.rect(wx, wy, wx + ww, wy + wh, WINDOW, r=1.5)
            if shutter:
                c.rect(wx - ww * 0.35, wy, wx - 0.5, wy + wh, shutter)
                c.rect(wx + ww + 0.5, wy, wx + ww * 1.35, wy + wh, shutter)
    if door:
        dx = (x0 + x1) / 2
        c.rect(dx - ww * 0.55, ybase - 20, dx + ww * 0.55, ybase, "#8A5A3C", r=2)


def flowers(c, rng, x0, x1, y0, y1, n, colours=(CORAL, YELLOW, WHITE, "#C97BD6")):
    for _ in range(n):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        c.circle(x, y, rng.uniform(1.8, 3.4), rng.choice(colours))


def shadow(c, cx, cy, rx, ry, alpha=0.22):
    c.ellipse(cx, cy, rx, ry, SHADE, alpha=alpha)


def backdrop(c, rng, horizon, sun_xy=(740, 130), sun_r=44, far=None, mid=None,
             clouds=((200, 90, 1.0), (560, 70, 0.7)), light_from=None):
    """Sky, sun, clouds and two mountain ranges down to ``horizon``."""
    sky(c, horizon + 40)
    if sun_xy:
        sun(c, sun_xy[0], sun_xy[1], sun_r)
    for x, y, k in clouds:
        cloud(c, x, y, k)
    if light_from is None:
        light_from = -1 if (sun_xy and sun_xy[0] < W / 2) else 1
    # light_from=-1 means the light comes from the left: shade the right faces.
    lf = 1 if light_from < 0 else -1
    if far:
        mountains(c, far, FAR_MOUNT, horizon + 60, rng, snow_above=200, light_from=-lf,
                  shade_alpha=0.10)
    if mid:
        mountains(c, mid, MID_MOUNT, horizon + 60, rng, snow_above=215, snow_depth=20,
                  light_from=-lf, shade_alpha=0.14)


# --------------------------------------------------------------------------
# Scenes
# --------------------------------------------------------------------------


def olive_terraces(c, rng, x0, x1, rows):
    """Ligurian terraces: curved dry-stone edges with a few olive trees."""
    for j, y in enumerate(rows):
        terms = [(5, 260 + 40 * j, 0.7 * j + 0.4), (2, 90, j)]
        edge = wave_points(x0, x1, y, terms, step=5)
        c.poly(edge + [(x1, y + 40), (x0, y + 40)], HILL_NEAR, alpha=0.22 + 0.06 * j)
        c.line(edge, "#CDB892", 4, caps=False)
        c.line([(px, py + 3) for px, py in edge], DARK_GREEN, 2, alpha=0.25, caps=False)
        x = x0 + rng.uniform(10, 40)
        while x < x1 - 14:
            ty = y + sum(a * math.sin(2 * math.pi * x / l + ph) for a, l, ph in terms)
            r = rng.uniform(9, 13)
            c.rect(x - 1.6, ty - 12, x + 1.6, ty - 1, TRUNK)
            c.circle(x, ty - 12 - r * 0.6, r, "#93B880")
            c.circle(x + r * 0.35, ty - 12 - r * 0.4, r * 0.72, "#7CA56C")
            x += rng.uniform(56, 92)


def scene_cover():
    rng = random.Random(11)
    c = Canvas()
    horizon = 318
    backdrop(
        c, rng, horizon, sun_xy=(760, 120), sun_r=46,
        clouds=((170, 86, 1.0), (470, 58, 0.62), (905, 214, 0.5)),
        far=[(-20, 250), (70, 160), (170, 215), (285, 118), (400, 205), (505, 150), (615, 232),
             (700, 205), (790, 290), (880, 318)],
        mid=[(-20, 300), (50, 222), (150, 280), (245, 205), (345, 292), (440, 240), (545, 318),
             (600, 330)],
    )
    sea(c, horizon, H, rng, sun_x=760, count=90)
    # distant coastal town at the foot of the mountains
    band = wave_points(-10, 600, horizon + 2, [(3, 120, 0.3), (2, 57, 1.0)])
    c.poly(band + [(640, horizon + 14), (600, horizon + 22), (-10, horizon + 22)], HILL_FAR)
    for x, w, h, col in [(40, 22, 20, WALL_OCHRE), (66, 18, 26, WALL_PINK), (88, 20, 18, WALL_CREAM),
                         (300, 20, 22, WALL_YELLOW), (324, 24, 16, WALL_PINK), (352, 18, 24, WALL_OCHRE),
                         (520, 16, 14, WALL_CREAM), (540, 18, 18, WALL_PINK)]:
        top = horizon - h + 12
        c.rect(x, top, x + w, horizon + 16, col)
        c.poly([(x - 2, top + 1), (x + w / 2, top - 6), (x + w + 2, top + 1)], ROOF)
    # sailing boats
    for x, y, k in ((660, 356, 1.0), (486, 470, 0.9), (880, 344, 0.7)):
        c.poly([(x - 18 * k, y), (x + 18 * k, y), (x + 12 * k, y + 7 * k), (x - 12 * k, y + 7 * k)], WHITE)
        c.poly([(x, y - 2), (x, y - 38 * k), (x + 18 * k, y - 4)], WHITE)
        c.poly([(x - 2, y - 4), (x - 2, y - 30 * k), (x - 14 * k, y - 4)], CORAL)
    road_y = 414
    # left headland: village above the road, olive terraces below
    top_l = wave_points(-10, 380, 396, [(6, 300, 0.9), (3, 90, 2.0)])
    c.poly(top_l + [(392, road_y), (404, 460), (398, 520), (410, 610), (-10, 610)], GRASS)
    cols = [WALL_OCHRE, WALL_PINK, WALL_YELLOW, WALL_CREAM, WALL_PINK, WALL_OCHRE]
    for i, x in enumerate([20, 76, 124, 182, 236, 288]):
        w = 50 if i % 2 == 0 else 44
        house(c, x, x + w, road_y - (74 if i % 3 == 0 else 60), road_y, cols[i], windows=2, rows=2,
              door=(i % 2 == 1))
    cypress(c, 356, road_y, 78)
    cypress(c, 342, road_y, 56)
    olive_terraces(c, rng, -10, 372, (470, 530, 592))
    # right headland with the border post
    top_r = wave_points(578, W + 10, 404, [(5, 240, 2.1), (3, 80, 0.4)])
    c.poly([(578, road_y)] + top_r + [(W + 10, 610), (552, 610), (566, 530), (560, 470)], GRASS)
    olive_terraces(c, rng, 600, W + 10, (470, 530, 592))
    pine(c, 906, road_y, 96)
    round_tree(c, 852, road_y, 70, HILL_MID)
    # cliff faces of the ravine
    c.poly([(360, road_y), (392, road_y), (404, 460), (398, 520), (410, 610), (344, 610), (372, 520),
            (356, 460)], ROCK)
    c.poly([(380, road_y), (392, road_y), (404, 460), (398, 520), (410, 610), (384, 610), (384, 520),
            (386, 460)], ROCK_DARK, alpha=0.6)
    c.poly([(578, road_y), (610, road_y), (616, 470), (600, 530), (614, 610), (552, 610), (566, 530),
            (560, 470)], ROCK)
    c.poly([(578, road_y), (590, road_y), (578, 470), (584, 530), (576, 610), (552, 610), (566, 530),
            (560, 470)], ROCK_DARK, alpha=0.45)
    # the road
    c.rect(-10, road_y, 392, road_y + 10, "#9AA1B2")
    c.rect(578, road_y, W + 10, road_y + 10, "#9AA1B2")
    c.rect(-10, road_y + 10, 392, road_y + 13, "#C9B48E")
    c.rect(578, road_y + 10, W + 10, road_y + 13, "#C9B48E")
    # arched stone bridge over the ravine (the old border crossing)
    bridge = "#EBD2AB"
    body = c.mask()
    body.rect(380, road_y - 2, 590, 640)
    hole = c.mask()
    hole.ellipse(485, road_y + 150, 86, 124)
    hole.rect(399, road_y + 150, 571, 640)
    stone = ImageChops.subtract(body.img, hole.img)
    c.paint(bridge, stone)
    c.paint(SHADE, stone, alpha=0.10, clip=_rect_mask(c, 485, 0, W, H))
    for i in range(13):  # voussoirs
        a = math.radians(180 + i * 15)
        x0, y0 = 485 + math.cos(a) * 86, road_y + 150 + math.sin(a) * 124
        x1, y1 = 485 + math.cos(a) * 100, road_y + 150 + math.sin(a) * 138
        c.line([(x0, y0), (x1, y1)], "#C9A97F", 1.5)
    c.arc(485, road_y + 150, 100, 180, 360, "#C9A97F", 1.5)
    c.rect(376, road_y - 4, 594, road_y + 4, "#C9A97F", r=2)
    for x in range(384, 590, 14):  # parapet balusters
        c.rect(x, road_y - 20, x + 7, road_y - 4, bridge, r=2)
    c.rect(376, road_y - 26, 594, road_y - 19, bridge, r=3)
    c.rect(376, road_y - 26, 594, road_y - 24, WHITE, alpha=0.4)
    # border post on the right end: booth and raised barrier
    c.rect(610, road_y - 46, 652, road_y, WHITE)
    c.rect(632, road_y - 46, 652, road_y, SHADE, alpha=0.07)
    c.rect(604, road_y - 58, 658, road_y - 46, TEAL, r=2)
    c.rect(618, road_y - 36, 644, road_y - 18, WINDOW, r=2)
    c.rect(666, road_y - 28, 676, road_y + 2, NAVY, r=2)
    pivot = (671, road_y - 22)
    end = (pivot[0] + 96 * math.cos(math.radians(-60)), pivot[1] + 96 * math.sin(math.radians(-60)))
    c.line([pivot, end], WHITE, 5)
    for i in range(0, 6, 2):
        t0, t1 = i / 6, (i + 1) / 6
        p0 = (pivot[0] + (end[0] - pivot[0]) * t0, pivot[1] + (end[1] - pivot[1]) * t0)
        p1 = (pivot[0] + (end[0] - pivot[0]) * t1, pivot[1] + (end[1] - pivot[1]) * t1)
        c.line([p0, p1], CORAL, 5, caps=False)
    c.circle(pivot[0], pivot[1], 4, NAVY)
    # two regional pennants, one at each end of the bridge (not national flags)
    c.rect(374.5, 330, 377.5, road_y - 20, NAVY)
    c.poly([(374.5, 332), (340, 342), (374.5, 352)], TEAL)
    c.rect(592.5, 330, 595.5, road_y - 20, NAVY)
    c.poly([(595.5, 332), (630, 342), (595.5, 352)], YELLOW)
    birds(c, [(560, 170, 1.0), (590, 186, 0.8), (612, 160, 0.7)])
    return c


def scene_bus():
    rng = random.Random(23)
    c = Canvas()
    horizon = 300
    backdrop(
        c, rng, horizon, sun_xy=(170, 118), sun_r=42,
        clouds=((420, 80, 0.8), (760, 110, 1.0)),
        far=[(300, 300), (420, 200), (520, 248), (640, 150), (760, 220), (860, 170), (980, 230)],
        mid=[(470, 300), (560, 262), (650, 285), (760, 215), (870, 268), (980, 240)],
    )
    sea(c, horizon, 440, rng, sun_x=170, count=70)
    # headland on the right going into the sea
    hill(c, 330, [(10, 280, 0.5), (5, 90, 2.0)], HILL_MID, x0=560, x1=W + 10)
    c.poly([(520, 336), (560, 322), (600, 330), (600, 350), (520, 350)], HILL_MID)
    for x, w, h, col in ((640, 22, 22, WALL_OCHRE), (664, 18, 28, WALL_PINK), (686, 24, 18, WALL_CREAM),
                         (840, 22, 24, WALL_YELLOW), (866, 18, 18, WALL_PINK)):
        top = 318 - h + (x - 640) * 0.0
        c.rect(x, top, x + w, 332, col)
        c.poly([(x - 2, top + 1), (x + w / 2, top - 7), (x + w + 2, top + 1)], ROOF)
    # small boats
    for x, y, k in ((360, 360, 0.8), (240, 392, 1.0)):
        c.poly([(x - 18 * k, y), (x + 18 * k, y), (x + 12 * k, y + 7 * k), (x - 12 * k, y + 7 * k)], WHITE)
        c.poly([(x, y - 2), (x, y - 38 * k), (x + 18 * k, y - 4)], WHITE)
    # sea wall, guardrail
    c.rect(-10, 418, W + 10, 440, "#E6D3B3")
    for x in range(-10, W + 10, 36):
        c.rect(x, 418, x + 34, 420, "#CDB690")
    c.rect(-10, 402, W + 10, 407, "#F3F4F7", r=2)
    for x in range(10, W, 60):
        c.rect(x, 402, x + 5, 420, "#C9CED8")
    # palms along the road
    palm(c, 90, 420, 170, lean=0.6)
    palm(c, 820, 420, 150, lean=-0.5)
    palm(c, 880, 420, 120, lean=0.4)
    # road
    c.rect(-10, 438, W + 10, 446, "#C9CED8")
    c.rect(-10, 446, W + 10, 512, ASPHALT)
    for x in range(-20, W + 20, 70):
        c.rect(x, 477, x + 38, 481, WHITE, alpha=0.85)
    c.rect(-10, 512, W + 10, 518, "#C9CED8")
    # verge with stone wall and flowers
    c.rect(-10, 518, W + 10, 610, GRASS)
    hill(c, 560, [(6, 230, 0.4), (3, 70, 1.2)], HILL_NEAR)
    flowers(c, rng, 0, W, 526, 596, 130)
    # the bus (heading right)
    bx0, bx1, by0, by1 = 250, 720, 318, 482
    shadow(c, (bx0 + bx1) / 2, 494, 250, 10, alpha=0.3)
    body = c.mask()
    body.rect(bx0, by0, bx1 - 30, by1, r=22)
    body.poly([(bx1 - 60, by0), (bx1 - 28, by0 + 2), (bx1 - 6, by0 + 40), (bx1, by0 + 70), (bx1, by1 - 18),
               (bx1 - 18, by1), (bx1 - 60, by1)])
    body.rect(bx1 - 80, by0 + 40, bx1, by1, r=18)
    c.paint("#FBF8F1", body)
    # lower skirt and stripes
    c.rect(bx0, by1 - 46, bx1 + 2, by1 + 2, TEAL, clip=body)
    c.rect(bx0, by1 - 56, bx1 + 2, by1 - 48, CORAL, clip=body)
    c.rect(bx0, by1 - 62, bx1 + 2, by1 - 58, YELLOW, clip=body)
    c.rect(bx0, by0, bx1 + 2, by0 + 12, "#E9E4D8", clip=body)
    # windows
    wy0, wy1 = by0 + 22, by0 + 84
    c.rect(bx0 + 16, wy0, bx1 - 108, wy1, "#35507E", r=8)
    for x in range(bx0 + 16, bx1 - 108, 74):
        c.line([(x + 30, wy0 + 2), (x + 12, wy1 - 2)], WHITE, 6, alpha=0.12, caps=False)
    for x in range(bx0 + 88, bx1 - 110, 74):
        c.rect(x, wy0, x + 6, wy1, "#FBF8F1")
    # passengers
    for x, col, sk in ((bx0 + 50, CORAL, SKIN[0]), (bx0 + 126, YELLOW, SKIN[2]), (bx0 + 270, TEAL, SKIN[1]),
                       (bx0 + 338, WALL_PINK, SKIN[3])):
        c.circle(x, wy1 - 30, 9, sk)
        c.pie(x, wy1 - 30, 9.4, 180, 360, NAVY)
        c.rect(x - 14, wy1 - 20, x + 14, wy1 + 4, col, r=8, clip=_rect_mask(c, 0, 0, W, wy1))
    # door
    dx0, dx1 = bx1 - 100, bx1 - 50
    c.rect(dx0, wy0, dx1, by1 - 8, "#35507E", r=5)
    c.rect(dx0 + 24, wy0, dx0 + 26, by1 - 8, "#FBF8F1")
    c.rect(dx0 + 4, wy1 + 10, dx1 - 4, by1 - 12, "#4A6A9C", r=3)
    c.rect(dx0 + 24, wy0, dx0 + 26, by1 - 8, "#FBF8F1")
    # windscreen
    c.poly([(bx1 - 44, wy0), (bx1 - 26, wy0), (bx1 - 6, wy0 + 40), (bx1 - 3, wy1 + 18), (bx1 - 44, wy1 + 18)],
           "#35507E")
    c.line([(bx1 - 30, wy0 + 6), (bx1 - 40, wy1 + 10)], WHITE, 4, alpha=0.2)
    # route display (blank coloured strip) and lights
    c.rect(bx0 + 20, by0 + 4, bx0 + 120, by0 + 15, "#FFB347", r=3)
    c.rect(bx1 - 40, by0 + 4, bx1 - 16, by0 + 15, "#FFB347", r=3)
    c.rect(bx1 - 14, by1 - 40, bx1 + 1, by1 - 28, "#FFF1B8", r=4)
    c.rect(bx0 - 1, by1 - 44, bx0 + 8, by1 - 26, "#E0473C", r=3)
    c.line([(bx1 - 4, wy0 + 18), (bx1 + 12, wy0 + 14), (bx1 + 14, wy0 + 34)], NAVY, 3)
    c.rect(bx1 + 9, wy0 + 28, bx1 + 19, wy0 + 48, NAVY, r=3)
    # wheels
    for wx in (bx0 + 90, bx1 - 150):
        c.circle(wx, by1 + 2, 36, "#2B3040", clip=_rect_mask(c, 0, by1 - 60, W, H))
        c.circle(wx, by1 + 2, 38, "#1F2330", clip=_rect_mask(c, 0, by1 - 60, W, by1 - 4))
        c.circle(wx, by1 + 4, 28, "#2A2E3B")
        c.circle(wx, by1 + 4, 13, "#C9CED8")
        c.circle(wx, by1 + 4, 5, "#8A91A3")
    # bus stop on the left
    c.rect(40, 372, 44, 446, "#8A91A3")
    c.circle(42, 366, 14, TEAL)
    c.circle(42, 366, 9, WHITE)
    c.rect(37, 361, 47, 369, TEAL, r=2)
    return c


def bicycle(c, x, y, k=1.0, frame=CORAL):
    """A city bike with a basket; (x, y) is the ground under the crank."""
    r = 64 * k
    rear = (x - 104 * k, y - r)
    front = (x + 104 * k, y - r)
    crank = (x, y - r + 4 * k)
    seat = (x - 30 * k, y - r - 92 * k)
    head = (x + 84 * k, y - r - 84 * k)
    for cx, cy in (rear, front):
        c.arc(cx, cy, r, 0, 360, "#2B3040", 7 * k)  # tyre (arc width grows inwards)
        c.arc(cx, cy, r - 7 * k, 0, 360, "#C9CED8", 2.5 * k)  # rim
        for i in range(12):
            a = math.radians(i * 30 + 7)
            c.line([(cx, cy), (cx + math.cos(a) * (r - 8 * k), cy + math.sin(a) * (r - 8 * k))],
                   "#A4ABBB", 1.1 * k, caps=False)
        c.circle(cx, cy, 7 * k, "#8A91A3")
    # frame
    fw = 7 * k
    c.line([rear, crank], frame, fw)
    c.line([rear, (seat[0] + 4 * k, seat[1] + 14 * k)], frame, fw)
    c.line([(seat[0] + 2 * k, seat[1] + 10 * k), crank], frame, fw)
    c.line([crank, (head[0] - 4 * k, head[1] + 24 * k)], frame, fw)
    c.line([(head[0] - 4 * k, head[1] + 24 * k), (head[0] + 6 * k, head[1] - 4 * k)], frame, fw)
    c.line([(head[0] - 2 * k, head[1] + 18 * k), front], frame, fw * 0.9)
    # mudguards
    c.arc(rear[0], rear[1], r + 5 * k, 190, 330, frame, 5 * k)
    c.arc(front[0], front[1], r + 5 * k, 210, 350, frame, 5 * k)
    # saddle and seat post
    c.line([(seat[0] + 4 * k, seat[1] + 14 * k), (seat[0], seat[1])], "#2B3040", 5 * k)
    c.poly([(seat[0] - 22 * k, seat[1] - 4 * k), (seat[0] + 16 * k, seat[1] - 6 * k),
            (seat[0] + 20 * k, seat[1] + 2 * k), (seat[0] - 16 * k, seat[1] + 4 * k)], "#5B3A29")
    # handlebar
    hb = (head[0] + 6 * k, head[1] - 4 * k)
    c.line([hb, (hb[0] - 20 * k, hb[1] - 10 * k), (hb[0] - 36 * k, hb[1] - 8 * k)], "#2B3040", 4.5 * k)
    c.line([(hb[0] - 38 * k, hb[1] - 8 * k), (hb[0] - 28 * k, hb[1] - 9 * k)], "#5B3A29", 7 * k)
    # crank, pedals, chain guard
    c.line([(rear[0] + 6 * k, rear[1] + 4 * k), (crank[0], crank[1] + 12 * k)], "#8A91A3", 2.5 * k)
    c.circle(crank[0], crank[1], 14 * k, "#8A91A3")
    c.circle(crank[0], crank[1], 6 * k, "#2B3040")
    c.line([crank, (crank[0] + 16 * k, crank[1] + 22 * k)], "#2B3040", 4 * k)
    c.rect(crank[0] + 8 * k, crank[1] + 20 * k, crank[0] + 26 * k, crank[1] + 26 * k, "#2B3040", r=2 * k)
    # kickstand
    c.line([(crank[0] - 14 * k, crank[1] + 4 * k), (crank[0] - 34 * k, y)], "#2B3040", 3.5 * k)
    # basket with flowers and a baguette
    bx, by = front[0] + 8 * k, head[1] + 6 * k
    c.line([(bx - 20 * k, by - 24 * k), (bx + 38 * k, by - 40 * k)], "#E9C27A", 9 * k)
    c.line([(bx - 20 * k, by - 24 * k), (bx + 38 * k, by - 40 * k)], "#D2A45C", 2 * k, alpha=0.6)
    for i, col in enumerate((CORAL, YELLOW, "#C97BD6", CORAL, WHITE)):
        fx = bx - 14 * k + i * 13 * k
        fy = by - 22 * k - (i % 2) * 8 * k
        c.line([(fx, fy + 6 * k), (fx, by - 4 * k)], DARK_GREEN, 2 * k)
        c.circle(fx, fy, 7 * k, col)
        c.circle(fx, fy, 2.6 * k, YELLOW if col != YELLOW else CORAL)
    c.poly([(bx - 26 * k, by - 8 * k), (bx + 32 * k, by - 8 * k), (bx + 26 * k, by + 30 * k),
            (bx - 20 * k, by + 30 * k)], "#C98F52")
    for i in range(1, 4):
        yy = by - 8 * k + i * 9.5 * k
        c.line([(bx - 25 * k + i * 1.5 * k, yy), (bx + 31 * k - i * 1.5 * k, yy)], "#A8713D", 1.6 * k, caps=False)
    for i in range(1, 5):
        xx = bx - 26 * k + i * 11.6 * k
        c.line([(xx, by - 8 * k), (xx + (i - 2.5) * -0.8 * k, by + 30 * k)], "#A8713D", 1.6 * k, caps=False)
    c.rect(bx - 28 * k, by - 12 * k, bx + 34 * k, by - 6 * k, "#A8713D", r=2 * k)


def bike_icon(c, x, y, k, colour=WHITE, alpha=0.85):
    """The painted cycle-lane pictogram (flattened by perspective)."""
    m = c.mask()
    for cx in (x - 22 * k, x + 22 * k):
        m.ellipse(cx, y, 14 * k, 6 * k)
    inner = c.mask()
    for cx in (x - 22 * k, x + 22 * k):
        inner.ellipse(cx, y, 10.5 * k, 3.8 * k)
    ring = ImageChops.subtract(m.img, inner.img)
    lines = c.mask()
    lines.line([(x - 22 * k, y), (x - 4 * k, y - 1 * k), (x + 10 * k, y - 6 * k), (x - 8 * k, y - 6 * k),
                (x - 22 * k, y)], width=2.4 * k)
    lines.line([(x - 4 * k, y - 1 * k), (x - 10 * k, y - 9 * k)], width=2.4 * k)
    lines.line([(x + 10 * k, y - 6 * k), (x + 22 * k, y), ], width=2.4 * k)
    lines.line([(x + 10 * k, y - 6 * k), (x + 8 * k, y - 10 * k), (x + 13 * k, y - 11 * k)], width=2.4 * k)
    lines.line([(x - 14 * k, y - 9.5 * k), (x - 6 * k, y - 9.5 * k)], width=2.4 * k)
    full = ImageChops.lighter(ring, lines.img)
    c.paint(colour, full, alpha)


def parasol(c, x, ybase, h, colour):
    top = ybase - h
    c.line([(x, top), (x, ybase)], "#8A91A3", 2.2)
    m = c.mask()
    m.pie(x, top + 16, 36, 180, 360)
    c.paint(colour, m)
    for i in range(1, 6, 2):
        a0, a1 = 180 + i * 30, 180 + (i + 1) * 30
        c.pie(x, top + 16, 36, a0, a1, WHITE, clip=m)
    c.circle(x, top - 2, 2.5, colour)


def scene_bike():
    rng = random.Random(37)
    c = Canvas()
    horizon = 282
    backdrop(
        c, rng, horizon, sun_xy=(810, 112), sun_r=40,
        clouds=((150, 80, 0.9), (520, 120, 0.65)),
        far=[(-20, 240), (60, 150), (150, 210), (250, 170), (330, 282), (360, 290)],
        mid=[(-20, 268), (40, 226), (120, 266), (200, 234), (300, 290), (330, 300)],
    )
    sea(c, horizon, 402, rng, sun_x=810, count=40)
    # beach with parasols
    beach = wave_points(-10, W + 10, 402, [(3, 200, 0.3), (2, 70, 1.0)])
    c.poly(beach + [(W + 10, 460), (-10, 460)], SAND)
    c.poly(beach + [(x, y + 5) for x, y in reversed(beach)], WHITE, alpha=0.6)
    for x, col in ((150, CORAL), (260, TEAL), (370, YELLOW), (480, CORAL), (700, TEAL)):
        shadow(c, x + 10, 440, 30, 5, alpha=0.14)
        parasol(c, x, 440, 70, col)
    # promenade railing
    c.rect(-10, 446, W + 10, 462, "#EFE3CF")
    c.rect(-10, 440, W + 10, 444, "#F7F9FD", r=2)
    for x in range(0, W + 10, 28):
        c.rect(x, 440, x + 3, 452, "#F7F9FD")
    # palms and a street lamp
    palm(c, 60, 456, 200, lean=0.5)
    palm(c, 900, 456, 180, lean=-0.6)
    c.rect(745, 300, 750, 460, NAVY)
    c.line([(747, 304), (760, 292), (776, 296)], NAVY, 4)
    c.rect(768, 296, 786, 306, NAVY, r=3)
    c.ellipse(777, 308, 7, 3, WARM_LIGHT)
    # cycle path
    c.rect(-10, 462, W + 10, 470, "#DCE0E7")
    c.rect(-10, 470, W + 10, 556, "#D9735D")
    c.rect(-10, 470, W + 10, 476, SHADE, alpha=0.10)
    c.rect(-10, 472, W + 10, 475, WHITE, alpha=0.9)
    c.rect(-10, 551, W + 10, 554, WHITE, alpha=0.9)
    for x in range(-30, W + 30, 64):
        c.rect(x, 511, x + 34, 515, WHITE, alpha=0.9)
    bike_icon(c, 120, 534, 1.3)
    bike_icon(c, 840, 494, 1.1)
    c.rect(-10, 556, W + 10, 610, GRASS)
    hill(c, 578, [(5, 210, 0.9), (2, 60, 0.2)], HILL_NEAR)
    flowers(c, rng, 0, W, 562, 598, 55)
    # the bicycle
    shadow(c, 480, 548, 190, 7, alpha=0.3)
    bicycle(c, 470, 546, 1.0, frame=TEAL)
    birds(c, [(600, 170, 1.0), (630, 186, 0.8)])
    return c


def awning(c, x0, x1, y0, y1, colour, stripes=7):
    """A striped market awning with a scalloped edge."""
    m = c.mask()
    m.poly([(x0 + 10, y0), (x1 - 10, y0), (x1 + 6, y1), (x0 - 6, y1)])
    sw = (x1 - x0 + 12) / stripes
    for i in range(stripes):
        scx = x0 - 6 + sw * (i + 0.5)
        m.circle(scx, y1, sw / 2)
    c.paint(colour, m)
    for i in range(1, stripes, 2):
        ux0 = x0 + 10 + (x1 - x0 - 20) * i / stripes
        ux1 = x0 + 10 + (x1 - x0 - 20) * (i + 1) / stripes
        lx0 = x0 - 6 + sw * i
        lx1 = x0 - 6 + sw * (i + 1)
        c.poly([(ux0, y0), (ux1, y0), (lx1, y1 + 40), (lx0, y1 + 40)], WHITE, clip=m)
    c.rect(x0 - 10, y1 - 4, x1 + 10, y1 + 40, SHADE, alpha=0.08, clip=m)
    c.rect(x0 + 4, y0 - 6, x1 - 4, y0 + 2, NAVY, r=3)


def crate(c, x, y, w, h, fruit, rng, fruit_r=9):
    """A wooden crate (x, y top-left) heaped with round produce."""
    # produce heap first, crate front over it
    n = int(w / (fruit_r * 1.6))
    for row in range(2):
        for i in range(n + (1 - row)):
            fx = x + fruit_r + i * (w - 2 * fruit_r) / max(1, n - (row == 1)) + rng.uniform(-2, 2)
            if row == 1:
                fx = x + fruit_r * 1.8 + i * (w - 3.6 * fruit_r) / max(1, n - 1)
            fy = y + 2 - row * fruit_r * 1.1 + rng.uniform(-1.5, 1.5)
            if fruit == "lettuce":
                c.circle(fx, fy, fruit_r * 1.15, "#7CC36E")
                c.circle(fx - 2, fy - 2, fruit_r * 0.6, "#A8DB8C")
            elif fruit == "grapes":
                for gx, gy in ((-4, -3), (4, -3), (0, 0), (-4, 3), (4, 3), (0, 6)):
                    c.circle(fx + gx * fruit_r / 9, fy + gy * fruit_r / 9, fruit_r * 0.42, "#7B4FA0")
            elif fruit == "carrots":
                c.poly([(fx - 5, fy - 6), (fx + 5, fy - 6), (fx + 1, fy + 18), (fx - 1, fy + 18)], "#F08A2C")
                c.line([(fx, fy - 6), (fx - 3, fy - 14)], "#4FA35A", 2.5)
                c.line([(fx, fy - 6), (fx + 3, fy - 15)], "#4FA35A", 2.5)
            else:
                colour = {"oranges": "#F59A2E", "apples": "#E5493F", "lemons": "#F7D13E",
                          "tomatoes": "#E0352B", "pears": "#B6CF4F"}[fruit]
                c.circle(fx, fy, fruit_r, colour)
                c.circle(fx - fruit_r * 0.35, fy - fruit_r * 0.35, fruit_r * 0.28, WHITE, alpha=0.35)
                if fruit in ("apples", "tomatoes", "pears"):
                    c.line([(fx, fy - fruit_r), (fx + 2, fy - fruit_r - 4)], "#4FA35A", 2)
    c.rect(x, y, x + w, y + h, "#C98F52", r=2)
    c.rect(x, y + h * 0.45, x + w, y + h * 0.55, "#A8713D")
    c.rect(x + w * 0.45, y + 3, x + w * 0.55, y + h - 3, "#D9A46A", alpha=0.6)
    c.rect(x, y + h - 3, x + w, y + h, "#A8713D")


def scene_market():
    rng = random.Random(41)
    c = Canvas()
    horizon = 260
    backdrop(
        c, rng, horizon, sun_xy=(160, 92), sun_r=36,
        clouds=((420, 62, 0.75), (800, 90, 0.9)),
        far=[(-20, 230), (110, 150), (230, 200), (360, 130), (480, 196), (600, 150), (720, 210),
             (850, 140), (980, 210)],
        mid=None,
    )
    hill(c, 236, [(10, 320, 0.8), (5, 110, 2.2)], HILL_FAR)
    # village backdrop: houses and a bell tower
    c.rect(640, 120, 690, 270, WALL_OCHRE)
    c.rect(672, 120, 690, 270, SHADE, alpha=0.08)
    c.poly([(634, 122), (665, 84), (696, 122)], ROOF)
    c.rect(654, 140, 676, 172, NAVY, r=10)
    c.circle(665, 196, 10, WHITE)
    c.line([(665, 196), (665, 190)], NAVY, 1.6)
    c.line([(665, 196), (670, 198)], NAVY, 1.6)
    specs = [(-10, 70, 200, WALL_PINK), (60, 130, 184, WALL_YELLOW), (130, 210, 206, WALL_CREAM),
             (210, 290, 192, WALL_OCHRE), (290, 370, 210, WALL_PINK), (370, 450, 190, WALL_CREAM),
             (450, 530, 204, WALL_YELLOW), (530, 630, 196, WALL_PINK), (700, 780, 200, WALL_CREAM),
             (780, 860, 184, WALL_OCHRE), (860, 970, 206, WALL_PINK)]
    for x0, x1, top, col in specs:
        house(c, x0, x1, top, 300, col, windows=2, rows=2, door=False, roof_h=14)
    # piazza
    c.rect(-10, 296, W + 10, 610, "#EBDABF")
    for y in range(312, 600, 26):
        c.line([(-10, y), (W + 10, y)], "#DCC7A6", 1.2, caps=False)
    # bunting
    sag = lambda x: 200 + 24 * math.sin(math.pi * ((x % 320) / 320.0))
    c.line([(x, sag(x)) for x in range(-10, W + 12, 8)], NAVY, 1.4, alpha=0.7)
    cols = [CORAL, YELLOW, TEAL, WHITE, "#C97BD6"]
    for i, x in enumerate(range(8, W, 26)):
        y0, y1 = sag(x), sag(x + 16)
        c.poly([(x, y0), (x + 16, y1), (x + 8, (y0 + y1) / 2 + 18)], cols[i % len(cols)])
    # stalls
    stalls = [(34, 318, CORAL, ["tomatoes", "lettuce", "carrots"]),
              (340, 624, TEAL, ["apples", "pears", "grapes"]),
              (646, 930, YELLOW, ["oranges", "lemons", "apples"])]
    for si, (x0, x1, colour, goods) in enumerate(stalls):
        shadow(c, (x0 + x1) / 2, 522, (x1 - x0) / 2 + 10, 8, alpha=0.18)
        # poles
        for px in (x0 + 4, x1 - 8):
            c.rect(px, 300, px + 5, 522, "#8A5A3C")
        # vendor
        vx = x0 + (x1 - x0) * (0.35 + 0.3 * si / 2)
        person(c, vx, 518, 186, [TEAL, CORAL, "#6C7FD1"][si], skin=SKIN[si],
               hair=[NAVY, "#6B3F2A", "#4A3426"][si])
        # table
        c.rect(x0 - 4, 432, x1 + 4, 442, "#B97F55")
        c.rect(x0, 442, x1, 520, colour)
        c.rect(x0, 442, x1, 520, SHADE, alpha=0.10)
        for k in range(1, 4):
            c.line([(x0 + (x1 - x0) * k / 4, 446), (x0 + (x1 - x0) * k / 4, 518)], WHITE, 1.5, alpha=0.35)
        cw = (x1 - x0 - 24) / 3
        for gi, g in enumerate(goods):
            crate(c, x0 + 6 + gi * (cw + 6), 406, cw, 28, g, rng, fruit_r=11)
        awning(c, x0 - 6, x1 + 6, 250, 300, colour)
    # crates on the ground in front
    crate(c, 70, 548, 110, 34, "oranges", rng, fruit_r=11)
    crate(c, 200, 556, 100, 30, "lemons", rng, fruit_r=10)
    crate(c, 700, 552, 110, 32, "apples", rng, fruit_r=11)
    crate(c, 826, 558, 100, 28, "lettuce", rng, fruit_r=10)
    # shoppers
    person(c, 470, 596, 120, WALL_PINK, skin=SKIN[3], hair="#6B3F2A", bag=TEAL)
    person(c, 560, 600, 108, "#6C7FD1", skin=SKIN[2], hair=NAVY)
    c.rect(570, 540, 600, 556, "#D9A46A", r=4)
    c.circle(578, 538, 5, "#E5493F")
    c.circle(590, 537, 5, "#F59A2E")
    return c


def stone_wall(c, x0, y0, x1, y1, rng, clip=None):
    """Random-coursed stones over a base colour."""
    c.rect(x0, y0, x1, y1, STONE, clip=clip)
    m = clip
    y = y0 + 2
    while y < y1 - 4:
        h = rng.uniform(12, 18)
        x = x0 - rng.uniform(0, 20)
        while x < x1:
            w = rng.uniform(20, 42)
            tone = rng.choice(["#CDBFA6", "#E3D8C4", "#C7B79C", "#D6C8AF", "#E8DFCF"])
            c.rect(x + 1.5, y + 1.5, x + w - 1.5, y + h - 1.5, tone, r=4, clip=m)
            x += w
        y += h


def scene_coworking():
    rng = random.Random(53)
    c = Canvas()
    horizon = 300
    backdrop(
        c, rng, horizon, sun_xy=(812, 102), sun_r=40,
        clouds=((180, 82, 0.85), (560, 64, 0.6)),
        far=[(-20, 250), (90, 160), (200, 226), (320, 146), (440, 230), (560, 170), (680, 240),
             (800, 190), (980, 250)],
        mid=[(-20, 290), (80, 236), (190, 286), (300, 240), (420, 300)],
    )
    hill(c, 282, [(14, 380, 0.4), (6, 130, 1.7)], HILL_FAR)
    hill(c, 330, [(16, 420, 2.1), (6, 150, 0.2)], HILL_MID)
    for x, h in ((90, 60), (120, 46), (880, 54)):
        cypress(c, x, 340, h)
    hill(c, 470, [(10, 500, 0.9), (4, 160, 0.1)], GRASS)
    # old stone house
    hx0, hx1, top, base = 250, 600, 238, 478
    wall = c.mask()
    wall.poly([(hx0, top), ((hx0 + hx1) / 2, top - 86), (hx1, top), (hx1, base), (hx0, base)])
    stone_wall(c, hx0, top - 90, hx1, base, rng, clip=wall)
    c.rect((hx0 + hx1) / 2, top - 90, hx1, base, SHADE, alpha=0.10, clip=wall)
    c.rect(520, 120, 550, 190, "#B8A88E")
    c.rect(516, 114, 554, 124, "#9C8C72")
    c.poly([(hx0 - 22, top + 6), ((hx0 + hx1) / 2, top - 100), (hx1 + 22, top + 6), (hx1 + 22, top + 16),
            ((hx0 + hx1) / 2, top - 88), (hx0 - 22, top + 16)], ROOF)
    c.poly([((hx0 + hx1) / 2, top - 100), (hx1 + 22, top + 6), (hx1 + 22, top + 16),
            ((hx0 + hx1) / 2, top - 88)], ROOF_DARK, alpha=0.5)
    # big glazed opening (old barn door) showing the coworking room
    gx0, gx1, gy0, gy1 = 282, 568, 262, 466
    c.rect(gx0 - 10, gy0 - 10, gx1 + 10, gy1, "#A89878", r=8)
    glass = c.mask()
    glass.rect(gx0, gy0, gx1, gy1, r=4)
    c.paint(WARM_LIGHT, glass)
    c.gradient([(0, "#FFF3D6"), (1, "#FFD98F")], gy0, gy1, clip=glass)
    c.rect(gx0, gy0 + 118, gx1, gy1, "#F2C879", clip=glass)  # back wall lower
    # shelves and plants in the room
    c.rect(gx0 + 14, gy0 + 36, gx0 + 90, gy0 + 40, "#B97F55")
    for i, col in enumerate((CORAL, TEAL, NAVY, YELLOW)):
        c.rect(gx0 + 18 + i * 10, gy0 + 16, gx0 + 26 + i * 10, gy0 + 36, col)
    c.circle(gx0 + 72, gy0 + 26, 10, HILL_NEAR)
    c.rect(gx0 + 66, gy0 + 26, gx0 + 78, gy0 + 36, CORAL)
    # pendant lamps
    for lx in (gx0 + 150, gx0 + 230):
        c.line([(lx, gy0), (lx, gy0 + 34)], NAVY, 1.5)
        c.pie(lx, gy0 + 46, 16, 180, 360, NAVY)
        c.ellipse(lx, gy0 + 47, 10, 3, "#FFF7E0")
        c.poly([(lx - 14, gy0 + 48), (lx + 14, gy0 + 48), (lx + 44, gy0 + 140), (lx - 44, gy0 + 140)], WHITE,
               alpha=0.14, clip=glass)
    # people at desks with laptops
    desk_y = gy0 + 144
    for px, body, skin, hair in ((gx0 + 60, CORAL, SKIN[0], "#6B3F2A"), (gx0 + 146, TEAL, SKIN[2], NAVY),
                                 (gx0 + 232, "#6C7FD1", SKIN[1], NAVY)):
        c.circle(px, desk_y - 50, 13, skin, clip=glass)
        c.pie(px, desk_y - 50, 13.5, 170, 370, hair, clip=glass)
        c.rect(px - 24, desk_y - 36, px + 24, desk_y + 10, body, r=14, clip=glass)
        # laptop (back of the lid, facing us)
        c.poly([(px - 22, desk_y - 30), (px + 22, desk_y - 30), (px + 26, desk_y), (px - 26, desk_y)], "#C9CED8",
               clip=glass)
        c.circle(px, desk_y - 15, 4, WHITE, clip=glass)
        c.line([(px + 36, desk_y - 14), (px + 36, desk_y - 2)], WHITE, 8, clip=glass)  # mug
        c.arc(px + 42, desk_y - 8, 4, 270, 90, WHITE, 2, clip=glass)
    c.rect(gx0, desk_y, gx1, desk_y + 8, "#B97F55", clip=glass)
    c.rect(gx0 + 20, desk_y + 8, gx0 + 26, gy1, "#8A5A3C", clip=glass)
    c.rect(gx1 - 26, desk_y + 8, gx1 - 20, gy1, "#8A5A3C", clip=glass)
    # glazing bars and reflections
    for x in (gx0 + (gx1 - gx0) / 3, gx0 + 2 * (gx1 - gx0) / 3):
        c.rect(x - 3, gy0, x + 3, gy1, NAVY)
    c.rect(gx0, gy0 + 70, gx1, gy0 + 75, NAVY, clip=glass)
    for x in (gx0 + 40, gx0 + 200):
        c.poly([(x, gy0), (x + 30, gy0), (x - 40, gy1), (x - 70, gy1)], WHITE, alpha=0.10, clip=glass)
    # wooden lintel
    c.rect(gx0 - 16, gy0 - 20, gx1 + 16, gy0 - 8, "#8A5A3C", r=2)
    # wifi sign on the gable
    c.circle((hx0 + hx1) / 2, top - 28, 22, WHITE)
    for r in (6, 11, 16):
        c.arc((hx0 + hx1) / 2, top - 20, r, 225, 315, TEAL, 3)
    c.circle((hx0 + hx1) / 2, top - 20, 2.5, TEAL)
    # modern wing with a door
    c.rect(600, 330, 760, 478, "#F4EEE2")
    c.rect(600, 330, 760, 478, SHADE, alpha=0.06)
    c.rect(592, 318, 768, 332, NAVY, r=2)
    wing = c.mask()
    wing.rect(622, 352, 692, 452, r=3)
    c.paint(WARM_LIGHT, wing)
    c.rect(622, 420, 692, 452, "#F2C879", clip=wing)
    c.rect(628, 416, 686, 421, "#B97F55", clip=wing)  # a standing desk
    c.circle(652, 380, 9, SKIN[3], clip=wing)
    c.pie(652, 379, 9.5, 175, 365, "#C98F52", clip=wing)
    c.rect(640, 390, 664, 430, YELLOW, r=10, clip=wing)
    c.rect(668, 404, 684, 416, "#5A6275", clip=wing)  # screen
    c.rect(674, 416, 678, 420, "#5A6275", clip=wing)
    c.circle(632, 438, 8, HILL_NEAR, clip=wing)
    c.rect(627, 440, 637, 452, CORAL, clip=wing)
    c.rect(655, 352, 659, 452, NAVY)
    c.line([(650, 356), (630, 448)], WHITE, 6, alpha=0.12)
    c.rect(708, 372, 746, 478, TEAL, r=3)
    c.circle(738, 428, 3, "#FFE3A3")
    # garden: trees and a path to the door
    round_tree(c, 190, 488, 150, HILL_NEAR)
    round_tree(c, 840, 486, 120, GRASS)
    pine(c, 920, 480, 140)
    hill(c, 530, [(8, 340, 1.2), (3, 120, 0.3)], HILL_NEAR)
    c.poly([(708, 478), (746, 478), (800, 610), (680, 610)], "#E8D6B6")
    c.poly([(708, 478), (716, 478), (700, 610), (680, 610)], SHADE, alpha=0.05)
    flowers(c, rng, 0, 640, 540, 596, 80)
    flowers(c, rng, 820, W, 540, 596, 30)
    c.rect(240, 478, 610, 486, "#A89878")
    shadow(c, 626, 506, 70, 4, alpha=0.2)
    bicycle(c, 626, 506, 0.42, frame=CORAL)
    return c


def scene_telehealth():
    rng = random.Random(67)
    c = Canvas()
    horizon = 290
    backdrop(
        c, rng, horizon, sun_xy=(120, 96), sun_r=38,
        clouds=((420, 70, 0.8), (820, 60, 0.6)),
        far=[(-20, 250), (100, 170), (220, 230), (360, 140), (480, 220), (600, 160), (740, 240),
             (860, 180), (980, 240)],
        mid=[(540, 290), (650, 236), (760, 280), (870, 226), (980, 270)],
    )
    hill(c, 286, [(12, 360, 0.5), (5, 120, 1.4)], HILL_FAR)
    hill(c, 340, [(14, 420, 2.5), (5, 140, 0.7)], HILL_MID)
    c.rect(-10, 480, W + 10, 610, "#EBDABF")
    for y in range(500, 600, 24):
        c.line([(-10, y), (W + 10, y)], "#DCC7A6", 1.2, caps=False)
    # the clinic
    x0, x1, top, base = 60, 440, 204, 484
    c.rect(x0, top, x1, base, WALL_CREAM)
    c.rect(x1 - 110, top, x1, base, SHADE, alpha=0.07)
    c.poly([(x0 - 22, top + 4), (x0 + 18, top - 52), (x1 - 18, top - 52), (x1 + 22, top + 4)], ROOF)
    c.poly([((x0 + x1) / 2, top - 52), (x1 - 18, top - 52), (x1 + 22, top + 4), ((x0 + x1) / 2, top + 4)],
           ROOF_DARK, alpha=0.35)
    c.rect(x0 - 22, top + 2, x1 + 22, top + 10, ROOF_DARK)
    c.rect(x0, base - 22, x1, base, "#E3CDA7")
    # windows with shutters and flower boxes
    wy0, wy1 = top + 70, top + 154
    for wx in (x0 + 36, x0 + 272):
        c.rect(wx, wy0, wx + 56, wy1, WINDOW, r=3)
        c.rect(wx + 4, wy0 + 4, wx + 52, wy1 - 4, "#4E6A9A", r=2)
        c.rect(wx + 26, wy0 + 4, wx + 30, wy1 - 4, WINDOW)
        c.line([(wx + 44, wy0 + 8), (wx + 34, wy1 - 30)], WHITE, 5, alpha=0.14)
        c.rect(wx - 22, wy0, wx - 2, wy1, SHUTTER)
        c.rect(wx + 58, wy0, wx + 78, wy1, SHUTTER)
        for yy in range(int(wy0 + 8), int(wy1 - 4), 10):
            c.line([(wx - 19, yy), (wx - 5, yy)], "#2F7A68", 1.5, caps=False)
            c.line([(wx + 61, yy), (wx + 75, yy)], "#2F7A68", 1.5, caps=False)
        c.rect(wx - 6, wy1, wx + 62, wy1 + 8, "#E3CDA7")
        for fx in range(int(wx), int(wx + 58), 12):
            c.circle(fx + 9, wy1 - 4, 4.5, HILL_NEAR)
            c.circle(fx + 4, wy1 - 2, 5, CORAL)
    # door with glass and a green awning
    dx0, dx1 = 200, 290
    c.rect(dx0 - 8, 344, dx1 + 8, base, "#E3CDA7")
    c.rect(dx0, 352, dx1, base, "#3E9C86", r=3)
    c.rect(dx0 + 8, 360, (dx0 + dx1) / 2 - 3, base - 10, "#9ED8E0", r=2)
    c.rect((dx0 + dx1) / 2 + 3, 360, dx1 - 8, base - 10, "#9ED8E0", r=2)
    c.line([(dx0 + 30, 366), (dx0 + 14, 410)], WHITE, 5, alpha=0.3)
    awning(c, dx0 - 20, dx1 + 20, 318, 342, "#3FB56B", stripes=5)
    # the green cross sign above the door
    sx, sy, sr = (dx0 + dx1) / 2, 262, 36
    c.rect(sx - 3, top + 10, sx + 3, sy - sr, NAVY)
    c.rect(sx - sr, sy - sr, sx + sr, sy + sr, WHITE, r=12)
    c.rect(sx - sr + 5, sy - sr + 5, sx + sr - 5, sy + sr - 5, "#2FB36B", r=9)
    c.rect(sx - 9, sy - 24, sx + 9, sy + 24, WHITE, r=3)
    c.rect(sx - 24, sy - 9, sx + 24, sy + 9, WHITE, r=3)
    # bench and plant
    c.rect(88, 462, 176, 470, "#B97F55", r=2)
    c.rect(94, 470, 100, 486, NAVY)
    c.rect(164, 470, 170, 486, NAVY)
    c.rect(340, 452, 372, 486, CORAL, r=4)
    c.circle(356, 440, 18, HILL_NEAR)
    c.circle(346, 428, 10, GRASS)
    # telemedicine kiosk with the screen
    kx0, kx1, ky0, ky1 = 520, 900, 130, 398
    shadow(c, 710, 560, 130, 10, alpha=0.25)
    c.rect(690, ky1 - 4, 730, 556, "#8A91A3")
    c.rect(720, ky1 - 4, 730, 556, SHADE, alpha=0.12)
    c.rect(650, 550, 770, 562, "#6D7488", r=4)
    c.rect(kx0 - 6, ky0 - 6, kx1 + 6, ky1 + 6, "#2E3A4F", r=22)
    scr = c.mask()
    scr.rect(kx0 + 12, ky0 + 12, kx1 - 12, ky1 - 30, r=10)
    c.gradient([(0, "#DDF1FB"), (1, "#BFE3F4")], ky0, ky1, clip=scr)
    # doctor in the video
    cx, cy = 710, 238
    c.rect(kx0 + 12, cy + 44, kx1 - 12, ky1, "#A9D4EA", clip=scr)  # desk line behind
    shoulders = c.mask()
    shoulders.rect(cx - 92, cy + 32, cx + 92, cy + 200, r=60)
    c.paint(WHITE, shoulders, clip=scr)
    c.poly([(cx - 28, cy + 30), (cx + 28, cy + 30), (cx, cy + 92)], "#5B8FD9", clip=scr)  # shirt
    c.poly([(cx - 30, cy + 30), (cx - 4, cy + 96), (cx - 44, cy + 130), (cx - 52, cy + 40)], "#EEF2F7", clip=scr)
    c.poly([(cx + 30, cy + 30), (cx + 4, cy + 96), (cx + 44, cy + 130), (cx + 52, cy + 40)], "#EEF2F7", clip=scr)
    c.rect(cx - 12, cy + 10, cx + 12, cy + 36, SKIN[1], clip=scr)  # neck
    c.ellipse(cx, cy - 12, 34, 40, SKIN[1], clip=scr)
    c.pie(cx, cy - 18, 36, 180, 360, "#4A3426", clip=scr)
    c.ellipse(cx - 26, cy - 20, 10, 16, "#4A3426", clip=scr)
    c.ellipse(cx + 26, cy - 20, 10, 16, "#4A3426", clip=scr)
    c.circle(cx - 12, cy - 8, 3, NAVY, clip=scr)
    c.circle(cx + 12, cy - 8, 3, NAVY, clip=scr)
    c.arc(cx, cy + 6, 11, 30, 150, "#9C5B45", 2.5, clip=scr)
    # stethoscope
    c.arc(cx, cy + 30, 32, 15, 165, "#5A6275", 4, clip=scr)
    c.line([(cx - 30, cy + 40), (cx - 34, cy + 52)], "#5A6275", 4, clip=scr)
    c.line([(cx + 30, cy + 40), (cx + 38, cy + 60)], "#5A6275", 4, clip=scr)
    c.circle(cx + 38, cy + 64, 8, "#8A91A3", clip=scr)
    c.circle(cx + 38, cy + 64, 4, "#C9CED8", clip=scr)
    c.rect(cx - 66, cy + 50, cx - 44, cy + 56, "#5B8FD9", r=2, clip=scr)  # pocket pen
    # pulse card
    c.rect(kx0 + 26, ky0 + 28, kx0 + 130, ky0 + 84, WHITE, r=8, alpha=0.95, clip=scr)
    c.line([(kx0 + 36, ky0 + 58), (kx0 + 58, ky0 + 58), (kx0 + 66, ky0 + 42), (kx0 + 76, ky0 + 72),
            (kx0 + 86, ky0 + 50), (kx0 + 94, ky0 + 58), (kx0 + 120, ky0 + 58)], CORAL, 3, clip=scr)
    # heart
    hx, hy = kx0 + 48, ky0 + 116
    c.rect(kx0 + 26, ky0 + 96, kx0 + 70, ky0 + 138, WHITE, r=8, alpha=0.95, clip=scr)
    c.circle(hx - 6, hy - 4, 7, CORAL)
    c.circle(hx + 6, hy - 4, 7, CORAL)
    c.poly([(hx - 12.5, hy - 1), (hx + 12.5, hy - 1), (hx, hy + 13)], CORAL)
    # self view (patient)
    c.rect(kx1 - 112, ky0 + 24, kx1 - 26, ky0 + 90, "#FDF1DE", r=6, clip=scr)
    pv = c.mask()
    pv.rect(kx1 - 112, ky0 + 24, kx1 - 26, ky0 + 90, r=6)
    c.circle(kx1 - 69, ky0 + 54, 12, SKIN[3], clip=pv)
    c.pie(kx1 - 69, ky0 + 52, 13, 160, 380, "#C9CED8", clip=pv)
    c.rect(kx1 - 94, ky0 + 68, kx1 - 44, ky0 + 110, YELLOW, r=18, clip=pv)
    # call controls on a translucent bar
    c.rect(kx0 + 12, ky1 - 72, kx1 - 12, ky1 - 30, NAVY, alpha=0.45, clip=scr)
    by = ky1 - 51
    for i, col in enumerate(("#5A6275", CORAL, "#5A6275")):
        bx = 710 + (i - 1) * 52
        c.circle(bx, by, 17 if i == 1 else 14, col)
    c.rect(710 - 10, by - 3, 710 + 10, by + 3, WHITE, r=3)
    c.rect(658 - 4, by - 8, 658 + 4, by + 6, WHITE, r=4)
    c.rect(762 - 8, by - 6, 762 + 4, by + 6, WHITE, r=2)
    c.poly([(762 + 4, by), (762 + 10, by - 5), (762 + 10, by + 5)], WHITE)
    # bezel camera and a small speaker bar
    c.circle(710, ky0 + 3, 3, "#5A6275")
    c.rect(680, ky1 - 14, 740, ky1 - 9, "#465269", r=3)
    # patient standing at the kiosk
    person(c, 880, 562, 150, "#C97BD6", skin=SKIN[3], hair="#DADDE3", legs="#5A6275")
    c.line([(900, 492), (912, 562)], "#8A5A3C", 4)
    round_tree(c, 18, 488, 130, GRASS)
    return c


def banner(c, x, y0, y1, w, colour, motif):
    c.rect(x - w / 2 - 6, y0 - 6, x + w / 2 + 6, y0, NAVY, r=2)
    c.poly([(x - w / 2, y0), (x + w / 2, y0), (x + w / 2, y1), (x, y1 - 18), (x - w / 2, y1)], colour)
    c.poly([(x, y0), (x + w / 2, y0), (x + w / 2, y1), (x, y1 - 18)], SHADE, alpha=0.10)
    my = (y0 + y1) / 2 - 10
    if motif == "sun":
        c.circle(x, my, w * 0.22, WHITE)
        for i in range(8):
            a = math.radians(i * 45)
            c.line([(x + math.cos(a) * w * 0.3, my + math.sin(a) * w * 0.3),
                    (x + math.cos(a) * w * 0.38, my + math.sin(a) * w * 0.38)], WHITE, 3)
    else:  # mountains over waves
        c.poly([(x - w * 0.34, my + 8), (x - w * 0.08, my - 22), (x + 6, my - 6), (x + w * 0.14, my - 18),
                (x + w * 0.34, my + 8)], WHITE)
        for k in range(2):
            yy = my + 18 + k * 12
            c.line(wave_points(x - w * 0.32, x + w * 0.32, yy, [(3, w * 0.32, 0)], step=2), WHITE, 3)


def scene_services():
    rng = random.Random(79)
    c = Canvas()
    horizon = 300
    backdrop(
        c, rng, horizon, sun_xy=(150, 100), sun_r=38,
        clouds=((420, 72, 0.8), (820, 96, 0.95)),
        far=[(-20, 240), (120, 160), (260, 230), (380, 150), (520, 220), (640, 140), (780, 230),
             (880, 170), (980, 220)],
        mid=[(-20, 280), (80, 236), (180, 290)],
    )
    hill(c, 290, [(12, 380, 1.5), (5, 120, 0.6)], HILL_FAR)
    hill(c, 336, [(10, 420, 0.4), (5, 150, 2.0)], HILL_MID)
    # plaza
    c.rect(-10, 470, W + 10, 610, "#EBDABF")
    for y in range(492, 600, 22):
        c.line([(-10, y), (W + 10, y)], "#DCC7A6", 1.2, caps=False)
    # civic building
    bx0, bx1, top, base = 210, 750, 246, 468
    c.rect(bx0, top, bx1, base, WALL_CREAM)
    c.rect(bx0, top, bx0 + 130, base, "#F0DDBD")
    c.rect(bx1 - 130, top, bx1, base, "#F0DDBD")
    c.rect(bx1 - 130, top, bx1, base, SHADE, alpha=0.07)
    c.rect(bx0 - 8, top - 12, bx1 + 8, top, "#E3CDA7")
    c.rect(bx0 - 14, top - 18, bx1 + 14, top - 10, "#D8BE93", r=2)
    # pediment
    px0, px1 = 340, 620
    c.poly([(px0 - 14, top - 18), ((px0 + px1) / 2, top - 104), (px1 + 14, top - 18)], "#E3CDA7")
    c.poly([(px0 + 12, top - 26), ((px0 + px1) / 2, top - 88), (px1 - 12, top - 26)], WALL_CREAM)
    c.circle((px0 + px1) / 2, top - 50, 18, "#E3CDA7")
    c.circle((px0 + px1) / 2, top - 50, 13, WHITE)
    c.line([((px0 + px1) / 2, top - 50), ((px0 + px1) / 2, top - 59)], NAVY, 2)
    c.line([((px0 + px1) / 2, top - 50), ((px0 + px1) / 2 + 7, top - 48)], NAVY, 2)
    c.rect(px0 - 6, top - 10, px1 + 6, base, "#FBF2E0")
    # side windows
    for wx in (bx0 + 22, bx0 + 74, bx1 - 108, bx1 - 56):
        for wy in (top + 24, top + 120):
            c.rect(wx, wy, wx + 36, wy + 66, "#5C77A6", r=18)
            c.rect(wx, wy + 18, wx + 36, wy + 66, "#4E6A9A", r=2)
            c.line([(wx + 26, wy + 10), (wx + 8, wy + 56)], WHITE, 4, alpha=0.15)
            c.rect(wx - 4, wy + 66, wx + 40, wy + 72, "#E3CDA7")
    # door and columns
    c.rect(446, 320, 514, base, "#2F7A68", r=34)
    c.rect(452, 340, 478, base - 6, "#3E9C86", r=4)
    c.rect(482, 340, 508, base - 6, "#3E9C86", r=4)
    c.circle(474, 410, 2.5, YELLOW)
    c.circle(486, 410, 2.5, YELLOW)
    for x in (360, 410, 550, 600):
        c.rect(x - 12, top - 4, x + 12, base - 6, WHITE)
        c.rect(x + 2, top - 4, x + 12, base - 6, SHADE, alpha=0.07)
        c.rect(x - 16, top - 10, x + 16, top - 2, "#E3CDA7")
        c.rect(x - 16, base - 12, x + 16, base - 4, "#E3CDA7")
    # banners hanging between the columns
    banner(c, 385, top + 14, top + 170, 34, TEAL, "sun")
    banner(c, 575, top + 14, top + 170, 34, CORAL, "mountains")
    # steps
    for i in range(3):
        c.rect(bx0 + 100 - i * 14, base - 4 + i * 8, bx1 - 100 + i * 14, base + 4 + i * 8,
               "#E3CDA7" if i % 2 == 0 else "#D8BE93")
    # roof flags on poles (plain colours)
    for x, col in ((bx0 + 30, YELLOW), (bx1 - 30, TEAL)):
        c.rect(x - 1.5, top - 80, x + 1.5, top - 18, NAVY)
        c.poly([(x + 1.5, top - 80), (x + 40, top - 72), (x + 1.5, top - 60)], col)
    # trees in planters
    for x in (120, 840):
        round_tree(c, x, 468, 170, HILL_NEAR)
        c.rect(x - 26, 452, x + 26, 480, "#C98F52", r=4)
    # people in the square
    people = [(160, 560, 120, CORAL, SKIN[0], "#6B3F2A", None),
              (260, 574, 132, "#6C7FD1", SKIN[2], NAVY, YELLOW),
              (300, 574, 76, YELLOW, SKIN[2], NAVY, None),
              (560, 566, 126, TEAL, SKIN[1], NAVY, None),
              (660, 582, 140, "#C97BD6", SKIN[3], "#DADDE3", None),
              (790, 568, 118, WALL_OCHRE, SKIN[1], "#4A3426", CORAL)]
    for x, y, h, body, skin, hair, bag in people:
        shadow(c, x, y, h * 0.22, 5, alpha=0.18)
        person(c, x, y, h, body, skin=skin, hair=hair, bag=bag)
    # bench
    c.rect(380, 540, 480, 548, "#B97F55", r=2)
    c.rect(388, 548, 394, 566, NAVY)
    c.rect(466, 548, 472, 566, NAVY)
    birds(c, [(600, 150, 1.0), (628, 164, 0.8), (650, 144, 0.7)])
    return c


SCENES = {
    "cover.png": scene_cover,
    "p-bus.png": scene_bus,
    "p-bike.png": scene_bike,
    "p-market.png": scene_market,
    "p-coworking.png": scene_coworking,
    "p-telehealth.png": scene_telehealth,
    "p-services.png": scene_services,
}


def save(img, path, budget=MAX_BYTES):
    """Write an optimized PNG under ``budget`` bytes when possible.

    Full colour keeps the sky gradients smooth; if that is too heavy, fall
    back to a 256-colour palette (no dithering, so flat areas stay flat).
    """
    img.save(path, "PNG", optimize=True)
    if path.stat().st_size <= budget:
        return
    for colours in (256, 192, 128):
        pal = img.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        pal.save(path, "PNG", optimize=True)
        if path.stat().st_size <= budget:
            return


def main(argv):
    root = Path(__file__).resolve().parent.parent
    out = Path(argv[1]) if len(argv) > 1 else root / "assets" / "demo" / "images"
    out.mkdir(parents=True, exist_ok=True)
    for name, scene in SCENES.items():
        path = out / name
        save(scene().final(), path)
        print("%-18s %6.1f KB" % (name, path.stat().st_size / 1024.0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
