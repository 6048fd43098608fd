"""Exports of a consultation's places (issue 16): where residents placed their answers and
ideas, for open data and for the established platforms.

A pin can point at someone's home: every point leaves rounded to the map's `export_decimals`
(app.geo.round_position), never as stored (5 decimals), and grouped, so an export holds counts
per rounded point, never one answer or any ballot. Areas' polygons are the perimeter's, public
boundaries as the bundle gives them.

- `places_geojson`: a FeatureCollection of Points: the place answers per rounded point (with
  how many answers fell there) and the approved ideas that carry a place.
- `areas_geojson`: a FeatureCollection of the perimeter's polygons with each place question's
  count per area (the results' counts: an area counts its own answers and those of the areas
  within it).
- `decidim_csv`: approved ideas in the columns Decidim's proposal import reads (`title/fr`,
  `title/it`, `body/fr`, `body/it`, `address`, `latitude`, `longitude`); `address` is the name of
  the idea's area.
"""
from __future__ import annotations

import json
import sys
from collections import Counter

from sqlalchemy import select

from app.answers import validate_answer, validate_place
from app.errors import N_, ValidationError
from app.geo import round_position
from app.model import Consultation

from . import db
from .errors import HubError
from .tabular import csv_text

DECIDIM_COLUMNS = ("title/fr", "title/it", "body/fr", "body/it", "address", "latitude",
                   "longitude")
AREA_COLUMNS = ("question", "id", "name_fr", "name_it", "count")


def mapped_consultation(hub, consultation_id: str) -> Consultation:
    """The current version of a consultation that has a map, or HubError."""
    consultation = hub.consultation(consultation_id)
    if consultation is None:
        raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
    if consultation.map is None:
        raise HubError(N_("This consultation has no map: it has no places to export."),
                       status=409, code="consultation_unmapped")
    return consultation


def place_answer_points(hub, consultation: Consultation) -> list[dict]:
    """Point answers of every place question, grouped by rounded position and area:
    [{"question", "lon", "lat", "area", "count"}], most answers first. Stored values that do not
    fit this version are left out, as the results leave them out."""
    decimals = consultation.map.export_decimals
    questions = {q.id: q for q in consultation.questions if q.kind == "place"}
    grouped: Counter = Counter()
    if questions:
        with hub.engine.connect() as conn:
            rows = conn.execute(select(db.ballot_answers.c.question_id, db.ballot_answers.c.value)
                                .where(db.ballot_answers.c.consultation_id == consultation.id,
                                       db.ballot_answers.c.question_id.in_(list(questions)),
                                       db.ballot_answers.c.value.is_not(None)))
            for question_id, value in rows:
                try:
                    place = validate_answer(consultation, questions[question_id],
                                            json.loads(value))
                except (ValidationError, ValueError, TypeError):
                    continue
                if "lon" not in place:
                    continue
                lon, lat = round_position(place["lon"], place["lat"], decimals)
                grouped[(question_id, lon, lat, place.get("area") or "")] += 1
    return [{"question": q, "lon": lon, "lat": lat, "area": area, "count": n}
            for (q, lon, lat, area), n in sorted(grouped.items(),
                                                 key=lambda kv: (-kv[1], kv[0]))]


def _area_names(consultation: Consultation, area_id: str | None) -> tuple[str, str]:
    area = consultation.map.area(area_id) if area_id else None
    if area is None:
        return "", ""
    return area.name.get("fr", ""), area.name.get("it", "")


def located_ideas(hub, consultation: Consultation) -> list[tuple[dict, dict]]:
    """(idea, place) of the approved ideas that carry a place, as published. The hub keeps an
    idea's place only once tablets send it (`place` in the proposal): until then, none."""
    out = []
    for idea in hub.proposals(consultation.id, public=True):
        place = idea.get("place")
        if isinstance(place, dict):
            try:
                out.append((idea, validate_place(consultation, place, "place")))
            except ValidationError:
                continue
    return out


def places_geojson(hub, consultation_id: str) -> dict:
    """Place answers per rounded point and approved located ideas, as a FeatureCollection."""
    consultation = mapped_consultation(hub, consultation_id)
    decimals = consultation.map.export_decimals
    features = []
    for point in place_answer_points(hub, consultation):
        name_fr, name_it = _area_names(consultation, point["area"])
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": [point["lon"],
                                                                       point["lat"]]},
                         "properties": {"kind": "answer", "question": point["question"],
                                        "area": point["area"], "name_fr": name_fr,
                                        "name_it": name_it, "count": point["count"]}})
    for idea, place in located_ideas(hub, consultation):
        name_fr, name_it = _area_names(consultation, place.get("area"))
        geometry = None
        if "lon" in place:
            lon, lat = round_position(place["lon"], place["lat"], decimals)
            geometry = {"type": "Point", "coordinates": [lon, lat]}
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": {"kind": "idea", "id": idea["id"],
                                        "title": idea["title"], "text": idea["text"],
                                        "area": place.get("area") or "", "name_fr": name_fr,
                                        "name_it": name_it, "count": 1}})
    return {"type": "FeatureCollection", "consultation_id": consultation.id,
            "version": consultation.version, "export_decimals": decimals,
            "features": features}


def area_counts(hub, consultation: Consultation) -> list[dict]:
    """[{"question", "id", "name_fr", "name_it", "count"}] per place question and area of the
    perimeter, from the hub's results."""
    found = hub.read_results(consultation.id)
    questions = json.loads(found[1])["questions"] if found else {}
    out = []
    for question in consultation.questions:
        if question.kind != "place":
            continue
        counts = (questions.get(question.id) or {}).get("counts") or {}
        for area in consultation.map.areas:
            out.append({"question": question.id, "id": area.id,
                        "name_fr": area.name.get("fr", ""), "name_it": area.name.get("it", ""),
                        "count": int(counts.get(area.id, 0))})
    return out


def areas_geojson(hub, consultation_id: str) -> dict:
    """The perimeter's polygons with each place question's count per area."""
    consultation = mapped_consultation(hub, consultation_id)
    shapes = {a.id: a.shape.to_geojson() for a in consultation.map.areas}
    features = [{"type": "Feature", "geometry": shapes[row["id"]], "properties": row}
                for row in area_counts(hub, consultation)]
    return {"type": "FeatureCollection", "consultation_id": consultation.id,
            "version": consultation.version, "features": features}


def areas_csv(hub, consultation_id: str) -> str:
    consultation = mapped_consultation(hub, consultation_id)
    return csv_text(AREA_COLUMNS, area_counts(hub, consultation))


def decidim_rows(consultation: Consultation, ideas: list[dict]) -> list[dict]:
    """Approved ideas as rows of Decidim's proposal import. An idea is written in one language,
    which the hub does not record: its title and text go in both the French and the Italian
    columns. A located idea gets its area's name as `address` and its point rounded to the
    map's `export_decimals`; the others leave the three columns empty."""
    decimals = consultation.map.export_decimals if consultation.map else 0
    rows = []
    for idea in ideas:
        row = {"title/fr": idea["title"], "title/it": idea["title"],
               "body/fr": idea["text"], "body/it": idea["text"],
               "address": "", "latitude": "", "longitude": ""}
        place = idea.get("place")
        if consultation.map is not None and isinstance(place, dict):
            try:
                place = validate_place(consultation, place, "place")
            except ValidationError:
                place = None
            if place is not None:
                name_fr, name_it = _area_names(consultation, place.get("area"))
                row["address"] = name_fr or name_it
                if "lon" in place:
                    lon, lat = round_position(place["lon"], place["lat"], decimals)
                    row["latitude"], row["longitude"] = lat, lon
        rows.append(row)
    return rows


def decidim_csv(hub, consultation_id: str) -> str:
    """Approved ideas in Decidim's proposal-import columns (see decidim_rows)."""
    consultation = mapped_consultation(hub, consultation_id)
    return csv_text(DECIDIM_COLUMNS,
                    decidim_rows(consultation, hub.proposals(consultation.id, public=True)))


def export_places(hub, what: str, consultation_id: str, fmt: str) -> str:
    """The text of `export places|areas` in `fmt` (geojson or json, csv)."""
    if what == "places":
        if fmt == "csv":
            return decidim_csv(hub, consultation_id)
        return json.dumps(places_geojson(hub, consultation_id), ensure_ascii=False) + "\n"
    if fmt == "csv":
        return areas_csv(hub, consultation_id)
    return json.dumps(areas_geojson(hub, consultation_id), ensure_ascii=False) + "\n"


def write_out(text: str, output) -> None:
    """An export's text into `output` (its folders made), or on standard output."""
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        print(f"written {output}")
    else:
        sys.stdout.write(text)
