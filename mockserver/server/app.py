"""The application factory: one Starlette app, whatever runs it (uvicorn, ASGI tests, respx)."""

from __future__ import annotations

import random
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp

from mockserver.domain.backend import Backend
from mockserver.domain.clock import Clock, SystemClock
from mockserver.domain.settings import Settings
from mockserver.server.endpoints import GENERATION_PATH, Endpoints
from mockserver.server.errors import EXCEPTION_HANDLERS
from mockserver.server.tracing import TraceparentMiddleware


class MockApp(Starlette):
    """Starlette with ``traceparent`` added outside everything, so that even the 500 answer of
    Starlette's own error middleware carries one."""

    def __init__(self, *args: Any, trace_rng: random.Random, **kwargs: Any) -> None:
        self.trace_rng = trace_rng
        super().__init__(*args, **kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return TraceparentMiddleware(super().build_middleware_stack(), self.trace_rng)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    backend: Backend | None = None,
) -> MockApp:
    """Build the fake. Pass a ``backend`` to share state, or a ``clock`` to control time."""
    if backend is None:
        settings = settings or Settings()
        backend = Backend(settings, clock or SystemClock(settings.speed))
    api = Endpoints(backend)
    routes = [
        Route(GENERATION_PATH, api.create_task, methods=["POST"]),
        Route(GENERATION_PATH + "/{task_id}", api.get_task, methods=["GET"]),
        Route("/files/{task_id}/{name}", api.download, methods=["GET", "HEAD"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
    ]
    app = MockApp(
        routes=routes, exception_handlers=EXCEPTION_HANDLERS, trace_rng=backend.random.traces
    )
    # `/generation/` must be a JSON 404 like any unknown path, not an empty 307 redirect.
    app.router.redirect_slashes = False
    app.state.backend = backend
    return app
