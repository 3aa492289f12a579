"""Injected faults: errors, latency and dropped connections on create, poll and download.

A pure ASGI middleware, so a request no fault targets costs one check. For each request, the
faults that target it are tried in their configured order, each firing on its own with
probability ``rate``. Latencies that fire add up and are waited first; then the first status
or drop that fired answers instead of the app. It wraps the API only, and of that only
create, poll and download are targets (``/openapi.json`` is not).

Reproducibility: all draws come from the injected ``random.Random``, in a fixed order, in the
synchronous part of the request (before any ``await``), so one seed and one request sequence
give the same faults. A rate of 0 or 1 draws nothing: an always-on or switched-off fault never
shifts the coin flips of the others. A fired uniform or lognormal latency draws its value.

Answers carry ``X-Wan-Mock-Injected`` (``fault status:503``, ``fault latency:2.500``, ``fault
drop``), the header the scenarios use, so an injected failure is never mistaken for a real one.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.domain.behaviour import Fault, FaultTarget, Latency
from mockserver.domain.clock import MockClock
from mockserver.domain.paths import FILES_PREFIX, GENERATION_PATH
from mockserver.server.errors import DEFAULT_SPEAKER, INJECTED_HEADER, ErrorRenderer, injected
from mockserver.server.wire import adding_headers

# A lognormal tail is unbounded; past five minutes a client has long timed out anyway.
MAX_LOGNORMAL_SECONDS = 300.0
MARKER = INJECTED_HEADER.lower()
_MARKER = MARKER.encode()

_POLL_PREFIX = GENERATION_PATH + "/"
_FILES = FILES_PREFIX + "/"


def target_of(method: str, path: str) -> FaultTarget | None:
    """Which target a request is, or ``None`` for anything faults never touch."""
    if path == GENERATION_PATH:
        return "create" if method == "POST" else None
    if path.startswith(_POLL_PREFIX):
        task_id = path[len(_POLL_PREFIX) :]
        return "poll" if method == "GET" and task_id and "/" not in task_id else None
    if path.startswith(_FILES) and method in ("GET", "HEAD"):
        return "download"
    return None


def draw_latency(latency: Latency, rng: random.Random) -> float:
    """One delay in fake-clock seconds: ``fixed`` draws nothing, ``uniform`` one value,
    ``lognormal`` one value (median ``seconds``), capped at :data:`MAX_LOGNORMAL_SECONDS`."""
    if latency.distribution == "uniform":
        return rng.uniform(latency.low, latency.high)
    if latency.distribution == "lognormal":
        if latency.seconds <= 0:
            return 0.0
        value = rng.lognormvariate(math.log(latency.seconds), latency.sigma)
        return min(value, MAX_LOGNORMAL_SECONDS)
    return latency.seconds


def decide(
    faults: Sequence[Fault], target: FaultTarget, rng: random.Random
) -> tuple[float, Fault | None]:
    """The total added delay and the status or drop fault that answers (if any)."""
    delay, answer = 0.0, None
    for fault in faults:
        if fault.target != target and fault.target != "all":
            continue
        if fault.rate < 1 and (fault.rate <= 0 or rng.random() >= fault.rate):
            continue
        if fault.latency is not None:
            delay += draw_latency(fault.latency, rng)
        elif answer is None:
            answer = fault
    return delay, answer


class ConnectionDropped(ConnectionResetError):
    """Raised after the headers of a dropped answer: uvicorn then closes the connection; the
    in-process transport (``mockserver.testing.bridge``) turns it into the client's own
    transport error."""


class DropLogFilter(logging.Filter):
    """For ``uvicorn.error``: uvicorn logs the exception that ends a dropped answer with a
    traceback; this turns exactly those records into one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], ConnectionDropped):
            record.msg, record.args = str(record.exc_info[1]), ()
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class FaultMiddleware:
    """Injects ``faults`` around ``app``, answering through ``errors`` (default: the default
    dialect). Assign :attr:`faults` to change them live, or override :meth:`current` and
    :meth:`random` to follow live settings; requests in flight keep the set they started with."""

    def __init__(
        self,
        app: ASGIApp,
        faults: Sequence[Fault],
        clock: MockClock,
        rng: random.Random,
        errors: ErrorRenderer | None = None,
    ) -> None:
        self.app = app
        self.clock = clock
        self.rng = rng
        self.errors = errors or ErrorRenderer(lambda: DEFAULT_SPEAKER, clock)
        self.faults = faults

    @property
    def faults(self) -> tuple[Fault, ...]:
        return self._faults

    @faults.setter
    def faults(self, faults: Sequence[Fault]) -> None:
        self._faults = tuple(faults)

    def current(self) -> tuple[Fault, ...]:
        return self._faults

    def random(self) -> random.Random:
        return self.rng

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.current()
        if not faults or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = target_of(scope["method"], scope["path"])
        if target is None:
            await self.app(scope, receive, send)
            return
        delay, answer = decide(faults, target, self.random())
        notes = [f"fault latency:{delay:.3f}"] if delay > 0 else []
        if delay > 0:
            await self.clock.sleep(delay)
        if answer is None:
            marked = adding_headers(send, [(_MARKER, ", ".join(notes).encode())])
            await self.app(scope, receive, marked if notes else send)
        elif answer.drop:
            await _drop(scope, send, target, ", ".join([*notes, "fault drop"]))
        else:
            assert answer.status is not None  # a Fault sets exactly one of the three
            notes.append(f"fault status:{answer.status}")
            # The whole answer of a status fault; the request body is never read.
            problem = injected(answer.status, ", ".join(notes), answer.retry_after)
            await self.errors.response(problem)(scope, receive, send)


async def _drop(scope: Scope, send: Send, target: FaultTarget, marker: str) -> None:
    """Headers that promise a body, then an exception instead of it. ASGI gives no way to
    close a connection before the headers (uvicorn answers 500 if the app fails first), so
    the client reads the headers and then hits end of stream: a transport error. A HEAD
    answer has no body to cut, so it says 502 (what a proxy reports when its upstream drops)
    rather than a 200 that would pass for success; then the connection closes."""
    status = 502 if scope["method"] == "HEAD" else 200
    media = b"video/mp4" if target == "download" else b"application/json"
    headers = [
        (b"content-type", media),
        (b"content-length", b"1024"),
        # Said up front so that no client reuses the connection about to be cut.
        (b"connection", b"close"),
        (_MARKER, marker.encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    raise ConnectionDropped(
        f"wan-mock dropped the connection (injected fault): {scope['method']} {scope['path']}"
    )
