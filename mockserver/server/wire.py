"""Serialisation: JSON bodies, timestamps, and response headers added on the way out."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.responses import Response
from starlette.types import Message, Send


class JSONResponse(Response):
    """Compact UTF-8 JSON (the same bytes as Starlette's JSONResponse, made faster)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _ENCODER.encode(content)


_ENCODER = msgspec.json.Encoder()
encode = _ENCODER.encode


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


def timestamp(seconds: float) -> str:
    """The observed real format: six fraction digits and an explicit offset, e.g.
    ``2026-09-21T08:23:12.657134+00:00``. Rounds like ``datetime.fromtimestamp``."""
    whole = int(seconds // 1)
    micros = round((seconds - whole) * 1_000_000)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    return f"{_second(whole)}.{micros:06d}+00:00"
