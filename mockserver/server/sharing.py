"""Pure ASGI middleware for a fake running as several processes over shared state (a state
file, or Redis).

Before each request the backend adopts whatever another worker changed (settings, clock,
scenario queue, a reset), so every worker answers the same; each response names the worker
that answered (``X-Wan-Mock-Worker``, its process id), which is how tests and load scripts see
that requests really spread. Installed only when the backend has shared state: the default
in-memory fake pays nothing for it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.domain.backend import Backend
from mockserver.domain.errors import StateUnavailable
from mockserver.server.wire import adding_headers

WORKER_HEADER = b"x-wan-mock-worker"


class SharedStateMiddleware:
    """Syncs the backend with the shared state before each HTTP request."""

    def __init__(self, app: ASGIApp, backend: Backend[Any]) -> None:
        self.app = app
        self.backend = backend
        self.worker = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The file busy past its timeout (or failing), Redis unreachable: answer from the state
        # last seen rather than fail a request that may not even touch it (one that does gets
        # its own 503); the next request tries again. (This
        # sits outside the app's error handling, where a failure would be a bare 500.)
        with contextlib.suppress(sqlite3.Error, StateUnavailable):
            self.backend.sync()
        await self.app(scope, receive, adding_headers(send, [(WORKER_HEADER, self.worker)]))
