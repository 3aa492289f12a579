"""The application factory: one Starlette app, whatever runs it (uvicorn, ASGI tests, respx)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.domain.backend import Backend
from mockserver.domain.clock import MockClock
from mockserver.domain.settings import Settings
from mockserver.media.cache import MediaCache
from mockserver.media.videos import Videos
from mockserver.server.control import ControlPlane
from mockserver.server.dialects import Voice
from mockserver.server.endpoints import GENERATION_PATH, Endpoints
from mockserver.server.errors import EXCEPTION_HANDLERS
from mockserver.server.faults import FaultMiddleware
from mockserver.server.journal import JournalMiddleware
from mockserver.server.sharing import SharedStateMiddleware
from mockserver.server.tracing import TraceparentMiddleware


class MockApp(Starlette):
    """Starlette with the fake's own middleware outside everything, so that even the 500
    answer of Starlette's error middleware is traced and journalled."""

    def __init__(self, *args: Any, backend: Backend, **kwargs: Any) -> None:
        self.backend = backend
        super().__init__(*args, **kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        app = LiveFaults(app, self.backend, self.state.voice)
        app = JournalMiddleware(app, self.backend)
        app = TraceparentMiddleware(app, self.backend.random.traces)
        if self.backend.shared is not None:  # outermost: every layer sees the synced state
            app = SharedStateMiddleware(app, self.backend)
        return app


class LiveFaults(FaultMiddleware):
    """Faults that follow the backend's current settings (the control plane may change them),
    answering in the app's dialect."""

    def __init__(self, app: ASGIApp, backend: Backend, voice: Voice) -> None:
        super().__init__(
            app,
            backend.settings.faults,
            backend.clock,
            backend.random.faults,
            error_body=lambda _status, code, title, detail: voice.error_body(code, title, detail),
        )
        self.backend = backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        current = self.backend.settings.faults
        if current is not self.faults:
            self.faults = current
        await super().__call__(scope, receive, send)


def _closing(backend: Backend, videos: Videos) -> Any:
    """A lifespan that closes (flushes) the store when the server shuts down: uvicorn runs it
    after draining the requests in flight, and before it re-raises the SIGTERM it caught. A
    render under way is finished first (its download may still be waiting for it)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        videos.close()
        backend.store.close()

    return lifespan


def create_app(
    settings: Settings | None = None,
    *,
    clock: MockClock | None = None,
    backend: Backend | None = None,
) -> MockApp:
    """Build the fake. Pass a ``backend`` to share state, or a ``clock`` to control time."""
    if backend is None:
        settings = settings or Settings()
        if clock is None:
            clock = MockClock(
                settings.clock, speed=settings.speed, virtual_start=settings.virtual_start
            )
        backend = Backend(settings, clock)
    voice = Voice(backend)
    settings = backend.settings
    cache = MediaCache(settings.render_cache_dir, settings.render_cache_mb * 1024 * 1024)
    videos = Videos(cache, settings.render_workers)
    api = Endpoints(backend, voice, videos)
    routes = [
        Route(GENERATION_PATH, api.create_task, methods=["POST"]),
        Route(GENERATION_PATH + "/{task_id}", api.get_task, methods=["GET"]),
        Route("/files/{task_id}/{name}", api.download, methods=["GET", "HEAD"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
        *ControlPlane(backend).routes(),
    ]
    app = MockApp(
        routes=routes,
        exception_handlers=EXCEPTION_HANDLERS,
        backend=backend,
        lifespan=_closing(backend, videos),
    )
    # `/generation/` must be a JSON 404 like any unknown path, not an empty 307 redirect.
    app.router.redirect_slashes = False
    app.state.backend = backend
    app.state.voice = voice
    app.state.videos = videos
    return app
