"""What a load balancer asks a hub process (docs/deploy.md, "Several processes"):

    GET /healthz   200 while the process answers (liveness: restart it when this fails)
    GET /readyz    200 when it may take requests: its database answers, its schema is the
                   current one (server.migrations), it is not stopping; 503 otherwise
                   (readiness: send it nothing meanwhile)
"""
from __future__ import annotations

from fastapi import APIRouter, Request

from .deps import HubDep
from .responses import json_response

router = APIRouter()


@router.get("/healthz", summary="The process answers", include_in_schema=False)
def healthz():
    return json_response({"status": "ok"})


@router.get("/readyz", summary="The process may take requests", include_in_schema=False)
def readyz(request: Request, hub: HubDep):
    state = hub.readiness()
    if request.app.state.streams.closing:
        state = {**state, "ready": False, "stopping": True}
    return json_response(state, 200 if state["ready"] else 503,
                         {"Cache-Control": "no-store"})
