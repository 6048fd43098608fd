"""place: a point on the consultation's map or an area chosen from its list. Answer:
{"lon": …, "lat": …, "area": area_id} or {"area": area_id} (validate_place). Not counted by
hand. The question has nothing of its own: the map is the consultation's."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import N_, ValidationError
from ..geo import POINT_DECIMALS, is_coordinate, round_position
from ..model import Consultation
from .base import Figures, Kind, Result, Tally, share


@dataclass(frozen=True)
class PlacePoint(Figures):
    lon: float
    lat: float
    area: str
    count: int


@dataclass(frozen=True, kw_only=True)
class PlaceResult(Result):
    counts: dict            # {area_id: n}, an area's answers counted in its parents too
    shares: dict            # of ballots
    order: list             # most answered first
    forms: dict             # {"point": n, "area": n}
    points: list            # [PlacePoint], rounded to export_decimals
    points_left_out: int
    export_decimals: int

    nested_list: ClassVar = {"points": PlacePoint}


def validate_place(consultation: Consultation, value: Any, field: str) -> dict:
    """Check a place on the consultation's map and return its normal form, or raise
    ValidationError naming `field`.

    Two forms: a point placed on the map, `{"lon": 7.5, "lat": 43.78}` (WGS84 degrees), kept to
    POINT_DECIMALS decimals (about 1 m) and completed with the area it falls in —
    `{"lon": 7.5, "lat": 43.78, "area": "menton"}`; or an area chosen from the list, for those
    who do not read maps, `{"area": "menton"}`. A point outside the perimeter, an unknown area,
    coordinates that are not finite numbers in range, missing or other keys are refused. An
    `area` sent with a point is recomputed from the point, so a normal form validates to itself.
    """
    perimeter = consultation.map
    if perimeter is None:
        raise ValidationError(N_("This consultation has no map."), field)
    if not isinstance(value, dict) or not value:
        raise ValidationError(N_("Place a pin on the map, or choose a place from the list."),
                              field)
    keys = set(value)
    if keys == {"area"}:
        area = value["area"]
        if not isinstance(area, str) or perimeter.area(area) is None:
            raise ValidationError(N_("Unknown place: choose one from the list."), field)
        return {"area": area}
    if keys not in ({"lon", "lat"}, {"lon", "lat", "area"}):
        raise ValidationError(N_("Place a pin on the map, or choose a place from the list."),
                              field)
    lon, lat = value["lon"], value["lat"]
    if not (is_coordinate(lon, 180) and is_coordinate(lat, 90)):
        raise ValidationError(N_("A position is a longitude from -180 to 180 and a latitude "
                                 "from -90 to 90, in degrees."), field)
    if "area" in keys and not isinstance(value["area"], str):
        raise ValidationError(N_("Place a pin on the map, or choose a place from the list."),
                              field)
    lon, lat = round_position(lon, lat, POINT_DECIMALS)
    area = perimeter.area_of(lon, lat)
    if area is None:
        raise ValidationError(N_("This place is outside the area of the consultation. Place "
                                 "the pin inside the outlined area, or choose a place from "
                                 "the list."), field)
    return {"lon": lon, "lat": lat, "area": area}


# A place tally keeps at most this many distinct points for the map (memory, time and the size
# of the results the projector polls stay bounded however many answers arrive).
PLACE_POINTS_KEPT = 1000
DEFAULT_EXPORT_DECIMALS = 3


class PlaceTally(Tally):
    """Answers per area of the consultation's perimeter, and the points placed, for the map.

    Counts: each answer — a point on the map or an area chosen from the list — counts in its
    area and in every area that area lies within (a neighbourhood's answers count in its
    commune too). Shares are of ballots. Points: only point answers, grouped by their position
    rounded to the map's `export_decimals` (a pin can point at someone's home; public results
    never hold more), with how many answers fell there. At most PLACE_POINTS_KEPT distinct
    rounded points are kept; answers at a new point beyond that are counted in
    `points_left_out` instead. Once that bound is reached which points are kept depends on the
    order answers came and went (a freed place is taken by the next new point); the counts
    per area are always exact."""

    def __init__(self, consultation, question):
        super().__init__(consultation, question)
        perimeter = consultation.map
        self.decimals = perimeter.export_decimals if perimeter else DEFAULT_EXPORT_DECIMALS
        self.counts = Counter()
        self.forms = Counter()
        self.points: Counter = Counter()
        self.points_left_out = 0

    def _count(self, answer, weight):
        area = answer.get("area")
        perimeter = self.consultation.map
        if isinstance(area, str):
            for area_id in (area, *(perimeter.ancestors(area) if perimeter else ())):
                self.counts[area_id] += weight
                if not self.counts[area_id]:
                    del self.counts[area_id]
        if "lon" not in answer:
            self.forms["area"] += weight
            return
        self.forms["point"] += weight
        key = (round(answer["lon"], self.decimals), round(answer["lat"], self.decimals),
               area if isinstance(area, str) else "")
        if key in self.points:
            self.points[key] += weight
            if self.points[key] <= 0:
                del self.points[key]
        elif weight > 0 and len(self.points) < PLACE_POINTS_KEPT:
            self.points[key] = weight
        else:
            self.points_left_out += weight

    def typed_result(self):
        perimeter = self.consultation.map
        areas = list(perimeter.area_ids) if perimeter else []
        areas += sorted(a for a in self.counts if a not in areas)   # areas of older versions
        order = sorted(areas, key=lambda a: (-self.counts[a], areas.index(a)))
        points = sorted(self.points.items(), key=lambda kv: (-kv[1], kv[0]))
        return PlaceResult(
            **self._envelope(),
            counts={a: self.counts[a] for a in areas},
            shares={a: share(self.counts[a], self.ballots) for a in areas},
            order=order,
            forms={"point": self.forms["point"], "area": self.forms["area"]},
            points=[PlacePoint(lon=lon, lat=lat, area=area, count=n)
                    for (lon, lat, area), n in points],
            points_left_out=self.points_left_out,
            export_decimals=self.decimals)


class PlaceKind(Kind):
    name = "place"
    order = 80
    tally = PlaceTally
    result = PlaceResult

    def parse(self, parser, q, field, projects, args):
        if parser.consultation_map is None:
            raise parser.fail(N_("A place question needs the consultation's map."),
                              f"{field}.kind")

    def validate(self, consultation, question, value):
        return validate_place(consultation, value, question.id)


    # The list of named places: a map to tap needs a script, which the phone pages have not.
    web_form = "one"

    def form_fields(self, consultation, question, lang, gettext):
        from ..model import localized
        areas = consultation.map.areas if consultation.map else ()
        return {"form": "one", "options": [(a.id, localized(a.name, lang)) for a in areas]}

    def form_value(self, question, form):
        return {"area": form.get("value", "")}


KIND = PlaceKind()
