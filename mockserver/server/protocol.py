"""uvicorn's httptools protocol with a bound on the request head (request line and headers).

httptools itself has no limit: a client could send megabytes of headers and the server would
buffer them all. This subclass counts the bytes a request's head takes while it is still
incomplete, and past :data:`HEAD_LIMIT` answers ``431 Request Header Fields Too Large``, its
body rendered by the app's own error renderer (so in the active dialect), then ends the
connection (nothing after it can be framed).

Counting happens per chunk the transport delivers, after the parser has seen it: a chunk that
leaves the head incomplete is all head. (A client pipelining a large body and the start of the
next request into one chunk could be over-counted by that body; clients do not pipeline.)
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mockserver.domain.clock import SystemClock
from mockserver.server.errors import DEFAULT_SPEAKER, ErrorRenderer, Problem

HEAD_LIMIT = 64 * 1024
"""Largest request head accepted, in bytes (nginx allows 32 KiB by default, Node.js 16 KiB)."""

LINGER_S = 2.0

TOO_LARGE = Problem(
    431,
    431,
    "Request Header Fields Too Large",
    f"The request line and headers must fit in {HEAD_LIMIT} bytes",
)


# For an app that is not the fake (a test's own): the default shape.
_FALLBACK = ErrorRenderer(lambda: DEFAULT_SPEAKER, SystemClock())


def _renderer(app: Any) -> ErrorRenderer:
    """The error renderer of the fake inside uvicorn's wrappers (each has ``.app``)."""
    for _ in range(8):
        errors = getattr(app, "errors", None)
        if isinstance(errors, ErrorRenderer):
            return errors
        app = getattr(app, "app", None)
        if app is None:
            break
    return _FALLBACK


class _HeadTooLarge(Exception):
    """Raised inside a parser callback; httptools turns it into a parser error."""


class BoundedHeadProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses request heads over :data:`HEAD_LIMIT` bytes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0  # exact: the URL and headers parsed so far
        self._chunk_bytes = 0  # chunks that left the head incomplete (still in the parser)
        self._too_large = False
        self._refused = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._chunk_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > HEAD_LIMIT:
            self._over()
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        # Counted inline (a call per header is measurable on the hot path): ": " and CRLF.
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > HEAD_LIMIT:
            self._over()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def _over(self) -> None:
        self._too_large = True
        raise _HeadTooLarge

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of an oversized head: dropped unread, never buffered
        # A head arriving in one chunk is caught by the exact count (the callbacks raise and
        # uvicorn answers through send_400_response below); one still arriving, by this.
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._chunk_bytes += len(data)
            if self._chunk_bytes > HEAD_LIMIT:
                self._refuse()

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _refuse(self) -> None:
        # Closing with unread input would reset the connection and the client could lose the
        # answer: half-close instead, drop what still arrives, and close when the client does
        # (or after LINGER_S, whichever is first).
        self._refused = True
        self.transport.write(_renderer(self.app).raw(TOO_LARGE))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)
