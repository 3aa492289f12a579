"""A counting proxy: forwards everything to a target and counts the creates that could be billed.

A request counts when it is a POST to the create path carrying the real key as a bearer token
and a JSON object that a correct server would accept (every rule of the spec holds, as this
package's own :class:`~tests.targets.rules.Rules` judge it): on the live API it could cost a
generation, whatever the sender meant. A body that breaks a documented rule is refused by a
correct server; if a target accepts one anyway, the proxy's ``accepted`` count shows it.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import Message, Receive, Scope, Send

from tests.targets.rules import Rules

CREATE_PATH = "/vendors/alibaba/v1/wan2.6-i2v/generation"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "host",
    "content-length",
}
# Targets are served over plain HTTP on loopback, so no certificate is ever checked; one context
# for every forwarding client spares each request loading the CA bundle (tens of ms of CPU,
# which added up to seconds a run, all of it competing with the run being timed).
UNUSED_TLS = ssl.create_default_context()


def could_be_billed(method: str, path: str, authorization: str, body: bytes, key: str) -> bool:
    """Whether a server could create a task from this request made with ``key``."""
    if method.upper() != "POST" or path.rstrip("/") != CREATE_PATH:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or token.strip() != key:
        return False
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and not Rules().problems(parsed)


@dataclass
class Billed:
    """One counted create: what the target answered, and the body's fields."""

    status: int
    fields: dict[str, str]  # field name -> a short repr of its value


@dataclass
class CountingProxy:
    """An ASGI app forwarding to ``target``; ``billed`` lists the counted creates."""

    target: str
    key: str
    billed: list[Billed] = field(default_factory=list)
    requests: int = 0

    @property
    def count(self) -> int:
        return len(self.billed)

    @property
    def accepted(self) -> int:
        """How many counted creates the target accepted (2xx): tasks made, on a live API."""
        return sum(200 <= billed.status < 300 for billed in self.billed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"]
            if name.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        query = scope["query_string"].decode("latin-1")
        url = self.target + path + (f"?{query}" if query else "")
        self.requests += 1
        async with httpx.AsyncClient(timeout=120, trust_env=False, verify=UNUSED_TLS) as client:
            request = client.build_request(scope["method"], url, headers=headers, content=body)
            response = await client.send(request, stream=True)
            try:
                content = b"".join([chunk async for chunk in response.aiter_raw()])
            finally:
                await response.aclose()
        authorization = {k.lower(): v for k, v in headers}.get("authorization", "")
        if could_be_billed(scope["method"], scope["path"], authorization, body, self.key):
            self.billed.append(Billed(response.status_code, summarise(body)))
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [
                    (name.encode("latin-1"), value.encode("latin-1"))
                    for name, value in response.headers.multi_items()
                    if name.lower() not in HOP_BY_HOP
                ]
                + [(b"content-length", str(len(content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": content})


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def summarise(body: bytes) -> dict[str, str]:
    parsed: Any = json.loads(body)
    return {name: repr(value)[:40] for name, value in parsed.items()}
