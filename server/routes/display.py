"""The projector's controls (docs/protocol.md, "Display controls"): projectors poll them, a
facilitator's tablet or staff change them."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Path, Request

from app.errors import N_

from .. import display_controls
from ..errors import HubError
from .deps import CallerDep, HubDep
from .responses import conditional_response, json_response

router = APIRouter(prefix="/api/v1")


@router.get("/consultations/{consultation_id}/display",
            summary="What the projector should show (DisplayControl); ETag")
def read_display(request: Request, hub: HubDep, consultation_id: str = Path(max_length=64)):
    found = display_controls.read_display(hub, consultation_id)
    if found is None:
        raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
    return conditional_response(request, found[0], found[1], "application/json")


@router.put("/consultations/{consultation_id}/display",
            summary="Change the projector: view, rotation, hidden, frozen, languages")
def set_display(by: CallerDep, hub: HubDep, consultation_id: str = Path(max_length=64),
                control: dict[str, Any] = Body(..., description="A DisplayControl")):
    return json_response(display_controls.set_display(hub, consultation_id, control, by.name,
                                                      by.device))
