"""The hub's HTTP API under /api/v1 (docs/protocol.md). `create_app(settings)` builds it from the
routers of server/routes/ (the sign-up pages and the dashboard among them)."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import N_, DomainError

from . import __version__, uploads
from .body import (BodyTimeout, BodyTooLarge, Guard, TooManyEvents, too_large,
                   too_many_events, too_slow)
from .errors import HubError
from .hub import Hub
from .limits import RateLimits
from .pages import request_lang, translator
from .results_stream import Streams
from .routes import (consultations, counts, dashboard, devices, display, events, health, ideas,
                     phone, signup, staff, upload)
from .routes import closings as closing_routes
from .routes import relay as relay_routes
from .routes.responses import json_response
from .settings import Settings

ROUTERS = (devices.router, events.router, consultations.router, ideas.router, staff.router,
           display.router, counts.router, signup.router, dashboard.router, upload.router,
           relay_routes.router, relay_routes.dashboard, phone.router, closing_routes.router,
           closing_routes.staff, closing_routes.pages, health.router)


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> FastAPI:
    hub = hub or Hub(settings or Settings.from_env())

    @asynccontextmanager
    async def lifespan(_app):
        yield
        _app.state.streams.close_all()     # results streams end (server.results_stream)
        # On stop: the WAL checkpointed and truncated, the database closed (docs/deploy.md).
        hub.close()

    # /docs and /redoc are pages for people, and people have no business on a hub's API unless
    # staff say so (PIAZZETTA_HUB_API_DOCS); /openapi.json stays: tablets' tests and the fuzz
    # test read it, and it says nothing a client of the API does not already know.
    docs = hub.settings.api_docs
    app = FastAPI(title="Piazzetta hub", version=__version__,
                  description="The sync API tablets, projectors and room hubs speak "
                              "(docs/protocol.md).",
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  lifespan=lifespan)
    app.state.hub = hub    # what routes get through server.routes.deps.HubDep
    app.state.limits = RateLimits(hub.settings, hub.engine, hub.writer)
    app.state.streams = Streams(hub.settings.stream_max, hub.settings.stream_max_per_address)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, request_validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(Guard, hub=hub, error_response=error_response,
                       session_routes={("POST", upload.PATH):
                                       uploads.UPLOAD_MAX_BYTES + uploads.FORM_SLACK},
                       staff_session=lambda request: dashboard.session_of(hub, request)
                       is not None)
    return app


# -- errors: a JSON body with a stable code and a message in the reader's language ---------------

def error_response(request: Request, error: DomainError, status: int) -> Response:
    if request.url.path.startswith(upload.PATH):     # a form's page, for a browser
        return upload.error_page(request, error, status)
    # The hub's one negotiation (server.pages): `?lang=`, then Accept-Language; else English.
    gettext = translator(request_lang(request, default="en"))
    body = (error.as_dict(gettext) if isinstance(error, HubError)
            else {"code": error.message, "message": error.describe(gettext),
                  "field": error.field})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    headers.update(getattr(error, "headers", None) or {})
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
    if isinstance(exc, BodyTooLarge):
        return error_response(request, too_large(exc.limit), 413)
    if isinstance(exc, BodyTimeout):
        return error_response(request, too_slow(exc.seconds), 408)
    if isinstance(exc, TooManyEvents):
        return error_response(request, too_many_events(exc.limit), 413)
    messages = {404: N_("Not found."), 405: N_("This method is not allowed here.")}
    error = HubError(messages.get(exc.status_code, N_("The request cannot be served.")),
                     status=exc.status_code, code=f"http_{exc.status_code}")
    return error_response(request, error, exc.status_code)
