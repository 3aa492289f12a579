"""Serialisation: domain states to the API's JSON shapes. The only place wire dicts are made."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.responses import Response

RESULT_NAME = "result_000.mp4"
# The control plane's paths: not the API, so never traced, journalled, faulted or dialected.
CONTROL_PREFIX = "/_mock/"


class JSONResponse(Response):
    """Compact UTF-8 JSON (the same bytes as Starlette's JSONResponse, made faster)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _ENCODER.encode(content)


_ENCODER = msgspec.json.Encoder()


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


def result_path(task_id: str) -> str:
    return f"/files/{task_id}/{RESULT_NAME}"
