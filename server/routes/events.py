"""A device's batch of events (docs/protocol.md, "Events")."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from .deps import DeviceDep, HubDep
from .responses import json_response

router = APIRouter(prefix="/api/v1")


class EventBatch(BaseModel):
    events: list[dict[str, Any]] = Field(
        description="Event envelopes {id, device_id, seq, type, recorded_at, payload}; "
                    "each is checked on its own and gets its own result")


@router.post("/events", summary="Push a batch of events; each is acknowledged by ID")
async def push_events(batch: EventBatch, me: DeviceDep, hub: HubDep):
    results = await run_in_threadpool(hub.ingest, me, batch.events)
    return json_response({"max_batch": hub.settings.max_batch, "results": results})
