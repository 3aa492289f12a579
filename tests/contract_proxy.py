"""A counting proxy for the contract suite's tests: ASGI middleware in front of a served fake that
records every request the suite sends and every status it got, and may play a bug that needs
to see the request (its body, say) to rewrite the answer, or hold one answer back.

It judges "a create a correct server could accept" on its own, with the ``jsonschema`` library
and the contract file read from disk, so the budget tests do not trust the suite's own gate.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.conformance.plans import SCHEMA_RULES
from mockserver.domain.contract import request_schema
from mockserver.testing.strategies import rules
from tests.broken import Answer

CREATE_PATH = "/vendors/alibaba/v1/wan2.6-i2v/generation"


def _validator() -> jsonschema.Draft202012Validator:
    # The schema the fake and the budget judge bodies by: the contract's, without the patterns
    # of image and audio references (the service takes URLs those leave out, so a body that
    # breaks only a pattern could still be billed).
    return jsonschema.Draft202012Validator(request_schema(strict=False))


VALIDATOR = _validator()
# Rule probes whose body the contract's schema accepts (an image's contents, a URL): each counts
# against the budget as a create a correct server could accept.
CONTENT_RULES = [f"{field} {rule}" for field, rule in rules() if rule not in SCHEMA_RULES]


@dataclass
class Exchange:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def could_create(self, key: str) -> bool:
        """Sent with ``key`` anywhere in its headers, not a read, to the create path, with a
        body the contract's schema accepts: a correct server could make a task of it."""
        body = self.json()
        return (
            self.method not in ("GET", "HEAD", "OPTIONS")
            and self.path.rstrip("/") == CREATE_PATH
            and any(key in value for value in self.headers.values())
            and isinstance(body, dict)
            and VALIDATOR.is_valid(body)
        )


Bug = Callable[[Exchange, Answer], None]


@dataclass
class Proxy:
    app: ASGIApp
    key: str
    bug: Bug | None = None
    slow_path: str | None = None  # the first request to this path waits ``slow_seconds``
    slow_seconds: float = 0.0
    seen: list[Exchange] = field(default_factory=list)
    memory: dict[str, int] = field(default_factory=dict)

    def use(self, bug: Bug | None = None) -> None:
        """Play ``bug`` from now on (None: answer faithfully); what was seen is kept."""
        self.bug, self.slow_path, self.memory = bug, None, {}

    def creates(self) -> list[Exchange]:
        return [e for e in self.seen if e.could_create(self.key)]

    def accepted(self) -> list[Exchange]:
        return [e for e in self.creates() if 200 <= e.status < 300]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_mock/"):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        exchange = Exchange(scope["method"], scope["path"], headers, b"".join(chunks))
        self.seen.append(exchange)
        if self.slow_path is not None and scope["path"] == self.slow_path:
            self.slow_path = None
            await asyncio.sleep(self.slow_seconds)

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # a streamed answer listens for the disconnect
                return await receive()
            replayed = True
            return {"type": "http.request", "body": exchange.body, "more_body": False}

        start: Message = {}
        parts: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._answer(exchange, start, b"".join(parts), send)

        await self.app(scope, replay, buffer)

    async def _answer(self, exchange: Exchange, start: Message, raw: bytes, send: Send) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        answer = Answer(exchange.method, exchange.path, start["status"], headers, body, self.memory)
        if self.bug is not None:
            self.bug(exchange, answer)
        exchange.status = answer.status
        out = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        answer.headers["content-length"] = str(len(out))
        encoded = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": encoded})
        await send({"type": "http.response.body", "body": out})
