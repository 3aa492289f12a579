"""W3C ``traceparent`` on every response, as the real API sends one.

An incoming valid ``traceparent`` keeps its trace id (so a client's trace continues); otherwise
a new trace id is drawn. Each response gets a fresh span id. Pure ASGI, so it costs little.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.server.wire import adding_headers

_VALID = re.compile(rb"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_TRACE = b"0" * 32


class TraceparentMiddleware:
    """Wraps the API only: the control plane draws nothing from the trace stream, so driving
    the fake never shifts the trace ids its API answers carry. ``rng`` is called per request
    (a reseed may replace the stream)."""

    def __init__(self, app: ASGIApp, rng: Callable[[], random.Random]) -> None:
        self.app = app
        self.rng = rng

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace_id = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                match = _VALID.fullmatch(value.strip())
                if match and match.group(1) != _ZERO_TRACE:
                    trace_id = match.group(1)
                break
        bits = self.rng().getrandbits(192 if trace_id is None else 64)
        if trace_id is None:
            trace_id = b"%032x" % (bits >> 64)
        header = b"00-%s-%016x-01" % (trace_id, (bits & 0xFFFFFFFFFFFFFFFF) or 1)
        await self.app(scope, receive, adding_headers(send, [(b"traceparent", header)]))
