"""The hub's JSON answers: every body names the protocol version, and so does a header."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from .. import PROTOCOL_VERSION

PROTOCOL_HEADER = {"Piazzetta-Protocol": str(PROTOCOL_VERSION)}


def json_response(body: dict, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"protocol": PROTOCOL_VERSION, **body}, status_code=status,
                        headers={**PROTOCOL_HEADER, **(headers or {})})


def conditional_response(request: Request, etag: str, body: bytes, media_type: str) -> Response:
    """The body with its ETag, or 304 when the client already has it."""
    headers = {**PROTOCOL_HEADER, "ETag": etag, "Cache-Control": "no-cache"}
    match = request.headers.get("if-none-match")
    if match and etag in [m.strip() for m in match.split(",")] or match == "*":
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)
