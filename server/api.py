"""The hub's HTTP API under /api/v1 (docs/protocol.md). `create_app(settings)` builds it from the
routers of server/routes/, the sign-up pages (server.signup) and the dashboard
(server.dashboard)."""
from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import N_, DomainError
from app.i18n import gettext_for

from . import PROTOCOL_VERSION, __version__, dashboard, signup
from .errors import HubError
from .hub import Hub
from .routes import consultations, counts, devices, display, events, ideas, staff
from .routes.responses import json_response
from .settings import Settings

ROUTERS = (devices.router, events.router, consultations.router, ideas.router, staff.router,
           display.router, counts.router, signup.router, dashboard.router)


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> FastAPI:
    hub = hub or Hub(settings or Settings.from_env())
    app = FastAPI(title="Piazzetta hub", version=__version__,
                  description="The sync API tablets, projectors and room hubs speak "
                              "(docs/protocol.md).")
    app.state.hub = hub    # what routes get through server.routes.deps.HubDep
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, request_validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodyLimit)
    return app


# -- errors: a JSON body with a stable code and a message in the reader's language ---------------

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


def error_response(request: Request, error: DomainError, status: int) -> JSONResponse:
    gettext = _gettext(request)
    body = (error.as_dict(gettext) if isinstance(error, HubError)
            else {"code": error.message, "message": error.describe(gettext),
                  "field": error.field})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return json_response({"error": body}, status, headers)


async def domain_error(request: Request, exc: DomainError):
    return error_response(request, exc, getattr(exc, "status", 400))


async def request_validation_error(request: Request, exc: RequestValidationError):
    errors = exc.errors()
    first = errors[0] if errors else {}
    field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
    error = HubError(N_("The request does not match the API: {detail}"), status=422,
                     code="invalid_request", field=field,
                     detail=str(first.get("msg", ""))[:200])
    return error_response(request, error, 422)


async def http_error(request: Request, exc: StarletteHTTPException):
    messages = {404: N_("Not found."), 405: N_("This method is not allowed here.")}
    error = HubError(messages.get(exc.status_code, N_("The request cannot be served.")),
                     status=exc.status_code, code=f"http_{exc.status_code}")
    return error_response(request, error, exc.status_code)


# -- request size ----------------------------------------------------------------------------------

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
