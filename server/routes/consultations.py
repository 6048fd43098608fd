"""Content: the bundle index of a device's site, its card index, consultations, their bundles and files (images,
the base map), live results and approved ideas."""
from __future__ import annotations

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response, StreamingResponse

from app.canonical import canonical_json
from app.errors import N_

from .. import PROTOCOL_VERSION, display_controls
from ..db import sha256
from ..errors import HubError
from ..limits import client_address
from ..results_stream import results_events, stream_owner
from .deps import DeviceDep, HubDep
from .responses import conditional_response, json_response

router = APIRouter(prefix="/api/v1")
# What app.bundle.bundle_files lists: images and the base map (an MBTiles SQLite file).
FILE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
              "webp": "image/webp", "mbtiles": "application/vnd.sqlite3",
              "ogg": "audio/ogg", "wav": "audio/wav", "mp3": "audio/mpeg"}
# Every bundle file answered as the type its name says and nothing else: no sniffing, and a
# browser that opens one gets no script, style or frame of it (app.bundle checked the bytes at
# upload: an image decoded whole, a recording's structure read).
FILE_HEADERS = {"X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cross-Origin-Resource-Policy": "same-site"}


def file_response(request: Request, etag: str, body: bytes, path: str) -> Response:
    """A bundle's file (its image, recording or base map) with its strict type."""
    media = FILE_TYPES.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream")
    response = conditional_response(request, etag, body, media)
    response.headers.update(FILE_HEADERS)
    return response


def _unknown_consultation() -> HubError:
    return HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")


@router.get("/bundle", summary="Consultations for this device's site, with file hashes")
def bundle_index(request: Request, me: DeviceDep, hub: HubDep):
    body = canonical_json({"protocol": PROTOCOL_VERSION, **hub.bundle_index(me)}).encode()
    return conditional_response(request, f'"{sha256(body)[:32]}"', body, "application/json")


@router.get("/cards", summary="Card checks for this device's site (issued cards' public keys)")
def card_index(request: Request, me: DeviceDep, hub: HubDep):
    etag, body = hub.content.card_index_body(me)
    return conditional_response(request, etag, body, "application/json")


@router.get("/consultations", summary="Published consultations (public)")
def list_consultations(hub: HubDep):
    return json_response({"consultations": hub.consultations()})


@router.get("/consultations/{consultation_id}/bundle",
            summary="bundle.json of the current version")
def consultation_bundle(request: Request, hub: HubDep,
                        consultation_id: str = Path(max_length=64)):
    found = hub.bundle_json(consultation_id)
    if found is None:
        raise _unknown_consultation()
    return conditional_response(request, f'"{found[0]}"', found[1].encode(), "application/json")


@router.get("/consultations/{consultation_id}/files/{path:path}", summary="A file of the bundle: an image or the base map")
def consultation_file(request: Request, hub: HubDep, consultation_id: str = Path(max_length=64),
                      path: str = Path(max_length=300)):
    found = hub.bundle_file(consultation_id, path)
    if found is None:
        raise HubError(N_("Not found."), status=404, code="file_unknown")
    return file_response(request, f'"{found[0]}"', found[1], path)


@router.get("/consultations/{consultation_id}/results", summary="Live tallies; ETag")
def results(request: Request, hub: HubDep, consultation_id: str = Path(max_length=64)):
    found = hub.read_results(consultation_id)
    if found is None:
        raise _unknown_consultation()
    return conditional_response(request, found[0], found[1], "application/json")


@router.get("/consultations/{consultation_id}/draft/bundle",
            summary="bundle.json of the draft this device tries in rehearsal")
def draft_bundle(request: Request, me: DeviceDep, hub: HubDep,
                 consultation_id: str = Path(max_length=64)):
    row = hub.content.draft_for(consultation_id, me)
    if row is None:
        raise HubError(N_("Not found."), status=404, code="draft_unknown")
    return conditional_response(request, f'"{row.sha256}"', row.bundle.encode(),
                                "application/json")


@router.get("/consultations/{consultation_id}/draft/files/{path:path}",
            summary="A file of the draft this device tries in rehearsal")
def draft_file(request: Request, me: DeviceDep, hub: HubDep,
               consultation_id: str = Path(max_length=64), path: str = Path(max_length=300)):
    found = (hub.content.draft_file(consultation_id, path)
             if hub.content.draft_for(consultation_id, me) is not None else None)
    if found is None:
        raise HubError(N_("Not found."), status=404, code="file_unknown")
    return file_response(request, f'"{found[0]}"', found[1], path)


@router.get("/consultations/{consultation_id}/rehearsal/results",
            summary="The rehearsal's tallies (never the real ones); ETag")
def rehearsal_results(request: Request, hub: HubDep, consultation_id: str = Path(max_length=64)):
    body = hub.rehearsal.results_body(consultation_id)
    if body is None:
        raise _unknown_consultation()
    return conditional_response(request, f'"r{sha256(body)[:32]}"', body, "application/json")


@router.get("/consultations/{consultation_id}/results/stream",
            summary="Live tallies and display controls pushed as Server-Sent Events (public)")
async def results_stream(request: Request, hub: HubDep,
                         consultation_id: str = Path(max_length=64),
                         last_event_id: str | None = Header(None, max_length=300)):
    if hub.read_results(consultation_id) is None:
        raise _unknown_consultation()
    streams = request.app.state.streams
    address = stream_owner(client_address(request.scope, hub.settings.trusted_proxies))
    streams.open(address)       # 429 too_many_streams past the caps
    events = results_events(hub, consultation_id, last_event_id, streams,
                            max(1, hub.settings.stream_heartbeat),
                            lambda: display_controls.read_display(hub, consultation_id))
    return _Stream(events, lambda: streams.close(address), media_type="text/event-stream",
                   headers={"Cache-Control": "no-cache, no-transform",
                            "X-Accel-Buffering": "no"})


class _Stream(StreamingResponse):
    """A stream that gives its place back however it ends, even when its body never started
    (the client gone before the first byte)."""

    def __init__(self, content, release, **kwargs):
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


@router.get("/consultations/{consultation_id}/proposals", summary="Approved ideas (public)")
def public_proposals(hub: HubDep, consultation_id: str = Path(max_length=64)):
    return json_response({"proposals": hub.proposals(consultation_id, public=True)})
