"""The fake as a real HTTP server on a loopback port, in a background thread of the test run.

Any client can talk to it (requests, aiohttp, a subprocess, another language). It starts within
a deadline, and an exception raised inside the app is kept so that the test it happened in
fails with it.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.control import Control
from mockserver.domain.settings import Settings
from mockserver.server.app import create_app
from mockserver.server.faults import ConnectionDropped
from mockserver.server.protocol import GuardedProtocol

START_DEADLINE = 10.0


class ErrorCatcher:
    """Keeps exceptions that escape the app (a bug in the fake), for the test to re-raise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.errors: list[BaseException] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ConnectionDropped:
            raise  # injected on purpose, not a bug
        except Exception as exc:
            # Kept for the test, not handed on to uvicorn: Starlette has answered 500 already,
            # and uvicorn would log the traceback on the server thread while pytest formats the
            # same error on the main thread. CPython 3.11 builds the caret lines of both with
            # the ast module, whose conversion is not safe in two threads at once (a SystemError
            # in pytest itself).
            self.errors.append(exc)


class ServerThread:
    """``wan-mock`` served by uvicorn on ``127.0.0.1:<free port>`` in a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.catcher = ErrorCatcher(self.app)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(
            self.catcher,
            http=GuardedProtocol,  # as `wan-mock serve`: head bounds, deadlines, a cap
            lifespan="off",
            access_log=False,
            log_level="warning",
            log_config=None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="wan-mock-server", daemon=True)
        self._failure: BaseException | None = None

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # reported by start()
            self._failure = exc

    def start(self) -> ServerThread:
        """Serve, and open :attr:`control` (one client for the session: making an httpx client
        costs about 20 ms of certificate loading, too much to pay per test)."""
        self._thread.start()
        deadline = time.monotonic() + START_DEADLINE
        while not self._server.started:
            if self._failure is not None or not self._thread.is_alive():
                self._socket.close()
                raise RuntimeError(f"wan-mock server failed to start: {self._failure!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"wan-mock server did not start within {START_DEADLINE} s")
            time.sleep(0.005)
        self.control = Control(self.base_url)
        return self

    def take_errors(self) -> list[BaseException]:
        errors, self.catcher.errors = self.catcher.errors, []
        return errors

    def stop(self) -> None:
        if hasattr(self, "control"):
            self.control.close()
        self._server.should_exit = True
        self._thread.join(START_DEADLINE)
        self._socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
