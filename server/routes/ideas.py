"""Answers to ideas: the devices that collected them pull them; staff write them."""
from __future__ import annotations

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ..connectors import outbox
from .deps import STAFF_ONLY, DeviceDep, HubDep
from .responses import json_response

router = APIRouter(prefix="/api/v1")
staff = APIRouter(prefix="/admin", dependencies=[STAFF_ONLY])


class AnswerRequest(BaseModel):
    answer_status: str = Field(max_length=20)
    answer_text: str | None = Field(None, max_length=4000)


@router.get("/proposals/answers", summary="Answers to the ideas this device collected")
def proposal_answers(me: DeviceDep, hub: HubDep, since: int = Query(0, ge=0, le=2 ** 62)):
    return json_response(hub.answers_since(me, since))


@staff.get("/proposals", summary="Every idea, with moderation and answer")
def all_proposals(hub: HubDep, consultation_id: str | None = Query(None, max_length=64)):
    return json_response({"proposals": hub.proposals(consultation_id)})


@staff.put("/proposals/{proposal_id}/answer", summary="The public answer to an idea")
def answer(body: AnswerRequest, hub: HubDep, proposal_id: str = Path(max_length=64)):
    return json_response(hub.answer_proposal(proposal_id, body.answer_status, body.answer_text))


@staff.get("/decidim/queue", summary="The Decidim connector's outbox: sent, waiting, refused")
def decidim_queue(hub: HubDep, consultation_id: str | None = Query(None, max_length=64)):
    queued = outbox.queue(hub.engine, consultation_id)
    return json_response({"queue": queued, "counts": outbox.queue_counts(queued)})


router.include_router(staff)
