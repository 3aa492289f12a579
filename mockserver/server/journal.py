"""Records every API request in the backend's journal (it wraps the API, not the control
plane)."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.domain.backend import Backend
from mockserver.server.faults import ConnectionDropped


class JournalMiddleware:
    def __init__(self, app: ASGIApp, backend: Backend[Any]) -> None:
        self.app = app
        self.backend = backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        at = self.backend.clock.now()
        status = 500  # what the client sees if the app dies before answering
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            duration_ms = (time.perf_counter() - started) * 1000
            self.backend.journal.record(
                (at, scope["method"], path, status, duration_ms, scope["headers"])
            )

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif not message.get("more_body", False) and not recorded:
                # Before the last byte leaves: a client that has the whole answer must find
                # the call in the journal (a file response still closes its file afterwards).
                record()
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except ConnectionDropped:
            status = 0  # an injected dropped connection: the client got no complete answer
            raise
        finally:
            if not recorded:
                record()
