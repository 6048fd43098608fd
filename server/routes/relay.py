"""Hub to hub, the central side's routes (docs/protocol.md, "Hub to hub"): a room hub,
authenticated as a `relay` device, registers its devices, forwards batches and reads the
answers to its devices' ideas. Its bundles come from GET /api/v1/bundle like a tablet's."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from .. import relay
from .deps import DeviceDep, HubDep
from .responses import json_response

router = APIRouter(prefix="/api/v1/relay")


class DeviceList(BaseModel):
    devices: list[dict[str, Any]] = Field(
        description="The devices the room hub enrolled: {device_id, name, platform}")


class RelayBatch(BaseModel):
    events: list[dict[str, Any]] = Field(
        description="Envelopes exactly as their devices made them, and the room's own records "
                    "under the room hub's ID; each gets its own result")


@router.post("/devices", summary="Register the devices a room hub enrolled (relay)")
def register(body: DeviceList, me: DeviceDep, hub: HubDep):
    return json_response({"results": relay.register_devices(hub, me, body.devices)})


@router.post("/events", summary="Forward a batch on behalf of the room's devices (relay)")
async def forward(body: RelayBatch, me: DeviceDep, hub: HubDep):
    relay.require_relay(me)
    results = await run_in_threadpool(relay.ingest_relayed, hub, me, body.events)
    return json_response({"max_batch": relay.relay_max_batch(hub.settings),
                          "results": results})


@router.get("/answers", summary="Answers to the ideas the room's devices collected (relay)")
def answers(me: DeviceDep, hub: HubDep, since: int = Query(0, ge=0)):
    return json_response(relay.answers_for_relay(hub, me, since))


dashboard = APIRouter(include_in_schema=False)


@dashboard.get("/dashboard/relays.{fmt}")
def relays_export(request: Request, hub: HubDep, fmt: str):
    """What each room hub forwarded (staff): the dashboard's "Room hubs" section as CSV or
    JSON, like `python -m server relays`. No personal data."""
    from ..dashboard import is_staff
    from ..room import export_relays
    from ..signup import SECURITY_HEADERS
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    if "token" in request.query_params:
        return Response("the staff token does not go in the address\n", status_code=400,
                        media_type="text/plain", headers=headers)
    if not is_staff(hub, request):
        return Response("staff only\n", status_code=401, media_type="text/plain",
                        headers=headers)
    if fmt not in ("csv", "json"):
        return Response("csv or json\n", status_code=404, media_type="text/plain")
    return Response(export_relays(hub, fmt), headers=headers,
                    media_type="application/json" if fmt == "json" else "text/csv; charset=utf-8")
