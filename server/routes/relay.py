"""Hub to hub, the central side's routes (docs/protocol.md, "Hub to hub"): a room hub,
authenticated as a `relay` device, registers its devices, forwards batches and reads the
answers to its devices' ideas. Its bundles come from GET /api/v1/bundle like a tablet's."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.errors import N_
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
async def forward(body: RelayBatch, me: DeviceDep, hub: HubDep, request: Request):
    relay.require_relay(me)
    results = await run_in_threadpool(relay.ingest_relayed, hub, me, body.events,
                                      request.app.state.limits)
    return json_response({"max_batch": relay.relay_max_batch(hub.settings),
                          "results": results})


class CardList(BaseModel):
    cards: list[dict[str, Any]] = Field(
        description="Issued cards: {consultation_id, lookup, public_key} (no secret, "
                    "nothing that makes an answer, nothing about who holds them)")


@router.get("/cards", summary="The cards issued here for the room's site (relay): counts per "
                               "consultation, or one page of a consultation's cards")
def cards_out(me: DeviceDep, hub: HubDep,
              consultation_id: str | None = Query(None, max_length=64),
              after: str = Query("", max_length=16),
              limit: int = Query(relay.CARD_PAGE, ge=1, le=relay.CARD_PAGE)):
    return json_response(relay.cards_for_relay(hub, me, consultation_id, after, limit))


@router.post("/cards", summary="The cards the room hub issued, before their answers (relay), "
                                "in chunks well under the body limit")
def cards_in(body: CardList, me: DeviceDep, hub: HubDep):
    return json_response(relay.cards_from_relay(hub, me, body.cards))


class ClosingList(BaseModel):
    documents: list[str] = Field(description="The room hub's closing records, as signed, "
                                             "in order (server/closing.py)")


@router.post("/closings", summary="The room hub's closing records, in order (relay)")
def closings_in(body: ClosingList, me: DeviceDep, hub: HubDep):
    from ..closing import receive_closings
    from ..closing_sheet import can_show
    relay.require_relay(me)
    return json_response(receive_closings(hub, me, body.documents, shown=can_show))


@router.get("/answers", summary="Answers to the ideas the room's devices collected (relay)")
def answers(me: DeviceDep, hub: HubDep, since: int = Query(0, ge=0)):
    return json_response(relay.answers_for_relay(hub, me, since))


dashboard = APIRouter(include_in_schema=False)


@dashboard.get("/dashboard/relays.{fmt}")
def relays_export(request: Request, hub: HubDep, fmt: str):
    """What each room hub forwarded (staff): the dashboard's "Room hubs" section as CSV or
    JSON, like `python -m server relays`. No personal data."""
    from .dashboard import is_staff
    from ..room import export_relays
    from ..pages import SECURITY_HEADERS
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


@dashboard.post("/dashboard/relay-code", response_class=HTMLResponse)
async def relay_code(request: Request, hub: HubDep):
    """Staff make a room hub's code for a site from the dashboard (its session and form
    token), like `python -m server relay-code`."""
    from app.model import localized

    from ..pages import read_form
    from .dashboard import login, session_of
    from ..errors import HubError
    from ..hub import same_secret
    from ..pages import render, request_lang, translator
    lang = request_lang(request)
    session = session_of(hub, request)
    form = await read_form(request)
    if session is None or not same_secret(form.get("csrf", ""), session["csrf"]):
        return login(hub, lang, 403, N_("The form expired: send it again."))
    try:
        made = hub.make_enrollment_code(form.get("site") or None, 60, kind="relay")
    except HubError as exc:
        return render("message.html", lang, exc.status, title=N_("No code was made."),
                      text=exc.describe(translator(lang)))
    names = {s["id"]: localized(s["name"], lang) for s in hub.sites()}
    return render("relay_code.html", lang, made=made, url=hub.settings.public_url,
                  site_name=names.get(made["site_id"], made["site_id"]))


@dashboard.post("/dashboard/relay-move", response_class=HTMLResponse)
async def relay_move(request: Request, hub: HubDep):
    """Staff move a tablet to a room hub from the dashboard (its session and form token), like
    `python -m server relay-move`."""
    from ..pages import read_form
    from .dashboard import login, session_of
    from ..errors import HubError
    from ..hub import same_secret
    from ..pages import render, request_lang, translator
    lang = request_lang(request)
    session = session_of(hub, request)
    form = await read_form(request)
    if session is None or not same_secret(form.get("csrf", ""), session["csrf"]):
        return login(hub, lang, 403, N_("The form expired: send it again."))
    try:
        moved = relay.move_registration(hub, form.get("device_id", ""), form.get("relay_id", ""))
    except HubError as exc:
        return render("message.html", lang, exc.status, title=N_("Nothing was moved."),
                      text=exc.describe(translator(lang)))
    text = translator(lang)(N_("The tablet {device} now sends its events through the room hub "
                               "{relay}.")).format(device=moved["device_id"],
                                                   relay=moved["relay_id"])
    return render("message.html", lang, title=N_("Tablet moved."), text=text)
