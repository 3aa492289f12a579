"""Reading request bodies with a bound, and decoding them as strict JSON.

The body is read chunk by chunk and abandoned as soon as it passes the cap, so an endless or
oversized body cannot exhaust memory. Big bodies (base64 images) are decoded and validated on a
worker thread so the event loop keeps answering other requests meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any, NoReturn

import anyio.to_thread
import msgspec
from starlette.requests import ClientDisconnect, Request

from mockserver.domain.errors import InvalidRequest, PayloadTooLarge, RequestTimeout
from mockserver.domain.validation import ParsedCreate, RequestValidator

_DECODER = msgspec.json.Decoder()

# Seconds a multi-piece body may pause between pieces before the request is given up (408).
BODY_PIECE_TIMEOUT = 15.0

# Bodies above this size (in practice: base64 images) are handled off the event loop.
OFFLOAD_BYTES = 256 * 1024


def header(request: Request, name: bytes) -> str | None:
    """One request header (``name`` in lower case, as ASGI servers hand them over): a scan of
    the raw list, cheaper on the hot path than building Starlette's ``Headers``."""
    for key, value in request.scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


async def read_body(request: Request, limit: int) -> bytes:
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
    chunks: list[bytes] = []
    size = 0
    message = await request.receive()
    while True:
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        # A body in several pieces: each further piece must come within the deadline, so a
        # client dripping bytes cannot hold the request open for ever. (Only here: a timeout
        # costs microseconds that the common one-piece body does not need to pay.)
        try:
            async with asyncio.timeout(BODY_PIECE_TIMEOUT):
                message = await request.receive()
        except TimeoutError:
            raise RequestTimeout(
                f"The request body stalled: no data for {BODY_PIECE_TIMEOUT:g} s"
            ) from None


def decode_json(body: bytes) -> Any:
    """Strict JSON (RFC 8259): UTF-8, no NaN/Infinity, integers within 64 bits, and nesting
    bounded by the interpreter's recursion limit."""
    if not body.strip():
        raise InvalidRequest.single("body", "json", "body: is empty; send a JSON object")
    try:
        return _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        detail = f"body: malformed JSON ({exc})"
    except RecursionError:
        detail = "body: JSON is nested too deeply"
    except UnicodeDecodeError:
        detail = "body: is not valid UTF-8 text"
    raise InvalidRequest.single("body", "json", detail)


def parse_generation(validator: RequestValidator, body: bytes) -> ParsedCreate:
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
    request: Request, validator: RequestValidator, limit: int
) -> ParsedCreate:
    check_media_type(request)
    body = await read_body(request, limit)
    if len(body) > OFFLOAD_BYTES:
        return await anyio.to_thread.run_sync(parse_generation, validator, body)
    return parse_generation(validator, body)


def _too_large(limit: int) -> NoReturn:
    raise PayloadTooLarge(
        f"Request body is larger than {limit} bytes; a 10 MB image is about 13.4 MB of base64"
    )
