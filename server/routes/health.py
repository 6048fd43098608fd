"""What a load balancer asks a hub process (docs/deploy.md, "Several processes"):

    GET /healthz   200 while the process answers (liveness: restart it when this fails)
    GET /readyz    200 when it may take requests: its database answers, its schema is the
                   current one (server.migrations), it is not stopping; 503 otherwise
                   (readiness: send it nothing meanwhile)

/readyz tells the public only that status ({"ready": …}) and counts it in the `public` rate
limit: the schema version and the results revision (it rises with every commit: activity
seen while results are hidden) go only to the machine itself (loopback), a trusted proxy
asking directly (the balancer's checks: PIAZZETTA_HUB_TRUSTED_PROXIES) and staff.
"""
from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Header, Request

from ..limits import client_address, is_trusted
from .deps import HubDep
from .responses import json_response

router = APIRouter()


@router.get("/healthz", summary="The process answers", include_in_schema=False)
def healthz():
    return json_response({"status": "ok"})


def may_read_details(request: Request, hub, authorization: str | None) -> bool:
    """Whether /readyz may say more than its status to this caller (module docstring)."""
    trusted = hub.settings.trusted_proxies
    who = client_address(request.scope, trusted)
    if is_trusted(who, trusted):
        return True          # the proxy itself, not a client it forwards
    try:
        if ipaddress.ip_address(who).is_loopback:
            return True
    except ValueError:
        pass
    return hub.is_admin(authorization)


@router.get("/readyz", summary="The process may take requests", include_in_schema=False)
def readyz(request: Request, hub: HubDep,
           authorization: Annotated[str | None, Header()] = None):
    details = may_read_details(request, hub, authorization)
    if not details:
        request.app.state.limits.hit(
            "public", client_address(request.scope, hub.settings.trusted_proxies))
    state = hub.readiness()
    if request.app.state.streams.closing:
        state = {**state, "ready": False, "stopping": True}
    body = state if details else {"ready": state["ready"]}
    return json_response(body, 200 if state["ready"] else 503, {"Cache-Control": "no-store"})
