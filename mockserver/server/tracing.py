"""W3C ``traceparent`` on every response, as the real API sends one.

An incoming valid ``traceparent`` keeps its trace id (so a client's trace continues); otherwise
a new trace id is drawn. Each response gets a fresh span id. Pure ASGI, so it costs little.
"""

from __future__ import annotations

import random
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.server.wire import CONTROL_PREFIX

_VALID = re.compile(rb"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_TRACE = b"0" * 32


class TraceparentMiddleware:
    def __init__(self, app: ASGIApp, rng: random.Random) -> None:
        self.app = app
        self.rng = rng

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The control plane is not the API: no traceparent, and no draw from the trace stream,
        # so driving the fake never shifts the trace ids its API answers carry.
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        trace_id = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                match = _VALID.fullmatch(value.strip())
                if match and match.group(1) != _ZERO_TRACE:
                    trace_id = match.group(1)
                break
        bits = self.rng.getrandbits(192 if trace_id is None else 64)
        if trace_id is None:
            trace_id = b"%032x" % (bits >> 64)
        header = b"00-%s-%016x-01" % (trace_id, (bits & 0xFFFFFFFFFFFFFFFF) or 1)

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"traceparent", header)]
            await send(message)

        await self.app(scope, receive, send_with_trace)
