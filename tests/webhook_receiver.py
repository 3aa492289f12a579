"""A webhook receiver on a loopback port, for tests: it records every delivery and answers as
its ``answer`` function says (a status, or a delay first to make the sender time out)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mockserver.domain.webhooks import WebhookVerificationError, verify


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    wall: float  # time.time() when it arrived
    status: int  # what the receiver answered


@dataclass
class Receiver:
    url: str
    secret: str = ""
    received: list[Received] = field(default_factory=list)
    answer: Callable[[int], int | tuple[int, float]] = lambda n: 200
    # When set, a delivery that fails verify() at this clock's time is answered 400, as a
    # careful receiver answers it.
    clock: Callable[[], float] | None = None
    # When set, decides every answer from the headers and body (``answer`` is not asked).
    judge: Callable[[dict[str, str], bytes], int | tuple[int, float]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict[str, Any]]:
        """Every delivery received, verified against ``secret`` at its own timestamp."""
        with self.lock:
            got = list(self.received)
        return [
            verify(
                self.secret,
                r.headers,
                r.body,
                now=float(r.headers["x-mulerouter-webhook-timestamp"]),
            )
            for r in got
        ]

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def delivered(self) -> set[str]:
        """The ids of the events answered with a 2xx."""
        with self.lock:
            return {
                r.headers["x-mulerouter-webhook-id"] for r in self.received if 200 <= r.status < 300
            }


@contextmanager
def receiver(answer: Callable[[int], int | tuple[int, float]] | None = None) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1; ``answer(n)`` (n counts deliveries from 0) gives the status,
    or ``(status, seconds)`` to wait first."""
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            got = box[0]
            arrived = time.time()
            headers = {k.lower(): v for k, v in self.headers.items()}
            refused = False
            if got.clock is not None:
                try:
                    verify(got.secret, headers, body, now=got.clock())
                except WebhookVerificationError:
                    refused = True
            with got.lock:
                if got.judge is not None:
                    said = got.judge(headers, body)
                else:
                    said = 400 if refused else got.answer(len(got.received))
                status, delay = said if isinstance(said, tuple) else (said, 0.0)
                got.received.append(Received(headers, body, arrived, status))
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the sender gave up waiting
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    box.append(Receiver(f"http://127.0.0.1:{port}/hook"))
    if answer is not None:
        box[0].answer = answer
    # A short poll: shutdown() waits for the loop to look (0.5 s by default, in every test).
    thread = threading.Thread(
        target=server.serve_forever, args=(0.01,), name="webhook-receiver", daemon=True
    )
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()
