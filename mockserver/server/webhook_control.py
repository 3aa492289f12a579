"""The control plane's webhook routes, under ``/_mock/webhooks``.

Endpoints are created, listed and deleted here as the real console does it: a new endpoint's
secret is in the creation answer and nowhere else (listings mask it). The delivery log shows
every attempt made, with the request that was sent; one event can be sent again by its id; and
``flush`` makes every attempt due now (what a create queued under a virtual clock).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mockserver.domain.backend import Backend
from mockserver.domain.errors import InvalidRequest
from mockserver.domain.keys import fingerprint, mask
from mockserver.domain.paths import CONTROL_PREFIX
from mockserver.domain.webhooks import EVENTS, WebhookEndpoint
from mockserver.server.control import _int, _json_object
from mockserver.server.webhooks import Dispatcher
from mockserver.server.wire import JSONResponse, timestamp

PREFIX = CONTROL_PREFIX + "/webhooks"


class WebhookControl:
    """Handlers for ``/_mock/webhooks*``."""

    def __init__(self, backend: Backend[Any], dispatcher: Dispatcher) -> None:
        self.backend = backend
        self.dispatcher = dispatcher

    def routes(self) -> list[BaseRoute]:
        endpoints = [
            ("", self.endpoints, ["GET", "POST"]),
            ("/deliveries", self.deliveries, ["GET"]),
            ("/flush", self.flush, ["POST"]),
            ("/events/{event_id}/redeliver", self.redeliver, ["POST"]),
            ("/{endpoint_id}", self.endpoint, ["GET", "DELETE"]),
        ]
        return [Route(PREFIX + path, h, methods=m) for path, h, m in endpoints]

    async def endpoints(self, request: Request) -> Response:
        webhooks = self.backend.webhooks
        if request.method == "POST":
            body = await _json_object(request)
            unknown = sorted(set(body) - {"url", "events", "key", "description", "secret"})
            if unknown:
                raise InvalidRequest.single(
                    unknown[0], "unknown", f"{unknown[0]}: not a field of a webhook endpoint"
                )
            created = webhooks.register(
                body.get("url"),
                body.get("events", list(EVENTS)),
                body.get("key"),
                body.get("description", ""),
                body.get("secret"),
            )
            return JSONResponse(_shown(created, reveal=True), 201)
        listed = [_shown(endpoint) for endpoint in webhooks.endpoints()]
        return JSONResponse({"endpoints": listed, "deliveries": webhooks.store.counts()})

    async def endpoint(self, request: Request) -> Response:
        webhooks = self.backend.webhooks
        ident = request.path_params["endpoint_id"]
        if request.method == "DELETE":
            webhooks.remove(ident)
            return JSONResponse({"deleted": ident})
        return JSONResponse(_shown(webhooks.endpoint(ident)))

    async def deliveries(self, request: Request) -> Response:
        query = request.query_params
        limit = _int(query.get("limit"), "limit", default=None)
        wanted = query.get("event_id")
        attempts = [
            {**msgspec.to_builtins(attempt), "at": timestamp(attempt.at)}
            for attempt in self.backend.webhooks.log
            if wanted is None or attempt.event_id == wanted
        ]
        if limit is not None:
            attempts = attempts[-limit:] if limit else []
        return JSONResponse({"count": len(attempts), "attempts": attempts})

    async def flush(self, request: Request) -> Response:
        made = await self.dispatcher.drain()
        return JSONResponse({"attempts": made})

    async def redeliver(self, request: Request) -> Response:
        ident = request.path_params["event_id"]
        again = self.backend.webhooks.redeliver(ident, self.backend.clock.now())
        made = await self.dispatcher.drain()
        return JSONResponse({"event_id": ident, "deliveries": len(again), "attempts": made})


def _shown(endpoint: WebhookEndpoint, *, reveal: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(endpoint)
    data["secret"] = endpoint.secret if reveal else mask(endpoint.secret)
    data["key"] = fingerprint(endpoint.key) if endpoint.key is not None else None
    return data
