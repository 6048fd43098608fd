"""Closing records (server/closing.py) over HTTP:

    GET  /api/v1/closing-key            (public) the hub's closing public key
    GET  /api/v1/closings/{id}          (public) a closing's signed file, byte for byte
    GET  /closing/{id}                  (public) its page (FR/IT/EN): the sheet, verified here
    GET  /closing/{id}.pdf?lang=fr|it   (public) the sheet a facilitator signs (PDF)
    POST /api/v1/admin/closings         (staff)  close a meeting or a site's day
    GET  /api/v1/admin/closings         (staff)  every closing this hub made
    (the dashboard's "Close the meeting" button: server/routes/dashboard.py)
"""
from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field

from app.errors import N_
from app.qr import qr_svg

from .. import closing
from ..closing_sheet import pdf_bytes, public_url, sheet_context
from ..errors import HubError
from ..pages import SECURITY_HEADERS, limited, render, request_lang
from .deps import STAFF_ONLY, HubDep
from .responses import PROTOCOL_HEADER, json_response

router = APIRouter()
staff = APIRouter(prefix="/api/v1/admin", dependencies=[STAFF_ONLY])
pages = APIRouter(include_in_schema=False)


class ClosingRequest(BaseModel):
    meeting_id: str | None = Field(None, max_length=64)
    consultation_id: str | None = Field(None, max_length=64)
    site_id: str | None = Field(None, max_length=64)
    day: str | None = Field(None, max_length=10, description="YYYY-MM-DD, with site_id")


def _unknown() -> HubError:
    return HubError(N_("Unknown closing."), status=404, code="closing_unknown")


@router.get("/api/v1/closing-key", summary="The hub's public key for closing records")
def closing_key(hub: HubDep):
    return json_response({"algorithm": "Ed25519", "public_key": closing.hub_public_key(hub)})


@router.get("/api/v1/closings/{closing_id}", summary="A closing record, as signed")
def closing_file(hub: HubDep, closing_id: str = Path(max_length=64)):
    row = closing.closing(hub, closing_id)
    if row is None:
        raise _unknown()
    return Response(row["document"] + "\n", media_type="application/json", headers={
        **PROTOCOL_HEADER, "Content-Disposition":
            f'attachment; filename="closing-{row["number"]}.json"'})


@staff.post("/closings", summary="Close a meeting, or a site's day")
def make_closing(body: ClosingRequest, hub: HubDep):
    row = closing.make_for(hub, meeting_id=body.meeting_id,
                           consultation_id=body.consultation_id, site_id=body.site_id,
                           day=body.day)
    return json_response({"number": row["number"], "id": row["id"], "digest": row["digest"],
                          "url": public_url(hub, row["id"]), "document": row["document"]})


@staff.get("/closings", summary="Every closing this hub made")
def list_closings(hub: HubDep):
    return json_response({"closings": closing.closings(hub)})


@pages.get("/closing/{closing_id}.pdf")
def closing_pdf(request: Request, hub: HubDep, closing_id: str = Path(max_length=64)):
    """The sheet a facilitator signs, FR or IT (?lang=)."""
    refused = limited(request, "public")      # a PDF drawn at 300 dpi costs CPU
    if refused is not None:
        return refused
    row = closing.closing(hub, closing_id)
    if row is None:
        raise _unknown()
    lang = request_lang(request)
    lang = lang if lang in ("fr", "it") else "fr"
    return Response(pdf_bytes(hub, row, lang), media_type="application/pdf", headers={
        **SECURITY_HEADERS, "Cache-Control": "no-store",
        "Content-Disposition": f'inline; filename="closing-{row["number"]}-{lang}.pdf"'})


@pages.get("/closing/{closing_id}", response_class=HTMLResponse)
def closing_page(request: Request, hub: HubDep, closing_id: str = Path(max_length=64)):
    refused = limited(request, "public")
    if refused is not None:
        return refused
    lang = request_lang(request)
    row = closing.closing(hub, closing_id)
    if row is None:
        return render("message.html", lang, 404, title=N_("Unknown closing."),
                      text=N_("Check the address, or scan the code again."))
    context = sheet_context(hub, row, lang)
    previous = None
    if context["record"]["number"] > 1 and not row.get("relay_id"):
        before = closing.closing(hub, str(context["record"]["number"] - 1))
        previous = before["id"] if before else None
    return render("closing.html", lang, previous=previous, closing_id=row["id"],
                  qr=Markup(qr_svg(context["url"]).replace(
                      "<svg ", '<svg role="img" aria-hidden="true" ', 1)), **context)


def dashboard_closings(hub, consultation_id: str | None) -> dict:
    """The dashboard's closing section: the meetings one can close, and closings made."""
    meetings = []
    for row in hub.consultations():
        if consultation_id not in (None, row["id"]):
            continue
        consultation = hub.consultation(row["id"])
        for meeting in consultation.meetings if consultation else ():
            meetings.append({"consultation_id": consultation.id, "id": meeting.id,
                             "title": meeting.title, "starts_at": meeting.starts_at,
                             "site": meeting.site})
    # A closing said by what it closed (the meeting's title and time, or the site and day),
    # not by its scope key ("meeting:alpimed-2030:m-menton-1203").
    by_key = {f"meeting:{m['consultation_id']}:{m['id']}": m for m in meetings}
    made = []
    for row in closing.closings(hub)[-20:][::-1]:
        kind, _sep, rest = row["scope"].partition(":")
        meeting = by_key.get(row["scope"])
        site, _sep, day = rest.rpartition(":") if kind == "site_day" else ("", "", "")
        made.append({**row, "meeting": meeting, "site_id": site, "day": day})
    return {"meetings": meetings, "closings": made}
