"""Runs an ASGI app under uvicorn in a thread on a free loopback port, for one ``with`` block."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

import uvicorn
from starlette.types import ASGIApp

START_DEADLINE = 20.0  # seconds for uvicorn to start listening


def loopback_socket() -> socket.socket:
    """A listening-ready socket bound to a free port on 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A port free on 127.0.0.1 right now (for a server in another process)."""
    with closing(loopback_socket()) as sock:
        return int(sock.getsockname()[1])


@contextmanager
def served(app: ASGIApp) -> Iterator[str]:
    """Serves ``app`` until the block ends; yields its base URL (``http://127.0.0.1:<port>``)."""
    sock = loopback_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {port}")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class _Outside(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Refuse)
        self.refused: list[str] = []


class _Refuse(socketserver.StreamRequestHandler):
    server: _Outside

    def handle(self) -> None:
        self.server.refused.append(self.rfile.readline(65_536).decode("latin-1").strip())
        body = b"refused by the test: no traffic leaves loopback"
        head = f"HTTP/1.1 403 Forbidden\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        self.wfile.write(head.encode() + body)


@contextmanager
def outside() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for a forward proxy to the internet, on loopback: it answers every request
    403 and notes its request line, so a client told to use it never leaves loopback. Yields
    its URL and the list of request lines (``CONNECT host:443 ...`` for https)."""
    server = _Outside()
    thread = threading.Thread(
        target=server.serve_forever, args=(0.01,), daemon=True
    )  # quick shutdown
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.refused
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
