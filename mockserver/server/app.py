"""The application factory: one Starlette app, whatever runs it (uvicorn, ASGI tests, respx)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from mockserver.domain.backend import Backend
from mockserver.domain.clock import Clock, SystemClock
from mockserver.domain.settings import Settings
from mockserver.server.endpoints import GENERATION_PATH, Endpoints
from mockserver.server.errors import EXCEPTION_HANDLERS
from mockserver.server.tracing import TraceparentMiddleware


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    backend: Backend | None = None,
) -> Starlette:
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
    app = Starlette(
        routes=routes,
        middleware=[Middleware(TraceparentMiddleware, rng=backend.random.traces)],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.backend = backend
    return app
