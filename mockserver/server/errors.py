"""The one place where errors become HTTP answers.

Every error the fake sends goes through :class:`ErrorRenderer`: the API's own errors, injected
faults and scenarios, Starlette's 404 and 405, the protocol layer's 408, 413 and 431, and any
unexpected exception. :func:`problem_for` is the single mapping from an exception to a
:class:`Problem` (status, business code, title, detail, headers); the renderer turns a problem
into a JSON body in the active dialect (``Speaker.error_body``). The default body is
``{"error_code", "title", "detail"}``, the keys the real API has been seen to send; a problem's
``extra`` diagnostics (``field``, ``rule`` and ``errors`` for a 400, ``limit`` for a 429) are
added only when the renderer is told to explain (``explain_errors`` on the API, always on the
control plane, which is the fake's own). ``error_code`` is the API's business code where one is
known (2001 invalid request, 2005 task not found) and the HTTP status otherwise.
"""

from __future__ import annotations

import http
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mockserver.domain.behaviour import Dialect
from mockserver.domain.clock import Clock
from mockserver.domain.errors import (
    AdminRequired,
    ForeignRequest,
    InvalidRequest,
    MockError,
    PayloadTooLarge,
    RangeNotSatisfiable,
    RenderQueueFull,
    RequestTimeout,
    ResultExpired,
    ResultNotFound,
    ScenarioRejection,
    StateUnavailable,
    TaskNotFound,
    TransientPollError,
    Unauthorized,
    UnsupportedMediaType,
    WebhookNotFound,
)
from mockserver.domain.limits import LimitExceeded
from mockserver.server.dialects import Speaker
from mockserver.server.wire import JSONResponse, encode

# error class -> (HTTP status, business error code)
STATUS: dict[type[MockError], tuple[int, int]] = {
    InvalidRequest: (400, 2001),
    Unauthorized: (401, 401),
    TaskNotFound: (404, 2005),
    ResultNotFound: (404, 404),
    WebhookNotFound: (404, 404),
    PayloadTooLarge: (413, 413),
    RequestTimeout: (408, 408),
    RangeNotSatisfiable: (416, 416),
    ResultExpired: (403, 403),
    AdminRequired: (403, 403),
    ForeignRequest: (403, 403),
    UnsupportedMediaType: (415, 415),
    RenderQueueFull: (503, 503),
    StateUnavailable: (503, 503),
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
INJECTED_HEADER = "X-Wan-Mock-Injected"


@dataclass(frozen=True, slots=True)
class Problem:
    """An error answer before it is spelled in a dialect."""

    status: int
    code: int
    title: str
    detail: str
    extra: dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def injected(status: int, note: str, retry_after: int | None = None) -> Problem:
    """What an injected error (a scenario or a fault) says, as the API plausibly would;
    ``note`` says who injected it (``X-Wan-Mock-Injected``)."""
    title, detail = REALISTIC.get(status, (phrase(status), "The request failed"))
    headers = {INJECTED_HEADER: note}
    wait = retry_after if retry_after is not None else RETRY_AFTER.get(status)
    if wait is not None:
        headers["Retry-After"] = str(wait)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return Problem(status, BUSINESS_CODES.get(status, status), title, detail, None, headers)


def problem_for(exc: Exception, method: str, path: str) -> Problem:
    """The one mapping from an exception to the error answer it becomes."""
    if isinstance(exc, ScenarioRejection):
        return injected(exc.status, f"scenario reject:{exc.status}")
    if isinstance(exc, TransientPollError):
        return injected(exc.status, f"scenario poll-error:{exc.status}")
    if isinstance(exc, MockError):
        status, code = STATUS.get(type(exc), (500, 500))
        extra: dict[str, Any] | None = None
        headers: dict[str, str] = {}
        if isinstance(exc, InvalidRequest):
            violations = [
                {"field": v.field, "rule": v.rule, "detail": v.detail} for v in exc.violations
            ]
            extra = {"field": exc.field, "rule": exc.rule, "errors": violations}
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RangeNotSatisfiable):
            headers["Content-Range"] = f"bytes */{exc.size}"
        if isinstance(exc, (RenderQueueFull, StateUnavailable)):
            headers["Retry-After"] = str(exc.retry_after)
        return Problem(status, code, exc.title, exc.detail, extra, headers)
    if isinstance(exc, LimitExceeded):  # a configured rate limit: the exact seconds to wait
        wait = math.ceil(exc.retry_after)
        detail = f"Rate limit exceeded ({exc.limit}: {exc.detail}); retry after {wait} s"
        extra = {"limit": exc.limit}
        return Problem(429, 429, "Too Many Requests", detail, extra, {"Retry-After": str(wait)})
    if isinstance(exc, HTTPException):  # Starlette's own: no route, or the wrong method
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            detail = f"No route for {method} {path}"
        elif exc.status_code == 405:
            detail = f"{method} is not allowed on {path}; use {headers.get('Allow', '')}"
        else:
            detail = str(exc.detail)
        return Problem(
            exc.status_code, exc.status_code, phrase(exc.status_code), detail, None, headers
        )
    if isinstance(exc, ClientDisconnect):  # nobody reads this answer, but it is still JSON
        return Problem(400, 400, "Client Disconnected", "the request body was cut off")
    detail = f"wan-mock hit an internal error ({type(exc).__name__}); please report it"
    return Problem(500, 500, "Internal Server Error", detail)


# What the fake answers by design; anything else is a bug, answered 500 and then re-raised so
# the server logs it (and a test's served fake hands it to the test).
ANSWERED: tuple[type[Exception], ...] = (MockError, LimitExceeded, HTTPException, ClientDisconnect)

# The control plane is not the API: its errors keep the default shape and draw nothing random.
DEFAULT_SPEAKER = Speaker(Dialect())


def always() -> bool:
    return True


class ErrorRenderer:
    """Renders problems in the dialect of ``speaker()``, with their diagnostics when
    ``explain()`` (both read per answer: settings change)."""

    def __init__(
        self, speaker: Callable[[], Speaker], clock: Clock, explain: Callable[[], bool] = always
    ) -> None:
        self.speaker = speaker
        self.clock = clock
        self.explain = explain

    def body(self, problem: Problem) -> dict[str, Any]:
        extra = problem.extra if self.explain() else None
        return self.speaker().error_body(
            problem.code, problem.title, problem.detail, extra, now=self.clock.now()
        )

    def response(self, problem: Problem) -> JSONResponse:
        return JSONResponse(self.body(problem), problem.status, dict(problem.headers))

    def raw(self, problem: Problem) -> bytes:
        """A whole HTTP/1.1 answer, for the protocol layer (before any app runs); it closes
        the connection."""
        body = encode(self.body(problem))
        head = [f"HTTP/1.1 {problem.status} {phrase(problem.status)}"]
        head += [f"{k}: {v}" for k, v in problem.headers.items()]
        head += [
            "content-type: application/json",
            f"content-length: {len(body)}",
            "connection: close",
        ]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body

    def handlers(self) -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
        """Starlette exception handlers that answer every exception through this renderer."""

        async def handle(request: Request, exc: Exception) -> Response:
            return self.response(problem_for(exc, request.method, request.url.path))

        return dict.fromkeys((*ANSWERED, Exception), handle)
