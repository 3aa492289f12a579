"""Reading request bodies with a bound, and decoding them as strict JSON.

The body is read chunk by chunk and abandoned as soon as it passes the cap, so an endless or
oversized body cannot exhaust memory, and it must arrive whole within a deadline, so a client
dripping bytes cannot hold the request open. Before JSON is decoded its structure is bounded
(:data:`MAX_JSON_NODES`), so a body of tiny arrays cannot make the server hold many times its
size in objects. Big bodies (base64 images) are decoded and validated on a worker thread so the
event loop keeps answering other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, NoReturn

import anyio.to_thread
import msgspec
from starlette.requests import ClientDisconnect, Request

from mockserver.domain.errors import InvalidRequest, PayloadTooLarge, RequestTimeout
from mockserver.domain.validation import ParsedCreate, RequestValidator

_DECODER = msgspec.json.Decoder()

MAX_JSON_NODES = 10_000
"""Most arrays, objects and separated values a JSON body may hold. A valid create has about 25
(a flat object; its strings can be megabytes but are one value each); every node costs the
server 50 to 100 bytes as a Python object, so this bounds that cost to about a megabyte."""

# A JSON string (escapes included: what it holds is not structure), or a node's first byte.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{,]', re.DOTALL)

Body = bytes | bytearray
"""A request body: bytes when it came in one piece, else the buffer it was gathered in (no
copy of a big body to join its pieces)."""

# Bodies above this size (in practice: base64 images) are handled off the event loop.
OFFLOAD_BYTES = 256 * 1024


def header(request: Request, name: bytes) -> str | None:
    """One request header (``name`` in lower case, as ASGI servers hand them over): a scan of
    the raw list, cheaper on the hot path than building Starlette's ``Headers``."""
    for key, value in request.scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


async def read_body(request: Request, limit: int, timeout: float) -> Body:
    """The whole body, at most ``limit`` bytes, all of it within ``timeout`` seconds."""
    declared = header(request, b"content-length")
    if declared is not None:
        # At most 19 digits (a 64-bit size): never int() of thousands of digits.
        if not (declared.isascii() and declared.isdigit()) or len(declared) > 19:
            raise InvalidRequest.single(
                "Content-Length", "format", "Content-Length: must be a whole number of bytes"
            )
        if int(declared) > limit:
            _too_large(limit)
    # Read the ASGI messages directly: most bodies arrive in one message, and this skips the
    # generator machinery of Request.stream() on the hot path.
    message = await request.receive()
    if message["type"] != "http.request":
        raise ClientDisconnect()
    first: bytes = message.get("body", b"")
    if len(first) > limit:
        _too_large(limit)
    if not message.get("more_body", False):
        return first
    # A body in several pieces: the rest must come before the deadline, however it is split.
    # (Only here: a timeout costs microseconds that the common one-piece body does not need
    # to pay, and a one-piece body has arrived whole.)
    return await _rest(request, bytearray(first), limit, timeout)


async def _rest(request: Request, buffer: bytearray, limit: int, timeout: float) -> bytearray:
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await request.receive()
                if message["type"] != "http.request":
                    raise ClientDisconnect()
                buffer += message.get("body", b"")
                if len(buffer) > limit:
                    _too_large(limit)
                if not message.get("more_body", False):
                    return buffer
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive whole within {timeout:g} s (body_timeout)"
        ) from None


def decode_json(body: Body) -> Any:
    """Strict JSON (RFC 8259): UTF-8, no NaN/Infinity, integers within 64 bits, and nesting
    bounded by the interpreter's recursion limit."""
    if not body.strip():
        raise InvalidRequest.single("body", "json", "body: is empty; send a JSON object")
    _bound_structure(body)
    try:
        return _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        detail = f"body: malformed JSON ({exc})"
    except RecursionError:
        detail = "body: JSON is nested too deeply"
    except UnicodeDecodeError:
        detail = "body: is not valid UTF-8 text"
    raise InvalidRequest.single("body", "json", detail)


def _bound_structure(body: Body) -> None:
    """Refuse JSON with more than :data:`MAX_JSON_NODES` nodes, before decoding it. Counting
    brackets and commas overcounts by those inside strings; only a body over the bound by that
    count is scanned token by token, and only until the bound is passed."""
    if body.count(b"[") + body.count(b"{") + body.count(b",") <= MAX_JSON_NODES:
        return
    nodes = 0
    for tokens, match in enumerate(_TOKEN.finditer(body)):
        nodes += match.end() - match.start() == 1  # a bracket or a comma, not a string
        # Strings count too, toward the scan's own bound: valid JSON has a separator between
        # two strings, so past twice the bound the body is too big or not JSON at all.
        if nodes > MAX_JSON_NODES or tokens > 2 * MAX_JSON_NODES:
            raise InvalidRequest.single(
                "body",
                "json",
                f"body: holds more than {MAX_JSON_NODES} JSON arrays, objects and values",
            )


def parse_generation(validator: RequestValidator, body: Body) -> ParsedCreate:
    return validator.parse(decode_json(body))


def check_media_type(request: Request) -> None:
    """A declared Content-Type must be JSON; an absent one is tolerated (many clients omit it),
    but a form or text body is a client bug worth surfacing before it meets the real API."""
    declared = header(request, b"content-type")
    if declared is None:
        return
    media = declared.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise InvalidRequest.single(
            "Content-Type", "media_type", f"Content-Type: must be application/json, got {media!r}"
        )


async def read_generation(
    request: Request, validator: RequestValidator, limit: int, timeout: float
) -> ParsedCreate:
    check_media_type(request)
    body = await read_body(request, limit, timeout)
    if len(body) > OFFLOAD_BYTES:
        return await anyio.to_thread.run_sync(parse_generation, validator, body)
    return parse_generation(validator, body)


def _too_large(limit: int) -> NoReturn:
    raise PayloadTooLarge(
        f"Request body is larger than {limit} bytes; a 10 MB image is about 13.4 MB of base64"
    )
