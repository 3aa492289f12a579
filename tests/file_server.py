"""A test's own HTTP server on loopback, answering fixed files (the downloads ``fetch_urls``
makes), and the audio file it often serves."""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Served:
    """One answer of :class:`FileServer`: status, headers, body, and seconds to wait first."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] | None = None
    delay: float = 0.0


class FileServer:
    """An HTTP server on 127.0.0.1 only, answering ``routes`` (path to :class:`Served`) and
    counting the requests it got per path; started by ``with``."""

    def __init__(self, routes: dict[str, Served] | None = None) -> None:
        import http.server
        import threading

        self.routes: dict[str, Served] = dict(routes or {})
        self.hits: dict[str, int] = {}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits[self.path] = owner.hits.get(self.path, 0) + 1
                served = owner.routes.get(self.path, Served(b"not here", 404))
                if served.delay:
                    time.sleep(served.delay)  # the server's own thread: a slow host
                self.send_response(served.status)
                for name, value in (served.headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(served.body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the fake may hang up first
                    self.wfile.write(served.body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(  # a short poll: shutdown() then returns at once
            target=self._server.serve_forever, args=(0.01,), daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    """A silent mono WAV file ``seconds`` long."""
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\0\0" * int(rate * seconds))
    return buffer.getvalue()
