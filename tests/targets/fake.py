"""A minimal fake of the wan2.6-i2v API, written from the spec alone, with one bug switched on
at a time.

Tasks are pending for a second, running until 2.5 s and then terminal: every second task of a
key fails with 3001, the others succeed with one video served here. The first poll of every
task is throttled (429 with ``Retry-After: 1``), as a busy gateway does, so that a client's
handling of throttling is exercised on every run.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.targets.rules import DURATIONS, RESOLUTIONS, Rules
from tests.targets.video import mp4

CREATE_PATH = "/vendors/alibaba/v1/wan2.6-i2v/generation"
KEYS = ("target-key", "other-target-key")
MAX_BODY = 32 * 1024 * 1024  # two 10 MB images in base64 and change
RUNNING_AT, DONE_AT = 1.0, 2.5  # seconds after creation


class Bug(StrEnum):
    """One realistic way to get the API wrong; ``NONE`` is the faithful target."""

    NONE = "none"
    CREATE_200 = "create-200"  # 200 instead of 202 for a created task
    DURATION_BETWEEN = "duration-7"  # any duration 2..15 accepted, as Alibaba's native API does
    RESOLUTION_480P = "resolution-480p"  # 480P accepted, as the vendor's CLI believes
    STUCK_PENDING = "stuck-pending"  # tasks never leave pending
    POLL_OTHER_ID = "poll-other-id"  # a poll answers with the upstream task's id
    DUPLICATE_IDS = "duplicate-ids"  # an id generator re-seeded per request
    MALFORMED_JSON_500 = "malformed-json-500"  # unparsable JSON crashes the handler
    NAIVE_TIMESTAMPS = "naive-timestamps"  # timestamps without a UTC offset
    RETRY_AFTER_MISSING = "429-no-retry-after"  # throttled without saying for how long
    ERROR_WITHOUT_DETAIL = "error-without-detail"  # error bodies with a code and title only
    VIDEOS_ON_FAILED = "videos-on-failed"  # every task fails, and still lists a video
    STATUS_BACKWARDS = "status-backwards"  # a finished task is read as running again


@dataclass
class Task:
    id: str
    key: str
    created: float
    fails: bool
    polls: int = 0
    terminal_reads: int = 0


@dataclass
class Target:
    """The state and the answers of one fake; ``now`` is its clock."""

    bug: Bug = Bug.NONE
    keys: tuple[str, ...] = KEYS
    now: Callable[[], float] = time.time
    tasks: dict[str, Task] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)  # tasks made per key

    def __post_init__(self) -> None:
        self.rules = Rules(
            resolutions=(*RESOLUTIONS, "480P") if self.bug is Bug.RESOLUTION_480P else RESOLUTIONS,
            durations=tuple(range(2, 16)) if self.bug is Bug.DURATION_BETWEEN else DURATIONS,
        )

    # --- answers ------------------------------------------------------------------------------

    def error(self, status: int, code: int, title: str, detail: str, **headers: str) -> Response:
        body: dict[str, Any] = {"error_code": code, "title": title, "detail": detail}
        if self.bug is Bug.ERROR_WITHOUT_DETAIL:
            del body["detail"]
        return JSONResponse(body, status, headers=headers or None)

    def stamp(self, moment: float) -> str:
        when = datetime.fromtimestamp(moment, UTC)
        if self.bug is Bug.NAIVE_TIMESTAMPS:
            when = when.replace(tzinfo=None)
        return when.isoformat(timespec="microseconds")

    def envelope(self, task: Task, base_url: str, *, polled: bool) -> dict[str, Any]:
        age = self.now() - task.created
        status, since = "pending", 0.0
        if self.bug is not Bug.STUCK_PENDING and age >= RUNNING_AT:
            status, since = "running", RUNNING_AT
        if self.bug is not Bug.STUCK_PENDING and age >= DONE_AT:
            status, since = ("failed" if task.fails else "succeeded"), DONE_AT
            if polled:
                task.terminal_reads += 1
            if self.bug is Bug.STATUS_BACKWARDS and task.terminal_reads > 1:
                status = "running"
        info: dict[str, Any] = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, task.id))
            if polled and self.bug is Bug.POLL_OTHER_ID
            else task.id,
            "status": status,
            "created_at": self.stamp(task.created),
            "updated_at": self.stamp(task.created + since),
        }
        result: dict[str, Any] = {"task_info": info}
        if status == "failed":
            info["error"] = {
                "code": 3001,
                "title": "Task Execution Error",
                "detail": "Video generation failed: the model provider returned no video",
            }
        if status == "succeeded" or (status == "failed" and self.bug is Bug.VIDEOS_ON_FAILED):
            result["videos"] = [f"{base_url}files/{task.id}/result_000.mp4"]
        return result

    # --- requests -----------------------------------------------------------------------------

    def key_of(self, request: Request) -> str | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return key if scheme == "Bearer" and key in self.keys else None

    def unauthorized(self) -> Response:
        return self.error(
            401, 2002, "Unauthorized", "a valid 'Authorization: Bearer <key>' is needed"
        )

    async def create(self, request: Request) -> Response:
        key = self.key_of(request)
        if key is None:
            return self.unauthorized()
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return self.error(413, 2003, "Payload Too Large", "the body is larger than 32 MB")
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            return self.invalid("the body must be JSON sent as Content-Type: application/json")
        try:
            body = json.loads(raw)
        except ValueError:
            if self.bug is Bug.MALFORMED_JSON_500:
                return PlainTextResponse("Internal Server Error", 500)
            return self.invalid("the body is not valid JSON")
        if not isinstance(body, dict):
            return self.invalid("the body must be a JSON object")
        if problems := self.rules.problems(body):
            return self.invalid("; ".join(problems))
        task_id = self.new_id()
        self.created[key] = self.created.get(key, 0) + 1
        fails = self.bug is Bug.VIDEOS_ON_FAILED or self.created[key] % 2 == 0
        task = self.tasks[task_id] = Task(task_id, key, self.now(), fails)
        status = 200 if self.bug is Bug.CREATE_200 else 202
        return JSONResponse(self.envelope(task, str(request.base_url), polled=False), status)

    def new_id(self) -> str:
        if self.bug is Bug.DUPLICATE_IDS:
            return str(uuid.UUID(int=random.Random(2026).getrandbits(128), version=4))
        return str(uuid.uuid4())

    def invalid(self, detail: str) -> Response:
        return self.error(400, 2001, "Invalid Request", detail)

    async def get(self, request: Request) -> Response:
        key = self.key_of(request)
        if key is None:
            return self.unauthorized()
        task = self.tasks.get(request.path_params["task_id"])
        if task is None or task.key != key:
            return self.error(404, 2005, "Not Found", "the task does not exist")
        task.polls += 1
        if task.polls == 1:  # the first poll of every task is throttled
            retry = {} if self.bug is Bug.RETRY_AFTER_MISSING else {"Retry-After": "1"}
            return self.error(429, 2004, "Too Many Requests", "slow down", **retry)
        return JSONResponse(self.envelope(task, str(request.base_url), polled=True))

    async def video(self, request: Request) -> Response:
        if request.path_params["task_id"] not in self.tasks:
            return self.error(404, 2005, "Not Found", "no such file")
        return Response(mp4(), media_type="video/mp4")


class Traceparent:
    """Puts a W3C ``traceparent`` header on every answer, as the real API does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                trace = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
                message["headers"] = [*message.get("headers", []), (b"traceparent", trace.encode())]
            await send(message)

        await self.app(scope, receive, stamped if scope["type"] == "http" else send)


def create_target(bug: Bug = Bug.NONE, **options: Any) -> Starlette:
    """The fake as an ASGI app; its ``Target`` is ``app.state.target``."""
    target = Target(bug, **options)

    async def not_found(request: Request, exc: Exception) -> Response:
        return target.error(404, 2000, "Not Found", f"no such path: {request.url.path}")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        allowed = "POST" if request.url.path.rstrip("/") == CREATE_PATH else "GET"
        detail = f"{request.method} is not allowed here"
        return target.error(405, 2006, "Method Not Allowed", detail, Allow=allowed)

    routes = [
        Route(CREATE_PATH, target.create, methods=["POST"]),
        Route(CREATE_PATH + "/{task_id}", target.get, methods=["GET"]),
        Route("/files/{task_id}/result_000.mp4", target.video, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Traceparent)],
        exception_handlers={404: not_found, 405: not_allowed},
    )
    app.router.redirect_slashes = False
    app.state.target = target
    return app
