"""The staff's API (admin token): sites, bundles, enrollment codes, devices, events kept for
review."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, Field

from .deps import STAFF_ONLY, HubDep
from .responses import json_response

router = APIRouter(prefix="/api/v1/admin", dependencies=[STAFF_ONLY])


class SiteRequest(BaseModel):
    id: str = Field(max_length=64)
    name: dict[str, str] | str
    town: str = Field("", max_length=200)


class CodeRequest(BaseModel):
    site_id: str | None = Field(None, max_length=64)
    minutes: int = Field(15, ge=1, le=7 * 24 * 60)
    device_id: str | None = Field(None, max_length=64,
                                  description="A staff code for this device only: it enrolls "
                                              "an ID already enrolled, or revoked, again")
    kind: str | None = Field(None, max_length=20,
                             description='"relay": a code that enrolls a room hub for the site')


@router.post("/sites", summary="Create or update a site")
def create_site(body: SiteRequest, hub: HubDep):
    return json_response({"site": hub.create_site(body.id, body.name, body.town)})


@router.post("/consultations", summary="Import a bundle's JSON (without images)")
def import_consultation(hub: HubDep, body: dict[str, Any] = Body(...)):
    consultation = hub.import_bundle(body)
    return json_response({"id": consultation.id, "version": consultation.version})


@router.post("/enrollment-codes", summary="A short-lived, single-use enrollment code")
def make_code(body: CodeRequest, hub: HubDep):
    return json_response(hub.make_enrollment_code(body.site_id, body.minutes, body.device_id,
                                                  body.kind))


@router.get("/devices", summary="Enrolled devices")
def list_devices(hub: HubDep):
    return json_response({"devices": hub.devices()})


@router.post("/devices/{device_id}/revoke", summary="Revoke a device at once")
def revoke(hub: HubDep, device_id: str = Path(max_length=64)):
    hub.revoke(device_id)
    return json_response({"device_id": device_id, "revoked": True})


@router.post("/devices/{device_id}/reinstate",
             summary="Lift a revocation: the device's own credential works again")
def reinstate(hub: HubDep, device_id: str = Path(max_length=64)):
    hub.reinstate(device_id)
    return json_response({"device_id": device_id, "revoked": False})


class MoveRequest(BaseModel):
    relay_id: str = Field(max_length=64, description="The room hub that forwards this "
                                                     "device's events from now on")


@router.post("/devices/{device_id}/relay",
             summary="Move a device to a room hub (hub to hub): its events come through it")
def move_to_relay(body: MoveRequest, hub: HubDep, device_id: str = Path(max_length=64)):
    from ..relay import move_registration
    return json_response(move_registration(hub, device_id, body.relay_id))


@router.get("/conflicts", summary="Events kept for review (conflicts and rejects)")
def conflicts(hub: HubDep):
    return json_response({"events": hub.reviews()})


class CardQuotaRequest(BaseModel):
    consultation_id: str = Field(max_length=64)
    site_id: str = Field(max_length=64)
    quota: int | None = Field(None, description="Cards that site's room hub may make for the "
                                                "consultation; null: the hub's default")


@router.get("/card-quotas", summary="Cards each site's room hub made, and its quota")
def card_quotas(hub: HubDep):
    return json_response({"default": hub.settings.room_card_quota,
                          "quotas": hub.participation.room_cards()})


@router.put("/card-quotas", summary="Set how many cards a site's room hub may make")
def set_card_quota(body: CardQuotaRequest, hub: HubDep):
    return json_response(hub.participation.set_card_quota(body.consultation_id, body.site_id,
                                                          body.quota))
