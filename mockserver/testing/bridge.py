"""Answering httpx requests with the fake's ASGI app, in-process, for sync and async clients.

httpx's own ``ASGITransport`` is async-only. Synchronous clients are served through an anyio
blocking portal (an event loop on a daemon thread, what Starlette's ``TestClient`` uses): the
request is handed over, the app runs there, and the whole answer comes back. Async clients are
served on their own loop. Either way it is the one Starlette app the server runs; nothing here
answers for it.
"""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError
from contextlib import ExitStack

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.types import ASGIApp

from mockserver.server.faults import ConnectionDropped

LOOP_THREAD = "wan-mock-loop"


class AppTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport (sync and async) whose server is ``app``.

    A dropped connection injected by a fault surfaces as ``httpx.RemoteProtocolError``, as it
    would over a socket. A sync request the app has not answered within ``timeout`` seconds
    is cancelled and raises ``httpx.ReadTimeout``.
    """

    def __init__(self, app: ASGIApp, *, timeout: float = 30.0) -> None:
        self._asgi = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        self._timeout = timeout
        self._portal: BlockingPortal | None = None
        self._stack = ExitStack()
        # Guards starting, using and stopping the portal, so close() never races a request
        # being handed over; it is not held while the app works on a request.
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the app reads the body on another thread: make it replayable bytes
        with self._lock:
            if self._portal is None:  # started on the first sync request only
                self._portal = self._stack.enter_context(start_blocking_portal(name=LOOP_THREAD))
            answer = self._portal.start_task_soon(self._exchange, request)
        try:
            status, headers, content = answer.result(self._timeout)
        except TimeoutError:
            answer.cancel()
            raise httpx.ReadTimeout(
                f"wan-mock's app did not answer {request.method} {request.url} within "
                f"{self._timeout} s (AppTransport timeout)",
                request=request,
            ) from None
        except CancelledError:
            raise httpx.ReadError(
                f"the AppTransport was closed while {request.method} {request.url} was running",
                request=request,
            ) from None
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
        """Stops the loop thread, cancelling requests still running; the next sync request
        starts a new one."""
        with self._lock:
            portal, self._portal = self._portal, None
            if portal is not None:
                portal.call(portal.stop, True)  # True: cancel what is still running
                self._stack.close()  # joins the loop thread

    async def aclose(self) -> None:
        self.close()
