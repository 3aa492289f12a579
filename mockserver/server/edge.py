"""The API's edge: one pass over each exchange, around everything else the API does.

It answers whatever was raised before an answer started through the error renderer (so the API
needs none of Starlette's error middleware), adds each answer's ``traceparent``, and records
each request in the journal, before the last byte leaves: a client that has the whole answer
finds the call there (a file response still closes its file afterwards). One send wrapper does
all three, because every layer of wrapping costs every request. The journal gets the bodies
too: the request's as the app read it, the answer's when it is JSON (not a video).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.domain.backend import Backend
from mockserver.domain.excerpts import MAX_BODY_BYTES, Excerpt
from mockserver.server.errors import ANSWERED, ErrorRenderer, problem_for
from mockserver.server.faults import ConnectionDropped
from mockserver.server.tracing import traceparent


class ApiEdge:
    """Errors answered by ``errors``, answers traced with ``traces()`` and requests journalled
    in ``backend``; without ``errors`` exceptions pass through, without ``traces`` no header
    is added."""

    def __init__(
        self,
        app: ASGIApp,
        backend: Backend[Any],
        errors: ErrorRenderer | None = None,
        traces: Callable[[], random.Random] | None = None,
    ) -> None:
        self.app = app
        self.backend = backend
        self.errors = errors
        self.traces = traces

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["app"] = self  # Starlette's router then raises its 404 and 405 for us to answer
        started = time.perf_counter()
        at = self.backend.clock.now()
        traces = self.traces
        trace = traceparent(scope["headers"], traces()) if traces is not None else None
        status = 500  # what the client sees if the app dies before answering
        recorded = answered = False
        reads = scope["method"] not in ("GET", "HEAD")
        asked = Excerpt() if reads else None  # of the request body, as the app read it
        answer: Excerpt | bytes | None = None  # of a JSON answer (see _gathered)

        def record() -> None:
            nonlocal recorded
            recorded = True
            duration_ms = (time.perf_counter() - started) * 1000
            self.backend.journal.record(
                (at, scope["method"], scope["path"], status, duration_ms, scope["headers"]),
                asked.kept() if asked is not None else b"",
                answer.kept() if isinstance(answer, Excerpt) else answer or b"",
            )

        async def edge_receive() -> Message:
            message = await receive()
            if asked is not None and message["type"] == "http.request":
                asked.add(message.get("body", b""))
            return message

        async def edge_send(message: Message) -> None:
            nonlocal status, answered, answer
            if message["type"] == "http.response.start":
                answered = True
                status = message["status"]
                headers = message.get("headers", ())
                if _is_json(headers):
                    answer = b""
                if trace is not None:
                    message["headers"] = [*headers, (b"traceparent", trace)]
            elif not recorded:
                if answer is not None:
                    answer = _gathered(answer, message.get("body", b""))
                if not message.get("more_body", False):
                    record()
            await send(message)

        try:
            await self.app(scope, edge_receive if reads else receive, edge_send)
        except ConnectionDropped:
            status = 0  # an injected dropped connection: the client got no complete answer
            raise
        except Exception as exc:
            if answered or self.errors is None:
                raise
            problem = problem_for(exc, scope["method"], scope["path"])
            await self.errors.response(problem)(scope, receive, edge_send)
            if not isinstance(exc, ANSWERED):
                raise
        finally:
            if not recorded:
                record()


def _gathered(seen: Excerpt | bytes, chunk: bytes) -> Excerpt | bytes:
    """A JSON answer so far, ``chunk`` added: while it is one small chunk, that chunk itself
    (the usual answer: no copy, no excerpt made), else its :class:`Excerpt`."""
    if isinstance(seen, bytes):
        if not seen and len(chunk) <= MAX_BODY_BYTES:
            return chunk
        first, seen = seen, Excerpt()
        seen.add(first)
    seen.add(chunk)
    return seen


def _is_json(headers: Any) -> bool:
    """Whether an answer's headers say JSON (``application/json``, ``problem+json``...)."""
    for name, value in headers:
        if name == b"content-type":
            if value == b"application/json":  # the API's own answers
                return True
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media.endswith(b"json")
    return False
