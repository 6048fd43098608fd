"""HTTP endpoints for channels and the projector's controls (docs/protocol.md), plugged into the
hub by server.api's EXTENSIONS:

    GET  /api/v1/consultations/{id}/display        public; ETag; what projectors poll
    PUT  /api/v1/consultations/{id}/display        a device (a facilitator's tablet) or staff
    POST /api/v1/admin/consultations/{id}/online-counts   staff: the platform's online votes
    GET  /api/v1/admin/consultations/{id}/counts   staff: every count, corrections included
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Header, Path, Request

from app.errors import N_

from . import channels
from .api import _conditional, _json
from .errors import AuthError, HubError


def router(hub) -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    def caller(authorization: str | None) -> str:
        """Who may change a display: staff, or an enrolled device (its facilitator mode is
        behind the tablet's PIN)."""
        if hub.is_admin(authorization):
            return "staff"
        device = hub.authenticate(authorization)
        return "device:" + device["id"]

    def staff(authorization: str | None) -> None:
        if not hub.is_admin(authorization):
            raise AuthError(N_("A staff token is needed."), "staff_only")

    @api.get("/consultations/{consultation_id}/display",
             summary="What the projector should show (DisplayControl); ETag")
    def read_display(request: Request, consultation_id: str = Path(max_length=64)):
        found = channels.read_display(hub, consultation_id)
        if found is None:
            raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
        return _conditional(request, found[0], found[1], "application/json")

    @api.put("/consultations/{consultation_id}/display",
             summary="Change the projector: view, rotation, hidden, frozen, languages")
    def set_display(consultation_id: str = Path(max_length=64),
                    control: dict[str, Any] = Body(..., description="A DisplayControl"),
                    authorization: str | None = Header(None)):
        by = caller(authorization)
        return _json(channels.set_display(hub, consultation_id, control, by))

    @api.post("/admin/consultations/{consultation_id}/online-counts",
              summary="Online votes from the central platform, per question (staff)")
    def online_counts(consultation_id: str = Path(max_length=64),
                      counts: dict[str, Any] = Body(..., description="{question_id: counts}"),
                      authorization: str | None = Header(None)):
        staff(authorization)
        return _json(channels.import_online_counts(hub, consultation_id, counts))

    @api.get("/admin/consultations/{consultation_id}/counts",
             summary="Every count of a consultation, corrections included (staff)")
    def list_counts(consultation_id: str = Path(max_length=64),
                    authorization: str | None = Header(None)):
        staff(authorization)
        if hub.consultation(consultation_id) is None:
            raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
        return _json({"counts": channels.counts_of(hub, consultation_id)})

    return api
