"""The hub's HTTP API under /api/v1 (docs/protocol.md). `create_app(settings)` builds it."""
from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from typing import Any

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import N_, DomainError
from app.i18n import gettext_for

from . import PROTOCOL_VERSION, __version__
from .errors import AuthError, HubError
from .hub import Hub
from .settings import Settings

log = logging.getLogger("piazzetta.hub")
EXTENSIONS = ("signup", "dashboard", "channels_api")
PROTOCOL_HEADER = {"Piazzetta-Protocol": str(PROTOCOL_VERSION)}


def _gettext(request: Request):
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        lang = part.split(";")[0].strip().lower()[:2]
        if lang in ("fr", "it"):
            try:
                return gettext_for(lang)
            except (OSError, ValueError):
                return None
        if lang == "en":
            return None
    return None


def _json(body: dict, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"protocol": PROTOCOL_VERSION, **body}, status_code=status,
                        headers={**PROTOCOL_HEADER, **(headers or {})})


def _error(request: Request, error: DomainError, status: int) -> JSONResponse:
    gettext = _gettext(request)
    body = (error.as_dict(gettext) if isinstance(error, HubError)
            else {"code": error.message, "message": error.describe(gettext),
                  "field": error.field})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _json({"error": body}, status, headers)


# -- request bodies (for validation and the OpenAPI description) ----------------------------------

class EnrollRequest(BaseModel):
    code: str = Field(max_length=64, description="The code as typed or read from the QR")
    device_id: str = Field(max_length=64, description="The tablet's own identifier")
    name: str = Field("", max_length=200)
    platform: str = Field("", max_length=100)


class EventBatch(BaseModel):
    events: list[dict[str, Any]] = Field(
        description="Event envelopes {id, device_id, seq, type, recorded_at, payload}; "
                    "each is checked on its own and gets its own result")


class SiteRequest(BaseModel):
    id: str = Field(max_length=64)
    name: dict[str, str] | str
    town: str = Field("", max_length=200)


class CodeRequest(BaseModel):
    site_id: str | None = Field(None, max_length=64)
    minutes: int = Field(15, ge=1, le=7 * 24 * 60)


class AnswerRequest(BaseModel):
    answer_status: str = Field(max_length=20)
    answer_text: str | None = Field(None, max_length=4000)


MAX_BODY_BYTES = 32 * 1024 * 1024   # a batch of 500 events is far below; bundles without images too


class BodyLimit:
    """Refuse request bodies over MAX_BODY_BYTES with 413 before reading them into memory."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await self._too_large(send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._too_large(send)

    @staticmethod
    async def _too_large(send):
        body = json.dumps({"protocol": PROTOCOL_VERSION, "error": {
            "code": "body_too_large", "message": "The request is too large.",
            "field": None}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> FastAPI:
    hub = hub or Hub(settings or Settings.from_env())
    app = FastAPI(title="Piazzetta hub", version=__version__,
                  description="The sync API tablets, projectors and room hubs speak "
                              "(docs/protocol.md).")
    app.state.hub = hub

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError):
        return _error(request, exc, getattr(exc, "status", 400))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        error = HubError(N_("The request does not match the API: {detail}"), status=422,
                         code="invalid_request", field=field,
                         detail=str(first.get("msg", ""))[:200])
        return _error(request, error, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        messages = {404: N_("Not found."), 405: N_("This method is not allowed here.")}
        error = HubError(messages.get(exc.status_code, N_("The request cannot be served.")),
                         status=exc.status_code, code=f"http_{exc.status_code}")
        return _error(request, error, exc.status_code)

    def device(authorization: str | None = Header(None, description="Bearer <device_id>:<secret>")
               ) -> dict:
        return hub.authenticate(authorization)

    def staff(authorization: str | None = Header(None, description="Bearer <admin token>")
              ) -> None:
        if not hub.is_admin(authorization):
            raise AuthError(N_("A staff token is needed."), "staff_only")

    api = APIRouter(prefix="/api/v1")

    @api.get("", summary="What this hub speaks")
    def info():
        return _json({"name": "piazzetta-hub", "version": __version__,
                      "max_batch": hub.settings.max_batch,
                      "public_url": hub.settings.public_url})

    # -- devices -----------------------------------------------------------------------------------

    @api.post("/devices/enroll", summary="Trade an enrollment code for a device secret")
    def enroll(body: EnrollRequest):
        return _json(hub.enroll(body.code, body.device_id, body.name, body.platform))

    @api.get("/device", summary="The authenticated device")
    def whoami(me: dict = Depends(device)):
        return _json({"device_id": me["id"], "site_id": me["site_id"], "name": me["name"],
                      "max_batch": hub.settings.max_batch})

    # -- events ------------------------------------------------------------------------------------

    @api.post("/events", summary="Push a batch of events; each is acknowledged by ID")
    async def push_events(batch: EventBatch, me: dict = Depends(device)):
        results = await run_in_threadpool(hub.ingest, me, batch.events)
        return _json({"max_batch": hub.settings.max_batch, "results": results})

    # -- content -----------------------------------------------------------------------------------

    @api.get("/bundle", summary="Consultations for this device's site, with file hashes")
    def bundle_index(request: Request, me: dict = Depends(device)):
        index = hub.bundle_index(me)
        body = json.dumps({"protocol": PROTOCOL_VERSION, **index}, ensure_ascii=False,
                          sort_keys=True).encode()
        from .hub import sha256
        return _conditional(request, f'"{sha256(body)[:32]}"', body, "application/json")

    @api.get("/consultations", summary="Published consultations (public)")
    def list_consultations():
        return _json({"consultations": hub.consultations()})

    @api.get("/consultations/{consultation_id}/bundle", summary="bundle.json of the current version")
    def consultation_bundle(request: Request,
                            consultation_id: str = Path(max_length=64)):
        found = hub.bundle_json(consultation_id)
        if found is None:
            raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
        return _conditional(request, f'"{found[0]}"', found[1].encode(), "application/json")

    @api.get("/consultations/{consultation_id}/files/{path:path}", summary="A bundle's image")
    def consultation_file(request: Request, consultation_id: str = Path(max_length=64),
                          path: str = Path(max_length=300)):
        found = hub.bundle_file(consultation_id, path)
        if found is None:
            raise HubError(N_("Not found."), status=404, code="file_unknown")
        suffix = path.rsplit(".", 1)[-1].lower()
        media = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
                 "webp": "image/webp"}.get(suffix, "application/octet-stream")
        return _conditional(request, f'"{found[0]}"', found[1], media)

    @api.get("/consultations/{consultation_id}/results", summary="Live tallies; ETag")
    def results(request: Request, consultation_id: str = Path(max_length=64)):
        found = hub.read_results(consultation_id)
        if found is None:
            raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
        return _conditional(request, found[0], found[1], "application/json")

    @api.get("/consultations/{consultation_id}/proposals", summary="Approved ideas (public)")
    def public_proposals(consultation_id: str = Path(max_length=64)):
        return _json({"proposals": hub.proposals(consultation_id, public=True)})

    # -- answers to ideas --------------------------------------------------------------------------

    @api.get("/proposals/answers", summary="Answers to the ideas this device collected")
    def proposal_answers(since: int = Query(0, ge=0, le=2 ** 62),
                         me: dict = Depends(device)):
        return _json(hub.answers_since(me, since))

    # -- staff -------------------------------------------------------------------------------------

    admin = APIRouter(prefix="/api/v1/admin", dependencies=[Depends(staff)])

    @admin.post("/sites", summary="Create or update a site")
    def create_site(body: SiteRequest):
        return _json({"site": hub.create_site(body.id, body.name, body.town)})

    @admin.post("/consultations", summary="Import a bundle's JSON (without images)")
    def import_consultation(body: dict[str, Any] = Body(...)):
        consultation = hub.import_bundle(body)
        return _json({"id": consultation.id, "version": consultation.version})

    @admin.post("/enrollment-codes", summary="A short-lived, single-use enrollment code")
    def make_code(body: CodeRequest):
        return _json(hub.make_enrollment_code(body.site_id, body.minutes))

    @admin.get("/devices", summary="Enrolled devices")
    def list_devices():
        return _json({"devices": hub.devices()})

    @admin.post("/devices/{device_id}/revoke", summary="Revoke a device at once")
    def revoke(device_id: str = Path(max_length=64)):
        hub.revoke(device_id)
        return _json({"device_id": device_id, "revoked": True})

    @admin.get("/proposals", summary="Every idea, with moderation and answer")
    def all_proposals(consultation_id: str | None = Query(None, max_length=64)):
        return _json({"proposals": hub.proposals(consultation_id)})

    @admin.put("/proposals/{proposal_id}/answer", summary="The public answer to an idea")
    def answer(body: AnswerRequest, proposal_id: str = Path(max_length=64)):
        return _json(hub.answer_proposal(proposal_id, body.answer_status, body.answer_text))

    @admin.get("/conflicts", summary="Events kept for review (conflicts and rejects)")
    def conflicts():
        return _json({"events": hub.reviews()})

    app.include_router(api)
    app.include_router(admin)
    # Optional parts of the hub (e.g. the sign-up page, server/signup.py) plug in here:
    # a module exposing `router(hub) -> APIRouter`.
    for name in EXTENSIONS:
        if importlib.util.find_spec(f"server.{name}") is not None:
            module = importlib.import_module(f"server.{name}")
            app.include_router(module.router(hub))
    app.add_middleware(BodyLimit)
    return app


def _conditional(request: Request, etag: str, body: bytes, media_type: str) -> Response:
    """The body with its ETag, or 304 when the client already has it."""
    headers = {**PROTOCOL_HEADER, "ETag": etag, "Cache-Control": "no-cache"}
    match = request.headers.get("if-none-match")
    if match and etag in [m.strip() for m in match.split(",")] or match == "*":
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)
