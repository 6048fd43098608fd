"""What the hub speaks, and devices: enrollment and the authenticated device."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from .. import __version__
from ..limits import client_address
from .deps import DEVICE_AUTHORIZATION, DeviceDep, HubDep
from .responses import json_response

router = APIRouter(prefix="/api/v1")


class EnrollRequest(BaseModel):
    code: str = Field(max_length=64, description="The code as typed or read from the QR")
    device_id: str = Field(max_length=64, description="The tablet's own identifier")
    credential: str | None = Field(
        None, max_length=64,
        description="SHA-256 (hex) of the secret the tablet made for itself; without it (older "
                    "tablets) the hub makes the secret and returns it as device_secret")
    name: str = Field("", max_length=200)
    platform: str = Field("", max_length=100)
    kind: str | None = Field(None, max_length=20,
                             description='"relay" for a room hub (with a room hub\'s code)')


@router.get("", summary="What this hub speaks")
def info(hub: HubDep):
    return json_response({"name": "piazzetta-hub", "version": __version__,
                          "max_batch": hub.settings.max_batch,
                          "public_url": hub.settings.public_url})


@router.post("/devices/enroll", summary="Bind the tablet's own credential to its ID with a code")
def enroll(request: Request, body: EnrollRequest, hub: HubDep, authorization: Annotated[
        str | None, Header(description="An enrolled ID again: " + DEVICE_AUTHORIZATION
                           + " with its current credential")] = None):
    # Codes are short (typed on a tablet): every try counts, per address and per device ID,
    # so that guessing one takes years, not minutes (429 with Retry-After).
    limits = request.app.state.limits
    limits.hit("enroll", client_address(request.scope, hub.settings.trusted_proxies))
    limits.hit("enroll_device", "device:" + body.device_id)
    return json_response(hub.enroll(body.code, body.device_id, body.credential, body.name,
                                    body.platform, authorization=authorization,
                                    kind=body.kind))


@router.get("/device", summary="The authenticated device: site, alias, sign-up key")
def whoami(me: DeviceDep, hub: HubDep):
    return json_response(hub.device_info(me))
