"""The application factory: the API and the control plane, two apps composed into one.

The API (its edge, faults and routes) answers errors in the active dialect; the control plane,
under ``/_mock``, has none of the API's layers and answers errors in the default shape.
:class:`MockApp` sends each request to one of them by its path, and is what every transport
runs (uvicorn, in-process ASGI, respx).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.domain.backend import Backend
from mockserver.domain.behaviour import Fault
from mockserver.domain.clock import MockClock
from mockserver.domain.paths import (
    CONTRACT_PATH,
    CONTROL_PREFIX,
    GENERATION_PATH,
    RESULT_ROUTE,
    TASK_PATH,
)
from mockserver.domain.settings import Settings
from mockserver.domain.shared import Shared
from mockserver.domain.store import TaskStore
from mockserver.media.cache import MediaCache
from mockserver.media.videos import Videos
from mockserver.server.control import ControlPlane
from mockserver.server.dashboard import Dashboard
from mockserver.server.edge import ApiEdge
from mockserver.server.endpoints import Endpoints
from mockserver.server.errors import DEFAULT_SPEAKER, ErrorRenderer
from mockserver.server.faults import FaultMiddleware
from mockserver.server.fetching import Fetcher
from mockserver.server.guard import ControlGuard
from mockserver.server.runtime import ApiRuntime
from mockserver.server.sharing import SharedStateMiddleware
from mockserver.server.webhook_control import WebhookControl
from mockserver.server.webhooks import Dispatcher


class MockApp:
    """The fake: the control plane under ``/_mock``, the API everywhere else."""

    def __init__(
        self,
        api: ASGIApp,
        control: ASGIApp,
        *,
        backend: Backend[ApiRuntime],
        videos: Videos,
        errors: ErrorRenderer,
        dispatcher: Dispatcher,
        fetcher: Fetcher,
    ) -> None:
        self.backend = backend
        self.videos = videos
        self.dispatcher = dispatcher  # the webhook scheduler
        self.fetcher = fetcher  # downloads URL inputs with fetch_urls (its resolver: tests)
        self.errors = errors  # the API's: the protocol layer answers with it too
        self.state = State({"backend": backend, "videos": videos})
        self._api = api
        self._control = control
        self._prefix = CONTROL_PREFIX + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if path.startswith(self._prefix) or path == CONTROL_PREFIX:
            await self._control(scope, receive, send)
        else:  # the API's own app also runs the lifespan (it closes the store)
            await self._api(scope, receive, send)


class Endpoint:
    """A handler as a plain ASGI app. Starlette would wrap each route in its own exception
    catcher; the API's edge answers the same errors the same way, so the hot path skips that
    layer."""

    __slots__ = ("handler",)

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


class ApiRoutes:
    """The API's routes: a create and a poll, the requests nearly every client sends, are
    matched by two string comparisons; everything else (result files, the contract, unknown
    paths and wrong methods, the lifespan) goes to Starlette's router, which matches them the
    same way by its route templates and raises its 404 and 405."""

    def __init__(self, create: ASGIApp, poll: ASGIApp, router: Router) -> None:
        self._create = create
        self._poll = poll
        self._router = router
        self._task_prefix = GENERATION_PATH + "/"

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Hands back the chosen app's awaitable instead of awaiting it in a coroutine of its
        # own: one frame less on every request.
        if scope["type"] == "http" and not scope.get("root_path"):
            path: str = scope["path"]
            if path == GENERATION_PATH:
                if scope["method"] == "POST":
                    return self._create(scope, receive, send)
            elif path.startswith(self._task_prefix) and scope["method"] in ("GET", "HEAD"):
                task_id = path[len(self._task_prefix) :]
                if task_id and "/" not in task_id:  # the template's {task_id}: [^/]+
                    scope["path_params"] = {"task_id": task_id}
                    return self._poll(scope, receive, send)
        return self._router(scope, receive, send)


class FaultsWhenSet:
    """The routes, through the faults only while the runtime has any: without them (the
    usual case) the routes run with no frame of the fault layer."""

    def __init__(self, routes: ASGIApp, faulted: ASGIApp, backend: Backend[ApiRuntime]) -> None:
        self._routes = routes
        self._faulted = faulted
        self._backend = backend

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if self._backend.runtime.faults:
            return self._faulted(scope, receive, send)
        return self._routes(scope, receive, send)


class RuntimeFaults(FaultMiddleware):
    """Faults as the backend's current runtime says, drawn from its current fault stream."""

    def __init__(self, app: ASGIApp, backend: Backend[ApiRuntime], errors: ErrorRenderer) -> None:
        super().__init__(app, (), backend.clock, backend.random.faults, errors)
        self.backend = backend

    def current(self) -> tuple[Fault, ...]:
        return self.backend.runtime.faults

    def random(self) -> random.Random:
        return self.backend.random.faults


def _closing(
    backend: Backend[ApiRuntime], videos: Videos, dispatcher: Dispatcher, fetcher: Fetcher
) -> Any:
    """A lifespan that runs the webhook scheduler while the server serves, and closes
    (flushes) the store when it shuts down: uvicorn runs that after draining the requests in
    flight, and before it re-raises the SIGTERM it caught. A render under way is finished
    first (its download may still be waiting for it)."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()
            fetcher.close()
        videos.close()
        backend.store.close()

    return lifespan


def _api(
    backend: Backend[ApiRuntime],
    videos: Videos,
    errors: ErrorRenderer,
    dispatcher: Dispatcher,
    fetcher: Fetcher,
) -> ASGIApp:
    """The API: its edge (errors, traceparent, journal), then faults, then the routes. Errors
    are answered at the edge, outside the faults, so an injected answer is journalled and
    traced as the client saw it, and so is a 500."""
    handlers = Endpoints(backend, videos, fetcher)
    create, poll = Endpoint(handlers.create_task), Endpoint(handlers.get_task)
    routes = [
        Route(GENERATION_PATH, create, methods=["POST"]),
        Route(TASK_PATH, poll, methods=["GET"]),
        Route(RESULT_ROUTE, Endpoint(handlers.download), methods=["GET", "HEAD"]),
        Route(CONTRACT_PATH, Endpoint(handlers.openapi), methods=["GET"]),
    ]
    # `/generation/` must be a JSON 404 like any unknown path, not an empty 307 redirect.
    router = Router(
        routes, redirect_slashes=False, lifespan=_closing(backend, videos, dispatcher, fetcher)
    )
    matched = ApiRoutes(create, poll, router)
    faulted = FaultsWhenSet(matched, RuntimeFaults(matched, backend, errors), backend)
    return ApiEdge(faulted, backend, errors, lambda: backend.random.traces)


def _control(backend: Backend[ApiRuntime], dispatcher: Dispatcher, videos: Videos) -> ASGIApp:
    """The control plane and its dashboard behind its guard (Host, origin, content type, admin
    token), which covers every path under the prefix, unknown ones too."""
    errors = ErrorRenderer(lambda: DEFAULT_SPEAKER, backend.clock)
    routes = [
        *ControlPlane(backend, dispatcher).routes(),
        *WebhookControl(backend, dispatcher).routes(),
        *Dashboard(backend, videos).routes(),
    ]
    app = Starlette(routes=routes, exception_handlers=errors.handlers())
    app.router.redirect_slashes = False
    return ControlGuard(app, backend, errors)


def create_app(
    settings: Settings | None = None,
    *,
    clock: MockClock | None = None,
    store: TaskStore | None = None,
    shared: Shared | None = None,
) -> MockApp:
    """Build the fake (its state is ``app.backend``). Pass a ``clock`` to control time, a
    ``store`` and ``shared`` state to keep tasks elsewhere than in memory."""
    settings = settings or Settings()
    cache = MediaCache(settings.render_cache_dir, settings.render_cache_mb * 1024 * 1024)
    shelf = shared.images(settings.task_retention) if shared is not None else None
    videos = Videos(
        cache,
        settings.render_workers,
        settings.render_queue,
        settings.render_queue_per_key,
        shelf,
    )
    if clock is None:
        clock = MockClock(
            settings.clock, speed=settings.speed, virtual_start=settings.virtual_start
        )
    backend = Backend(
        settings, clock, build=ApiRuntime.build, store=store, shared=shared, images=videos
    )
    errors = ErrorRenderer(
        lambda: backend.runtime.speaker,
        backend.clock,
        lambda: backend.runtime.settings.explain_errors,
    )
    dispatcher = Dispatcher(backend)
    fetcher = Fetcher()
    api = _api(backend, videos, errors, dispatcher, fetcher)
    control = _control(backend, dispatcher, videos)
    if backend.shared is not None:  # outermost: every layer sees the synced state
        api, control = SharedStateMiddleware(api, backend), SharedStateMiddleware(control, backend)
    return MockApp(
        api,
        control,
        backend=backend,
        videos=videos,
        errors=errors,
        dispatcher=dispatcher,
        fetcher=fetcher,
    )
