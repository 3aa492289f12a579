"""Deliberately broken variants of the fake, for proving that the contract suite fails.

:class:`Breaker` is pure ASGI middleware around the real app: it may rewrite a request's
headers on the way in, and it buffers each answer so a variant can change its status, headers
or JSON body on the way out. Every variant breaks exactly one promise of the API.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = dict[str, str]


@dataclass
class Answer:
    """One buffered answer of the fake, as a variant sees and changes it."""

    method: str
    path: str
    status: int
    headers: Headers
    body: Any  # the decoded JSON body, or the raw bytes when it is not JSON
    seen: dict[str, int] = field(default_factory=dict)  # per-variant memory across answers


Mutation = Callable[[Answer], None]


def _info(answer: Answer) -> dict[str, Any]:
    body = answer.body
    info = body.get("task_info") if isinstance(body, dict) else None
    return info if isinstance(info, dict) else {}


def misspell_succeeded(a: Answer) -> None:
    if _info(a).get("status") == "succeeded":
        _info(a)["status"] = "done"


def drop_videos(a: Answer) -> None:
    if isinstance(a.body, dict):
        a.body.pop("videos", None)


def go_backwards(a: Answer) -> None:
    info = _info(a)
    if a.method == "GET" and info.get("status") in ("succeeded", "failed"):
        a.seen[info["id"]] = a.seen.get(info["id"], 0) + 1
        if a.seen[info["id"]] > 1:  # terminal once, then "running" again
            info["status"] = "running"
            info.pop("error", None)
            a.body.pop("videos", None)


def server_error_on_bad_input(a: Answer) -> None:
    if a.status == 400:
        a.status = 500


def wrong_status_for_unknown_id(a: Answer) -> None:
    if a.status == 404 and a.method == "GET":
        a.status = 400


def accept_invalid_bodies(a: Answer) -> None:
    if a.status == 400 and a.method == "POST":
        stamp = "2026-01-01T00:00:00.000000+00:00"
        info = {"id": str(uuid.uuid4()), "status": "pending"}
        a.status, a.body = 202, {"task_info": {**info, "created_at": stamp, "updated_at": stamp}}


def wrong_status_for_bad_auth(a: Answer) -> None:
    if a.status == 401:
        a.status = 403


def reverse_timestamps(a: Answer) -> None:
    info = _info(a)
    if info.get("created_at") != info.get("updated_at"):
        info["created_at"], info["updated_at"] = info["updated_at"], info["created_at"]


def video_not_mp4(a: Answer) -> None:
    if a.path.startswith("/files/"):
        a.headers["content-type"] = "application/octet-stream"


def drop_task_error(a: Answer) -> None:
    _info(a).pop("error", None)


def drop_retry_after(a: Answer) -> None:
    a.headers.pop("retry-after", None)


def undocumented_status(a: Answer) -> None:
    if a.status == 404:
        a.status = 410


def text_content_type(a: Answer) -> None:
    if a.path.startswith("/vendors/"):
        a.headers["content-type"] = "text/plain"


def bad_traceparent(a: Answer) -> None:
    a.headers["traceparent"] = "not-a-trace"


def share_tasks_between_keys(scope: Scope) -> None:
    """On the way in: a second key is treated as the first (tasks are not private)."""
    scope["headers"] = [
        (name, value.replace(b"-second-key", b"")) if name == b"authorization" else (name, value)
        for name, value in scope["headers"]
    ]


class Breaker:
    """The app with one variant applied; ``variant = None`` leaves it unbroken."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.mutation: Mutation | None = None
        self.inbound: Callable[[Scope], None] | None = None
        self.seen: dict[str, int] = {}

    def use(
        self, mutation: Mutation | None = None, inbound: Callable[[Scope], None] | None = None
    ) -> None:
        self.mutation, self.inbound, self.seen = mutation, inbound, {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_mock/"):
            await self.app(scope, receive, send)
            return
        if self.inbound is not None:
            scope = dict(scope)
            self.inbound(scope)
        if self.mutation is None:
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._answer(scope, start, b"".join(chunks), send)

        await self.app(scope, receive, buffer)

    async def _answer(self, scope: Scope, start: Message, raw: bytes, send: Send) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        answer = Answer(scope["method"], scope["path"], start["status"], headers, body, self.seen)
        assert self.mutation is not None
        self.mutation(answer)
        out = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        answer.headers["content-length"] = str(len(out))
        encoded = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": encoded})
        await send({"type": "http.response.body", "body": out})
