"""The API's edge: one pass over each exchange, around everything else the API does.

It answers whatever was raised before an answer started through the error renderer (so the API
needs none of Starlette's error middleware), adds each answer's ``traceparent``, and records
each request in the journal, before the last byte leaves: a client that has the whole answer
finds the call there (a file response still closes its file afterwards). One send wrapper does
all three, because every layer of wrapping costs every request.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.domain.backend import Backend
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

        def record() -> None:
            nonlocal recorded
            recorded = True
            duration_ms = (time.perf_counter() - started) * 1000
            self.backend.journal.record(
                (at, scope["method"], scope["path"], status, duration_ms, scope["headers"])
            )

        async def edge_send(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                answered = True
                status = message["status"]
                if trace is not None:
                    message["headers"] = [*message.get("headers", ()), (b"traceparent", trace)]
            elif not recorded and not message.get("more_body", False):
                record()
            await send(message)

        try:
            await self.app(scope, receive, edge_send)
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
