"""Counts (staff): the central platform's online votes, and every count of a consultation
(docs/protocol.md, "Channels"). Counts typed on tablets come as events."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Path

from app.errors import N_

from .. import channels
from ..errors import HubError
from .deps import STAFF_ONLY, HubDep
from .responses import json_response

router = APIRouter(prefix="/api/v1/admin", dependencies=[STAFF_ONLY])


@router.post("/consultations/{consultation_id}/online-counts",
             summary="Online votes from the central platform, per question (staff)")
def online_counts(hub: HubDep, consultation_id: str = Path(max_length=64),
                  counts: dict[str, Any] = Body(..., description="{question_id: counts}")):
    return json_response(channels.import_online_counts(hub, consultation_id, counts))


@router.get("/consultations/{consultation_id}/counts",
            summary="Every count of a consultation, corrections included (staff)")
def list_counts(hub: HubDep, consultation_id: str = Path(max_length=64)):
    if hub.consultation(consultation_id) is None:
        raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
    return json_response({"counts": channels.counts_of(hub, consultation_id)})
