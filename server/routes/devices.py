"""What the hub speaks, and devices: enrollment and the authenticated device."""
from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from .. import __version__
from .deps import DeviceDep, HubDep
from .responses import json_response

router = APIRouter(prefix="/api/v1")


class EnrollRequest(BaseModel):
    code: str = Field(max_length=64, description="The code as typed or read from the QR")
    device_id: str = Field(max_length=64, description="The tablet's own identifier")
    name: str = Field("", max_length=200)
    platform: str = Field("", max_length=100)


@router.get("", summary="What this hub speaks")
def info(hub: HubDep):
    return json_response({"name": "piazzetta-hub", "version": __version__,
                          "max_batch": hub.settings.max_batch,
                          "public_url": hub.settings.public_url})


@router.post("/devices/enroll", summary="Trade an enrollment code for a device secret")
def enroll(body: EnrollRequest, hub: HubDep):
    return json_response(hub.enroll(body.code, body.device_id, body.name, body.platform))


@router.get("/device", summary="The authenticated device")
def whoami(me: DeviceDep, hub: HubDep):
    return json_response({"device_id": me["id"], "site_id": me["site_id"], "name": me["name"],
                          "max_batch": hub.settings.max_batch})
