"""Answering httpx requests with the fake's ASGI app, in-process, for sync and async clients.

httpx's own ``ASGITransport`` is async-only. Synchronous clients are served by a private event
loop on a daemon thread: the request is handed over, the app runs there, and the whole answer
comes back. Async clients are served on their own loop. Either way it is the one Starlette app
the server runs; nothing here answers for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
from starlette.types import ASGIApp

from mockserver.server.faults import ConnectionDropped

T = TypeVar("T")


class LoopThread:
    """An asyncio event loop running on a daemon thread until closed."""

    def __init__(self, name: str = "wan-mock-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
        if not self.loop.is_running():
            self.loop.close()


class AppTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport (sync and async) whose server is ``app``.

    A dropped connection injected by a fault surfaces as ``httpx.RemoteProtocolError``, as it
    would over a socket.
    """

    def __init__(self, app: ASGIApp, *, timeout: float = 30.0) -> None:
        self._asgi = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        self._timeout = timeout
        self._loop: LoopThread | None = None
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the app reads the body on another thread: make it replayable bytes
        with self._lock:
            if self._loop is None:
                self._loop = LoopThread()
            loop = self._loop
        status, headers, content = loop.run(self._exchange(request), self._timeout)
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        status, headers, content = await self._exchange(request)
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def _exchange(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        try:
            response = await self._asgi.handle_async_request(request)
            content = await response.aread()
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
        # The body is already complete: drop the framing headers httpx would re-apply.
        headers = httpx.Headers(
            [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
        )
        return response.status_code, headers, content

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    async def aclose(self) -> None:
        self.close()
