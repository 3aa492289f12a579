"""The API's handlers. Each one authenticates, parses, calls one backend method, serialises."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Coroutine
from email.utils import formatdate
from typing import Any, TypeVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from mockserver.domain.backend import Backend
from mockserver.domain.contract import load_contract
from mockserver.domain.errors import ResultNotFound, Unauthorized
from mockserver.domain.keys import bearer_key
from mockserver.domain.paths import RESULT_NAME
from mockserver.domain.scenarios import SCENARIO_HEADER
from mockserver.domain.tasks import TaskState
from mockserver.media.videos import Videos
from mockserver.server.bodies import header, read_generation
from mockserver.server.downloads import VideoResponse
from mockserver.server.fetching import Fetcher
from mockserver.server.ranges import byte_ranges
from mockserver.server.runtime import ApiRuntime
from mockserver.server.wire import JSONResponse

T = TypeVar("T")


def request_key(request: Request) -> str:
    value = header(request, b"authorization")
    if value is None:
        raise Unauthorized("Missing Authorization header; send 'Authorization: Bearer <key>'")
    key = bearer_key(value)
    if key is None:
        raise Unauthorized("Invalid Authorization header format; expected 'Bearer <key>'")
    return key


SCENARIO_KEY = SCENARIO_HEADER.lower().encode("latin-1")


class Endpoints:
    """Handlers bound to one backend (no module-level state)."""

    def __init__(self, backend: Backend[ApiRuntime], videos: Videos, fetcher: Fetcher) -> None:
        self.backend = backend
        self.videos = videos
        self.fetcher = fetcher
        self.contract = json.dumps(load_contract(), ensure_ascii=False).encode()
        self._base_urls: dict[tuple[object, ...], str] = {}

    def base_url(self, request: Request) -> str:
        """Where this client reached the fake: the base of result links (cached per host)."""
        configured = self.backend.settings.public_url
        if configured:
            return configured
        scope = request.scope
        key = (scope["scheme"], header(request, b"host"), scope.get("root_path", ""))
        found = self._base_urls.get(key)
        if found is None:
            if len(self._base_urls) > 256:  # hostile Host headers must not grow it forever
                self._base_urls.clear()
            found = self._base_urls[key] = str(request.base_url).rstrip("/")
        return found

    def task_response(self, request: Request, state: TaskState, created: bool) -> Response:
        speaker = self.backend.runtime.speaker
        links = self.backend.links
        video = self.base_url(request) + links.path(state.id) if state.succeeded else None
        status_code = speaker.create_status() if created else 200
        return JSONResponse(speaker.envelope(state, video), status_code)

    async def create_task(self, request: Request) -> Response:
        backend = self.backend
        owner = backend.authenticate(request_key(request))
        runtime = backend.runtime
        settings = runtime.settings
        parsed = await read_generation(
            request, runtime.validator, settings.max_body_bytes, settings.body_timeout
        )
        problem = None
        if settings.fetch_urls:  # as the service would; checks each host before connecting
            backend.admit(owner)
            parsed, problem = await self.fetcher.fetch(parsed, settings)
        scenario = header(request, SCENARIO_KEY)
        origin = self.base_url(request) if backend.webhooks.active else None
        state = backend.create_task(
            owner, parsed.request, scenario, parsed.images, origin=origin, problem=problem
        )
        return self.task_response(request, state, created=True)

    async def get_task(self, request: Request) -> Response:
        owner = self.backend.authenticate(request_key(request))
        state = self.backend.get_task(owner, request.path_params["task_id"])
        return self.task_response(request, state, created=False)

    async def download(self, request: Request) -> Response:
        params = request.path_params
        if params["name"] != RESULT_NAME:
            raise ResultNotFound(f"No result video at {request.url.path}")
        # Raises when the token is wrong, or the task missing, not succeeded or expired.
        task, state = self.backend.result(params["task_id"], params["token"])
        # A client that hangs up while its video is rendered takes its place in the render
        # with it: nobody else may be waiting for it.
        video = await while_connected(request, self.videos.opened(task))
        with contextlib.ExitStack() as owned:
            owned.callback(video.close)
            headers = {
                "etag": f'"{video.tag}"',  # a content address: same bytes, same tag
                "last-modified": formatdate(state.updated_at, usegmt=True),  # fake's clock
            }
            if _matches(request.headers.get("if-none-match"), headers["etag"]):
                return Response(status_code=304, headers=headers)
            ranges = byte_ranges(request.headers.get("range"), video.size)
            if_range = request.headers.get("if-range")
            if if_range is not None and if_range not in headers.values():  # strong match
                ranges = None  # the whole file, not a part of one that changed
            response = VideoResponse(video, headers, ranges)
            owned.pop_all()  # the response closes it
            return response

    async def openapi(self, request: Request) -> Response:
        return Response(self.contract, media_type="application/json")


async def while_connected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """What ``work`` returns, unless the client hangs up first: then ``work`` is cancelled
    and :class:`ClientDisconnect` raised (answered, though nobody reads it)."""
    job = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((job, watch), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not job.done():
            job.cancel()
            await asyncio.wait((job,))  # its clean-up (leaving the render) runs now
    if job.cancelled():
        raise ClientDisconnect()
    return job.result()


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone (a GET's empty body comes first)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names this entity tag (weak comparison, RFC 9110)."""
    if not if_none_match:
        return False
    tags = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return any(tag in (etag, "*") for tag in tags)
