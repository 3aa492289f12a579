"""The dashboard under ``/_mock/ui``: a page for a browser beside the control plane's JSON.

Server-rendered HTML (Jinja2 templates) with htmx, vendored in ``ui/static``, for the live
parts: each panel asks again for its own fragment every second while the page is visible, so
nothing runs when no page is open. The page reads the backend directly; every change it makes
(clock, outcomes, scenarios, settings, reset) is a JSON call to the control plane's own routes,
the very calls a script makes. It sits behind the control plane's guard like every path under
``/_mock``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from mockserver.__about__ import __version__
from mockserver.domain.backend import Backend
from mockserver.domain.behaviour import DIALECT_PROFILES, LIMIT_PRESETS
from mockserver.domain.errors import InvalidRequest, ResultNotFound
from mockserver.domain.paths import CONTROL_PREFIX, DASHBOARD_PATH
from mockserver.domain.scenarios import FAILURES
from mockserver.domain.tasks import Status
from mockserver.media.videos import Videos
from mockserver.server.control import _int
from mockserver.server.dashboard_views import (
    SCENARIOS,
    detail,
    exchanges,
    image_digest,
    task_page,
    webhooks,
)
from mockserver.server.guard import ADMIN_COOKIE, ADMIN_PARAM
from mockserver.server.wire import timestamp

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

PREFIX = DASHBOARD_PATH
HERE = Path(__file__).parent / "ui"
VIEWS = ("tasks", "requests", "webhooks")
STATUSES = tuple(status.value for status in Status)
REQUESTS_SHOWN = 100  # journal entries on the requests panel
ATTEMPTS_SHOWN = 100  # webhook attempts on the webhooks panel
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "BMP": "image/bmp", "WEBP": "image/webp"}


class Dashboard:
    """Handlers for ``/_mock/ui*``, reading one backend (and its kept input images)."""

    def __init__(self, backend: Backend[Any], videos: Videos | None = None) -> None:
        self.backend = backend
        self.videos = videos
        self._templates: Jinja2Templates | None = None

    @property
    def templates(self) -> Jinja2Templates:
        """The templates, loaded when a page is first asked for: importing Jinja2 costs
        tens of milliseconds that a fake nobody looks at should not pay at start."""
        if self._templates is None:
            self._templates = _templates()
        return self._templates

    def routes(self) -> list[BaseRoute]:
        pages = [
            ("", self.page),
            ("/clock", self.clock),
            ("/tasks", self.tasks),
            ("/tasks/{task_id}", self.task),
            ("/tasks/{task_id}/live", self.task_live),
            ("/tasks/{task_id}/image/{which}", self.image),
            ("/requests", self.requests),
            ("/webhooks", self.webhooks),
        ]
        static = Mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="static")
        return [*(Route(PREFIX + path, h, methods=["GET"]) for path, h in pages), static]

    async def page(self, request: Request) -> Response:
        query = request.query_params
        if ADMIN_PARAM in query:
            return self._sign_in(request)
        view = query.get("view", "tasks")
        if view not in VIEWS:
            raise InvalidRequest.single("view", "enum", f"view: must be one of {', '.join(VIEWS)}")
        context: dict[str, Any] = {"view": view, **self._clock(), **self._controls()}
        if view == "tasks":
            context["tasks"] = self._task_page(request)
            chosen = query.get("task")
            context["detail"] = detail(self.backend, chosen) if chosen else None
        elif view == "requests":
            context["exchanges"], context["after"] = exchanges(self.backend, 0, REQUESTS_SHOWN)
            context["initial"] = True
        else:
            context["hooks"] = webhooks(self.backend, ATTEMPTS_SHOWN)
        return self.templates.TemplateResponse(request, "page.html", context)

    def _sign_in(self, request: Request) -> Response:
        """The admin token brought in the address (the guard has checked it): kept as a
        cookie for this origin's ``/_mock`` only, and taken out of the address."""
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != ADMIN_PARAM]
        target = PREFIX + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        token = self.backend.settings.admin_token
        if token is not None:
            response.set_cookie(
                ADMIN_COOKIE, token, path=CONTROL_PREFIX, httponly=True, samesite="strict"
            )
        return response

    async def clock(self, request: Request) -> Response:
        return self.templates.TemplateResponse(request, "_clock.html", self._clock())

    async def tasks(self, request: Request) -> Response:
        context = {"tasks": self._task_page(request)}
        return self.templates.TemplateResponse(request, "_tasks.html", context)

    async def task(self, request: Request) -> Response:
        context = {"detail": detail(self.backend, request.path_params["task_id"])}
        return self.templates.TemplateResponse(request, "_task.html", context)

    async def task_live(self, request: Request) -> Response:
        context = {"detail": detail(self.backend, request.path_params["task_id"])}
        return self.templates.TemplateResponse(request, "_task_live.html", context)

    async def image(self, request: Request) -> Response:
        params = request.path_params
        found = image_digest(self.backend, params["task_id"], params["which"])
        data = None
        if found is not None and self.videos is not None:
            data = self.videos.cache.image(found[0])
        if found is None or data is None:
            raise ResultNotFound(f"No kept input image at {request.url.path}")
        media = IMAGE_TYPES.get(found[1], "application/octet-stream")
        # Named by its digest: the bytes behind a task's image never change.
        headers = {"Cache-Control": "private, max-age=86400"}
        return Response(data, media_type=media, headers=headers)

    async def requests(self, request: Request) -> Response:
        after = _int(request.query_params.get("after"), "after", default=0)
        shown, newest = exchanges(self.backend, after, REQUESTS_SHOWN)
        headers = {"HX-Refresh": "true"} if newest < after else None  # the journal was reset
        context = {"exchanges": shown, "after": newest, "initial": False}
        return self.templates.TemplateResponse(request, "_requests.html", context, headers=headers)

    async def webhooks(self, request: Request) -> Response:
        context = {"hooks": webhooks(self.backend, ATTEMPTS_SHOWN)}
        return self.templates.TemplateResponse(request, "_webhooks.html", context)

    def _task_page(self, request: Request) -> Any:
        query = request.query_params
        status = query.get("status", "")
        if status and status not in STATUSES:
            names = ", ".join(STATUSES)
            raise InvalidRequest.single("status", "enum", f"status: must be one of {names}")
        page = _int(query.get("page"), "page", default=1) or 1
        return task_page(self.backend, page, status, query.get("key", "").strip())

    def _clock(self) -> dict[str, Any]:
        clock = self.backend.clock
        now = clock.now()
        return {
            "clock": {
                "mode": clock.mode,
                "now": timestamp(now),
                "frozen": clock.frozen,
                "speed": clock.speed,
            },
            "queue": [(item.scenario.token, item.remaining) for item in self.backend.queue],
        }

    def _controls(self) -> dict[str, Any]:
        settings = self.backend.settings
        return {
            "current": {
                "timing": settings.timing,
                "limits": _preset(LIMIT_PRESETS, settings.limits),
                "dialect": _preset(DIALECT_PROFILES, settings.dialect),
                "faults": len(settings.faults),
            },
        }


def _preset(presets: dict[str, Any], value: Any) -> str:
    """The name of the preset ``value`` is, or ``custom``."""
    return next((name for name, preset in presets.items() if preset == value), "custom")


def _templates() -> Jinja2Templates:
    from starlette.templating import Jinja2Templates

    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(
        prefix=PREFIX,
        control=CONTROL_PREFIX,
        version=__version__,
        views=VIEWS,
        statuses=STATUSES,
        failures=FAILURES,
        scenarios=SCENARIOS,
        limits=tuple(LIMIT_PRESETS),
        profiles=tuple(DIALECT_PROFILES),
    )
    return templates
