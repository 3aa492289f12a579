"""The one place where errors become HTTP responses.

Every error answer has a JSON body: ``{"error_code", "title", "detail"}``, plus ``field``,
``rule`` and ``errors`` for a 400. ``error_code`` is the API's business code where one is
known (2001 invalid request, 2005 task not found) and the HTTP status otherwise.
"""

from __future__ import annotations

import http
import math
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mockserver.domain.errors import (
    AdminRequired,
    InvalidRequest,
    MockError,
    PayloadTooLarge,
    RangeNotSatisfiable,
    RequestTimeout,
    ResultExpired,
    ResultNotFound,
    ScenarioRejection,
    TaskNotFound,
    TransientPollError,
    Unauthorized,
)
from mockserver.domain.limits import LimitExceeded
from mockserver.server.wire import CONTROL_PREFIX, JSONResponse

# error class -> (HTTP status, business error code)
STATUS: dict[type[MockError], tuple[int, int]] = {
    InvalidRequest: (400, 2001),
    Unauthorized: (401, 401),
    TaskNotFound: (404, 2005),
    ResultNotFound: (404, 404),
    PayloadTooLarge: (413, 413),
    RequestTimeout: (408, 408),
    RangeNotSatisfiable: (416, 416),
    ResultExpired: (403, 403),
    AdminRequired: (403, 403),
}

# What the API would plausibly say for each status a scenario or a fault can inject:
# (title, detail). 429 and 503 also carry Retry-After (seconds, below).
REALISTIC: dict[int, tuple[str, str]] = {
    400: ("Invalid Request", "The request could not be processed"),
    401: ("Unauthorized", "Invalid API key"),
    402: ("Payment Required", "Insufficient balance; top up your account to continue"),
    403: ("Forbidden", "This API key does not have access to alibaba/wan2.6-i2v"),
    404: ("Not Found", "The requested resource does not exist"),
    409: ("Conflict", "An asynchronous task with the same content already exists"),
    429: ("Too Many Requests", "Rate limit exceeded; retry after the time in Retry-After"),
    451: ("Unavailable For Legal Reasons", "This request cannot be served in your region"),
    500: ("Internal Server Error", "An internal error occurred; try again later"),
    502: ("Bad Gateway", "The upstream model provider returned an invalid response"),
    503: ("Service Unavailable", "The service is temporarily overloaded; try again later"),
    504: ("Gateway Timeout", "The upstream model provider did not answer in time"),
}
RETRY_AFTER = {429: 1, 503: 5}
# The API's business codes where one is known for a status; otherwise the status itself.
BUSINESS_CODES = {400: 2001, 404: 2005}


_HTTP_TITLES = {404: "Not Found", 405: "Method Not Allowed"}


def error_body(error_code: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error_code": error_code, "title": title, "detail": detail, **extra}


def _body(
    request: Request, code: int, title: str, detail: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The error body in the app's dialect (the default shape when there is no app voice)."""
    voice = getattr(request.app.state, "voice", None)
    # The control plane is not the API: its errors keep one shape and draw nothing random.
    if voice is None or request.url.path.startswith(CONTROL_PREFIX):
        return error_body(code, title, detail, **(extra or {}))
    body: dict[str, Any] = voice.error_body(code, title, detail, extra)
    return body


def injected(
    status: int, note: str, retry_after: int | None = None
) -> tuple[int, str, str, dict[str, str]]:
    """What an injected error (a scenario or a fault) says, as the API plausibly would:
    business code, title, detail and headers; ``note`` says who injected it."""
    title, detail = REALISTIC.get(status, (_phrase(status), "The request failed"))
    headers = {"X-Wan-Mock-Injected": note}
    wait = retry_after if retry_after is not None else RETRY_AFTER.get(status)
    if wait is not None:
        headers["Retry-After"] = str(wait)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return BUSINESS_CODES.get(status, status), title, detail, headers


def realistic_response(
    request: Request, status: int, note: str, retry_after: int | None = None
) -> Response:
    code, title, detail, headers = injected(status, note, retry_after)
    return JSONResponse(_body(request, code, title, detail), status, headers)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def mock_error_response(request: Request, exc: MockError) -> Response:
    if isinstance(exc, ScenarioRejection | TransientPollError):
        kind = "reject" if isinstance(exc, ScenarioRejection) else "poll-error"
        return realistic_response(request, exc.status, f"scenario {kind}:{exc.status}")
    status, code = STATUS.get(type(exc), (500, 500))
    extra: dict[str, Any] | None = None
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
    if isinstance(exc, RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{exc.size}"
    return JSONResponse(_body(request, code, exc.title, exc.detail, extra), status, headers)


async def handle_mock_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MockError)
    return mock_error_response(request, exc)


async def handle_rate_limit(request: Request, exc: Exception) -> Response:
    """A configured rate limit was hit: 429 with the exact whole seconds to wait."""
    assert isinstance(exc, LimitExceeded)
    wait = math.ceil(exc.retry_after)
    detail = f"Rate limit exceeded: {exc.detail}; retry after {wait} s"
    body = _body(request, 429, "Too Many Requests", detail, {"limit": exc.limit})
    return JSONResponse(body, 429, {"Retry-After": str(wait)})


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
    body = _body(request, exc.status_code, title, detail)
    return JSONResponse(body, exc.status_code, headers=exc.headers)


async def handle_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away mid-body; nobody will read this answer, but it is still JSON."""
    body = _body(request, 400, "Client Disconnected", "the request body was cut off")
    return JSONResponse(body, 400)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """A bug in the fake: still a JSON body, never an HTML page."""
    detail = f"wan-mock hit an internal error ({type(exc).__name__}); please report it"
    return JSONResponse(_body(request, 500, "Internal Server Error", detail), 500)


EXCEPTION_HANDLERS = {
    MockError: handle_mock_error,
    HTTPException: handle_http_error,
    LimitExceeded: handle_rate_limit,
    ClientDisconnect: handle_disconnect,
    Exception: handle_unexpected,
}
