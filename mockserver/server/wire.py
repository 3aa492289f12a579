"""Serialisation: JSON bodies, timestamps, and response headers added on the way out."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

_ENCODER = msgspec.json.Encoder()
encode = _ENCODER.encode
_JSON = (b"content-type", b"application/json")


class JSONResponse(Response):
    """Compact UTF-8 JSON: the same bytes and headers as Starlette's JSONResponse, built
    without its general-purpose header handling (this is on every API answer)."""

    media_type = "application/json"

    def __init__(
        self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body = _ENCODER.encode(content)
        length = (b"content-length", b"%d" % len(body))
        if headers:
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            self.raw_headers = [*raw, length, _JSON]
        else:
            self.raw_headers = [length, _JSON]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette's, less what an HTTP answer without background work never needs.
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body})


def adding_headers(send: Send, headers: Sequence[tuple[bytes, bytes]]) -> Send:
    """``send`` with ``headers`` appended to the response's start message: the one way the
    fake's middleware adds a header to an answer it did not make."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *headers]
        await send(message)

    return send_with_headers


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _timestamp(seconds: float) -> str:
    """The observed real format: six fraction digits and an explicit offset, e.g.
    ``2026-09-21T08:23:12.657134+00:00``. Rounds like ``datetime.fromtimestamp``."""
    whole = int(seconds // 1)
    micros = round((seconds - whole) * 1_000_000)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    return f"{_second(whole)}.{micros:06d}+00:00"


# A task's stamps repeat on every poll of it.
timestamp: Callable[[float], str] = functools.lru_cache(maxsize=4096)(_timestamp)
