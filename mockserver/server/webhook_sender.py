"""A small HTTP/1.1 client for webhook deliveries: kept-alive connections on asyncio streams,
answers read by httptools (the C parser uvicorn already uses for the API).

The scheduler runs on the API's own event loop, so what a delivery costs is taken from the
creates and polls being answered. An httpx request spends most of its time in the layers a
delivery does not need (its connection pool's bookkeeping, anyio's stream wrappers, the
redirect and auth machinery); this client does only what a delivery does: one ``POST`` with
the signed headers, the whole attempt within the receiver's timeout, no redirect followed (a
3xx is an answer like any other non-2xx), TLS for ``https`` with the trust store httpx uses
(certifi) and the host name checked, and every failure to get an answer reported as the
attempt's error. A connection is kept for the next delivery to the same origin when the
receiver allows it; one that turns out closed before it answered is tried once more on a new
connection. The receiver's body is read to the end and dropped.

Deliveries go wherever their endpoint says, loopback included, as with httpx before: an
endpoint is the fake's user's own receiver (the reachability rule of ``fetching.py`` is about
task inputs the real service downloads).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

import certifi
import httptools

from mockserver.__about__ import __version__

USER_AGENT = f"wan-mock/{__version__} (webhook delivery)"
READ_CHUNK = 65_536
PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"  # what stays as it is in a request target
CONNECTS_AT_ONCE = 2  # connections being opened to one receiver at once
# Requests in flight to one receiver at most, and connections kept to it: the others wait for
# one, within their timeout, as in httpx's pool. Few, because a receiver accepts connections
# slowly: a burst of 64 overflowed http.server's listen backlog (5) and each connection it
# dropped cost a second; kept alive, 8 carried about 9,000 deliveries a second on loopback.
CONNECTIONS_PER_ORIGIN = 8

Origin = tuple[str, str, int]  # scheme, host, port


class NoAnswer(Exception):
    """The receiver closed the connection, or broke HTTP, before it answered."""


@dataclass(frozen=True, slots=True)
class Target:
    origin: Origin
    head: bytes  # the request line and the headers every delivery to it carries


@lru_cache(maxsize=256)
def target(url: str) -> Target:
    """Where ``url`` points (raises ValueError for one that is not http(s) with a host)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")
    if port != default:
        shown += f":{port}"
    # Anything but ASCII is percent-encoded, as httpx sends it; escapes already there stay.
    path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), PATH_SAFE)
    head = f"POST {path} HTTP/1.1\r\nHost: {shown}\r\nUser-Agent: {USER_AGENT}\r\n"
    return Target((parts.scheme, host, port), (head + "Accept: */*\r\n").encode("ascii"))


class _Connection:
    """One kept-alive connection and the parser of its answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = httptools.HttpResponseParser(self)
        self.status: int | None = None  # of the answer being read
        self.complete = False
        self.keep = False

    # The parser's callbacks.

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_message_complete(self) -> None:
        if self.status is not None and self.status >= 200:  # not a 100 Continue
            self.complete = True
            self.keep = self.parser.should_keep_alive()

    @property
    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()

    async def post(self, head: bytes, body: bytes) -> int:
        """Send one request and read its whole answer; returns the status."""
        self.status, self.complete, self.keep = None, False, False
        self.writer.write(head + body)
        await self.writer.drain()
        while not self.complete:
            data = await self.reader.read(READ_CHUNK)
            if not data:  # closed: an answer without a length ends here
                if self.status is None or self.status < 200:
                    raise NoAnswer("the receiver closed the connection without an answer")
                return self.status
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError as exc:
                raise NoAnswer(f"the receiver's answer is not HTTP/1.1 ({exc})") from None
        assert self.status is not None
        return self.status

    def reusable(self) -> bool:
        return self.complete and self.keep and self.usable


class Sender:
    """POSTs deliveries, keeping connections per receiver (one event loop's)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._idle: dict[Origin, list[_Connection]] = {}
        self._opening: dict[Origin, asyncio.Semaphore] = {}
        self._slots: dict[Origin, asyncio.Semaphore] = {}
        self._tls = tls  # the trust store for https receivers; certifi's unless given

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> tuple[int | None, str | None, float]:
        """One POST: the status, or why there was none, and the milliseconds it took."""
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            where = target(url)
            head = where.head + b"".join(
                f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items()
            )
            head += b"Content-Length: %d\r\n\r\n" % len(body)
            async with asyncio.timeout(timeout):
                status = await self._send(where.origin, head, body)
        except TimeoutError:
            error = f"no answer within {timeout:g} s"
        except (OSError, ValueError, NoAnswer) as exc:
            error = f"{type(exc).__name__}: {exc}"
        return status, error, (time.perf_counter() - started) * 1000

    async def _send(self, origin: Origin, head: bytes, body: bytes) -> int:
        async with self._slots.setdefault(origin, asyncio.Semaphore(CONNECTIONS_PER_ORIGIN)):
            return await self._send_on(origin, head, body)

    async def _send_on(self, origin: Origin, head: bytes, body: bytes) -> int:
        while True:
            connection, reused = self._take(origin), True
            if connection is None:
                # A few connects at a time per receiver: a burst of them overflows a small
                # listen backlog (http.server's is 5), and each dropped one costs a second.
                async with self._opening.setdefault(origin, asyncio.Semaphore(CONNECTS_AT_ONCE)):
                    connection = self._take(origin)  # one may have come back meanwhile
                    if connection is None:
                        connection, reused = await self._open(origin), False
            try:
                status = await connection.post(head, body)
            except (NoAnswer, ConnectionError):
                connection.close()
                if reused:  # a kept connection the receiver had closed: once more on a new one
                    continue
                raise
            except BaseException:  # a timeout or an error: the connection is in an unknown state
                connection.close()
                raise
            self._keep(origin, connection)
            return status

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.usable:
                return connection
            connection.close()
        return None

    def _keep(self, origin: Origin, connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if connection.reusable() and len(idle) < CONNECTIONS_PER_ORIGIN:
            idle.append(connection)
        else:
            connection.close()

    async def _open(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        tls = self._context() if scheme == "https" else None
        reader, writer = await asyncio.open_connection(host, port, ssl=tls, limit=READ_CHUNK)
        return _Connection(reader, writer)

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:  # made on first use: loading the trust store takes milliseconds
            self._tls = ssl.create_default_context(cafile=certifi.where())
        return self._tls

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()
