"""Validation of one answer against its question. Each function returns the answer in its
normal form (the form stored, sent and tallied) or raises ValidationError naming the field."""
from __future__ import annotations

from typing import Any

from .errors import N_, ValidationError
from .geo import POINT_DECIMALS, is_coordinate, round_position
from .model import COLOURS, YES_NO, Consultation, Question
from .text import clean_text


def validate_answer(consultation: Consultation, question: Question, value: Any) -> Any:
    """Check `value` against `question` and return its normal form.

    Normal forms: colour → {project_id: colour}; yes_no → "yes"|"no"|"abstain";
    scale → int 1..5; choice → [option_id, …] (sorted as the question lists them);
    ranking → [option_id, …] best first; budget → {project_id: amount > 0};
    open → text; place → {"lon": …, "lat": …, "area": area_id} or {"area": area_id}
    (validate_place).
    """
    check = _VALIDATORS.get(question.kind)
    if check is None:
        raise ValidationError(N_("Unknown question kind."), question.id)
    return check(consultation, question, value)


def _colour(consultation: Consultation, question: Question, value: Any) -> dict:
    if not isinstance(value, dict) or not value:
        raise ValidationError(N_("Give a colour to at least one project."), question.id)
    normal = {}
    for project_id, colour in value.items():
        if project_id not in question.projects:
            raise ValidationError(N_("Unknown project."), f"{question.id}.{project_id}")
        if colour not in COLOURS:
            raise ValidationError(N_("Unknown colour."), f"{question.id}.{project_id}")
        normal[project_id] = colour
    return {pid: normal[pid] for pid in question.projects if pid in normal}


def _yes_no(consultation: Consultation, question: Question, value: Any) -> str:
    if value not in YES_NO:
        raise ValidationError(N_("Answer yes, no or abstain."), question.id)
    return value


def _scale(consultation: Consultation, question: Question, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationError(N_("Choose a value from 1 to 5."), question.id)
    return value


def _option_list(question: Question, value: Any) -> list:
    if not isinstance(value, (list, tuple)):
        raise ValidationError(N_("Choose at least one option."), question.id)
    for option_id in value:
        if not isinstance(option_id, str) or question.option(option_id) is None:
            raise ValidationError(N_("Unknown option."), question.id)
    if len(set(value)) != len(value):
        raise ValidationError(N_("The same option appears twice."), question.id)
    return list(value)


def _choice(consultation: Consultation, question: Question, value: Any) -> list:
    if isinstance(value, str):
        value = [value]
    chosen = _option_list(question, value)
    if not chosen:
        raise ValidationError(N_("Choose at least one option."), question.id)
    limit = question.max_choices if question.multiple else 1
    if len(chosen) > limit:
        raise ValidationError(N_("Choose at most {max} options."), question.id, max=limit)
    return [o for o in question.option_ids if o in chosen]


def _ranking(consultation: Consultation, question: Question, value: Any) -> list:
    ranked = _option_list(question, value)
    if not ranked:
        raise ValidationError(N_("Rank at least one option."), question.id)
    if len(ranked) > question.ranking_length:
        raise ValidationError(N_("Rank at most {max} options."), question.id,
                              max=question.ranking_length)
    return ranked


def _budget(consultation: Consultation, question: Question, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValidationError(N_("Share the budget among the projects."), question.id)
    normal = {}
    for project_id, amount in value.items():
        project = consultation.project(project_id)
        field = f"{question.id}.{project_id}"
        if project_id not in question.projects or project is None:
            raise ValidationError(N_("Unknown project."), field)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValidationError(N_("An amount must be a whole number, zero or more."), field)
        if amount % question.budget_step:
            raise ValidationError(N_("Amounts go in steps of {step}."), field,
                                  step=question.budget_step)
        if project.cost is not None and amount > project.cost:
            raise ValidationError(N_("More than this project costs."), field)
        if amount:
            normal[project_id] = amount
    if not normal:
        raise ValidationError(N_("Share the budget among the projects."), question.id)
    spent = sum(normal.values())
    if spent > question.budget_total:
        raise ValidationError(N_("Over budget: {spent} allocated, {total} available."),
                              question.id, spent=spent, total=question.budget_total)
    return {pid: normal[pid] for pid in question.projects if pid in normal}


def _open(consultation: Consultation, question: Question, value: Any) -> str:
    return clean_text(value, field=question.id, max_length=question.max_length, required=True)


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


def _place(consultation: Consultation, question: Question, value: Any) -> dict:
    return validate_place(consultation, value, question.id)


_VALIDATORS = {
    "colour": _colour,
    "yes_no": _yes_no,
    "scale": _scale,
    "choice": _choice,
    "ranking": _ranking,
    "budget": _budget,
    "open": _open,
    "place": _place,
}
