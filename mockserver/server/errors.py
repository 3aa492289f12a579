"""The one place where errors become HTTP responses.

Every error answer has a JSON body: ``{"error_code", "title", "detail"}``, plus ``field``,
``rule`` and ``errors`` for a 400. ``error_code`` is the API's business code where one is
known (2001 invalid request, 2005 task not found) and the HTTP status otherwise.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mockserver.domain.errors import (
    InvalidRequest,
    MockError,
    PayloadTooLarge,
    ResultNotFound,
    TaskNotFound,
    Unauthorized,
)
from mockserver.server.wire import JSONResponse

# error class -> (HTTP status, business error code)
STATUS: dict[type[MockError], tuple[int, int]] = {
    InvalidRequest: (400, 2001),
    Unauthorized: (401, 401),
    TaskNotFound: (404, 2005),
    ResultNotFound: (404, 404),
    PayloadTooLarge: (413, 413),
}

_HTTP_TITLES = {404: "Not Found", 405: "Method Not Allowed"}


def error_body(error_code: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error_code": error_code, "title": title, "detail": detail, **extra}


def mock_error_response(exc: MockError) -> Response:
    status, code = STATUS.get(type(exc), (500, 500))
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidRequest):
        extra = {
            "field": exc.field,
            "rule": exc.rule,
            "errors": [
                {"field": v.field, "rule": v.rule, "detail": v.detail} for v in exc.violations
            ],
        }
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(code, exc.title, exc.detail, **extra), status, headers)


async def handle_mock_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MockError)
    return mock_error_response(exc)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no route) and 405 (wrong method), given JSON bodies."""
    assert isinstance(exc, HTTPException)
    title = _HTTP_TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404:
        detail = f"No route for {request.method} {request.url.path}"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        detail = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
    else:
        detail = str(exc.detail)
    body = error_body(exc.status_code, title, detail)
    return JSONResponse(body, exc.status_code, headers=exc.headers)


async def handle_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away mid-body; nobody will read this answer, but it is still JSON."""
    return JSONResponse(error_body(400, "Client Disconnected", "the request body was cut off"), 400)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """A bug in the fake: still a JSON body, never an HTML page."""
    detail = f"wan-mock hit an internal error ({type(exc).__name__}); please report it"
    return JSONResponse(error_body(500, "Internal Server Error", detail), 500)


EXCEPTION_HANDLERS = {
    MockError: handle_mock_error,
    HTTPException: handle_http_error,
    ClientDisconnect: handle_disconnect,
    Exception: handle_unexpected,
}
