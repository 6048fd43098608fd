"""What routes depend on, declared once: the hub, and who is calling (a device, staff)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from app.errors import N_

from ..body import DEVICE_STATE
from ..errors import AuthError
from ..hub import Hub

DEVICE_AUTHORIZATION = "Bearer <device_id>:<secret>"
STAFF_AUTHORIZATION = "Bearer <admin token>"


async def get_hub(request: Request) -> Hub:
    """The hub the app was made with (server.api.create_app)."""
    return request.app.state.hub


HubDep = Annotated[Hub, Depends(get_hub)]


def current_device(request: Request, hub: HubDep, authorization: Annotated[
        str | None, Header(description=DEVICE_AUTHORIZATION)] = None) -> dict:
    """The enrolled device making the request, or AuthError (401). server.body.Guard already
    authenticated the routes whose body it had to bound: the same device, not a second query."""
    device = request.scope.get("state", {}).get(DEVICE_STATE)
    return device if device is not None else hub.authenticate(authorization)


def require_staff(hub: HubDep, authorization: Annotated[
        str | None, Header(description=STAFF_AUTHORIZATION)] = None) -> None:
    """Nothing, when the request carries the staff token; AuthError (401) otherwise."""
    if not hub.is_admin(authorization):
        raise AuthError(N_("A staff token is needed."), "staff_only")


@dataclass(frozen=True)
class Caller:
    """Who calls a route open to staff and devices: `device` is None for staff."""
    device: dict | None = None

    @property
    def name(self) -> str:
        """`"staff"` or `"device:<id>"`, as the hub records who changed something."""
        return "staff" if self.device is None else "device:" + self.device["id"]


def current_caller(hub: HubDep, authorization: Annotated[
        str | None, Header(description=f"{STAFF_AUTHORIZATION} or {DEVICE_AUTHORIZATION}")
        ] = None) -> Caller:
    """Staff, or an enrolled device (its facilitator mode is behind the tablet's PIN);
    AuthError (401) otherwise."""
    if hub.is_admin(authorization):
        return Caller()
    return Caller(hub.authenticate(authorization))


DeviceDep = Annotated[dict, Depends(current_device)]
CallerDep = Annotated[Caller, Depends(current_caller)]
STAFF_ONLY = Depends(require_staff)   # a staff router's dependencies=[STAFF_ONLY]
