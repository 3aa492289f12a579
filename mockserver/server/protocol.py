"""uvicorn's httptools protocol, guarded against clients that hold the server without asking
it anything: a bound on the request head, deadlines for the head and the body, and a cap on
open connections; and what a connection writes in one turn of the loop is sent together
(``coalescing.py``), so a small answer is one segment, not a head and then a body.

- **Head size.** httptools has no limit: a client could send megabytes of headers and the server
  would buffer them all. The bytes of a head still incomplete are counted, and past
  :data:`HEAD_LIMIT` the answer is ``431 Request Header Fields Too Large``. Counting happens
  per chunk the transport delivers, after the parser has seen it: a chunk that leaves the head
  incomplete is all head.
- **Deadlines.** A connection has ``header_timeout`` seconds to send a whole request head (from
  when it opened, or from the previous answer), and a request ``body_timeout`` seconds to send
  its whole body, however it is split; then ``408`` (or, for an idle connection, a quiet
  close). uvicorn itself only times out idle keep-alive connections, and a byte every few
  seconds cancels that timer each time.
- **Connections.** Past ``max_connections`` (kept below the process's file-descriptor limit,
  which is raised when it can be) the connection that has waited longest for its request head
  is closed to make room: that is what a flood of slow clients holds. If none is waiting, the
  newcomer gets ``503`` with ``Retry-After``.

Deadlines are checked by one sweep a second over the open connections, which stamps each
connection's phase the first time it sees it: nothing is timed per request, so the hot path pays
nothing, and a deadline is met to within a second. Every answer sent here is rendered by the
app's own error renderer (so in the active dialect) and ends the connection.
"""

from __future__ import annotations

import asyncio
import functools
import resource
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from mockserver.domain.clock import SystemClock
from mockserver.domain.settings import Settings
from mockserver.server.coalescing import CoalescingTransport
from mockserver.server.errors import DEFAULT_SPEAKER, ErrorRenderer, Problem

HEAD_LIMIT = 64 * 1024
"""Largest request head accepted, in bytes (nginx allows 32 KiB by default, Node.js 16 KiB)."""

LINGER_S = 2.0
SWEEP_S = 1.0
BODY_GRACE_S = 2.0
"""While the app reads a body it enforces the body deadline itself (a 408 in its own words);
the protocol steps in this much later, for a body the app is not reading."""
FD_RESERVE = 100
"""File descriptors kept for everything but client connections (state, videos, logs)."""

TOO_LARGE = Problem(
    431,
    431,
    "Request Header Fields Too Large",
    f"The request line and headers must fit in {HEAD_LIMIT} bytes",
)

# For an app that is not the fake (a test's own): the default shape.
_FALLBACK = ErrorRenderer(lambda: DEFAULT_SPEAKER, SystemClock())


def _fake(app: Any) -> Any:
    """The fake inside uvicorn's wrappers (each has ``.app``), or None for another app."""
    for _ in range(8):
        if isinstance(getattr(app, "errors", None), ErrorRenderer):
            return app
        app = getattr(app, "app", None)
        if app is None:
            break
    return None


def _renderer(app: Any) -> ErrorRenderer:
    """The fake's error renderer, or the default shape for another app (a test's own)."""
    fake = _fake(app)
    return _FALLBACK if fake is None else fake.errors


@dataclass(frozen=True)
class Guards:
    """The deadlines and the connection cap one server applies (from its settings)."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_connections: int = 1000

    @classmethod
    def of(cls, app: Any) -> Guards:
        """The guards the fake inside ``app`` was configured with (defaults for another app)."""
        fake = _fake(app)
        if fake is None:
            return cls()
        settings: Settings = fake.backend.settings
        return _configured(settings.header_timeout, settings.body_timeout, settings.max_connections)


@functools.lru_cache(maxsize=8)
def _configured(header_timeout: float, body_timeout: float, max_connections: int) -> Guards:
    return Guards(header_timeout, body_timeout, connection_room(max_connections))


def connection_room(wanted: int) -> int:
    """How many connections this process can hold: ``wanted``, after raising the soft limit on
    open files toward it if needed, or what the hard limit leaves. Past the file limit the
    server could not even accept a connection to refuse it, and every client would be locked
    out; under it, the cap answers for itself."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass  # keep the soft limit, and a cap under it
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - FD_RESERVE))


class _HeadTooLarge(Exception):
    """Raised inside a parser callback; httptools turns it into a parser error."""


# A connection's phase, as the sweep sees it.
_IDLE, _HEAD, _BODY, _APP = range(4)


class GuardedProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with the head bound, the deadlines and the connection cap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guards = Guards.of(self.app)  # the settings are restart-only: read once
        self._in_head = False
        self._chunk_bytes = 0  # chunks that left the head incomplete (still in the parser)
        self._feeding = 0  # the size of the chunk the parser is working through
        self._too_large = False
        self._refused = False
        # What the sweep saw last: the phase, the request cycle it belonged to, and since when.
        self._seen: tuple[int, object] = (_APP, None)
        self._since = 0.0

    # --- the connection cap and the sweep -------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # An answer's head and body leave together (coalescing.py); reading stays the
        # transport's own (uvicorn's flow control holds the transport it was given).
        self.transport = CoalescingTransport(transport, self.loop)
        _Sweep.of(self.server_state, self.loop).admit(self)

    def phase(self) -> tuple[int, object]:
        """Where this connection is, with the request cycle it is at."""
        cycle = self.cycle
        if self._in_head:
            return _HEAD, cycle
        if cycle is None:
            return _IDLE, None
        if cycle.more_body:
            return _BODY, cycle
        if cycle.response_complete:
            return _IDLE, cycle
        return _APP, cycle

    def waited(self, now: float) -> float:
        """Seconds in the current phase, as far as the sweep has seen it (0 when new)."""
        seen = self.phase()
        if seen != self._seen:
            self._seen, self._since = seen, now
        return now - self._since

    def check(self, now: float) -> None:
        """Close this connection if it is past a deadline."""
        waited = self.waited(now)
        phase = self._seen[0]
        guards = self.guards
        if phase in (_IDLE, _HEAD) and waited > guards.header_timeout:
            self.expire()
        elif phase == _BODY:
            cycle = self.cycle
            limit = guards.body_timeout + (0.0 if cycle.response_complete else BODY_GRACE_S)
            if waited > limit:
                self._answer(
                    _timeout(
                        f"The request body did not arrive whole within {guards.body_timeout:g} s"
                    )
                    if not cycle.response_started
                    else None
                )

    def expire(self) -> None:
        """Close a connection waiting for a request head: with a 408 when part of one came."""
        if self._in_head:
            timeout = self.guards.header_timeout
            self._answer(_timeout(f"The request head did not arrive whole within {timeout:g} s"))
        else:
            self.transport.close()

    def refuse_busy(self, held: int) -> None:
        self._answer(
            Problem(
                503,
                503,
                "Service Unavailable",
                f"The fake holds {held} connections, its limit (max_connections); retry shortly",
                headers={"Retry-After": "1"},
            )
        )

    # --- the head bound ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._chunk_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        # A head that came in chunks smaller than the bound is smaller than the bound: only a
        # big chunk needs the exact count (per header, as the parser split them: ": ", CRLF).
        if self._chunk_bytes + self._feeding > HEAD_LIMIT:
            size = len(self.url) + sum(len(k) + len(v) + 4 for k, v in self.headers)
            if size > HEAD_LIMIT:
                self._over()
        super().on_headers_complete()

    def _over(self) -> None:
        self._too_large = True
        raise _HeadTooLarge

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of a refused request: dropped unread, never buffered
        # A head arriving in one chunk is caught by the exact count (the callback raises and
        # uvicorn answers through send_400_response below); one still arriving, by this.
        self._feeding = len(data)
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._chunk_bytes += len(data)
            if self._chunk_bytes > HEAD_LIMIT:
                self._answer(TOO_LARGE)

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._answer(TOO_LARGE)
        else:
            super().send_400_response(msg)

    def _answer(self, problem: Problem | None) -> None:
        """Send ``problem`` (if any) and end the connection. Closing with unread input would
        reset it and the client could lose the answer: half-close instead, drop what still
        arrives, and close when the client does (or after LINGER_S, whichever is first)."""
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        if problem is None:
            self.transport.close()
            return
        self.transport.write(_renderer(self.app).raw(problem))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)


def _timeout(detail: str) -> Problem:
    return Problem(408, 408, "Request Timeout", detail)


class _Sweep:
    """One per server: admits connections under the cap and checks deadlines once a second
    while any connection is open."""

    _all: ClassVar[weakref.WeakKeyDictionary[ServerState, _Sweep]] = weakref.WeakKeyDictionary()

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        self._state = state
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, state: ServerState, loop: asyncio.AbstractEventLoop) -> _Sweep:
        sweep = cls._all.get(state)
        if sweep is None:
            sweep = cls._all[state] = cls(state, loop)
        return sweep

    def admit(self, newcomer: GuardedProtocol) -> None:
        connections = self._state.connections
        if len(connections) > newcomer.guards.max_connections:
            waiting = self._oldest_waiting(newcomer)
            if waiting is not None:
                waiting.expire()
            else:
                newcomer.refuse_busy(len(connections) - 1)
        if self._timer is None:
            self._timer = self._loop.call_later(SWEEP_S, self._sweep)

    def _oldest_waiting(self, newcomer: GuardedProtocol) -> GuardedProtocol | None:
        now = self._loop.time()
        oldest, longest = None, -1.0
        for connection in self._state.connections:
            if connection is newcomer or not isinstance(connection, GuardedProtocol):
                continue
            if connection._refused or connection.transport.is_closing():
                continue
            waited = connection.waited(now)
            if connection._seen[0] in (_IDLE, _HEAD) and waited > longest:
                oldest, longest = connection, waited
        return oldest

    def _sweep(self) -> None:
        now = self._loop.time()
        for connection in list(self._state.connections):
            if isinstance(connection, GuardedProtocol) and not connection._refused:
                connection.check(now)
        self._timer = (
            self._loop.call_later(SWEEP_S, self._sweep) if self._state.connections else None
        )
