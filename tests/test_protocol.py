"""The bound on request heads: under it a request is served, over it (in one piece or
trickling in) the answer is a JSON 431 and the server stays well."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from mockserver.server.protocol import HEAD_LIMIT
from tests.server_process import ServerProcess, running_server


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server("--no-access-log") as process:
        yield process


def exchange(server: ServerProcess, pieces: list[bytes], pause: float = 0.0) -> bytes:
    url = urlsplit(server.base_url)
    assert url.hostname is not None
    assert url.port is not None
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        try:
            for piece in pieces:
                sock.sendall(piece)
                time.sleep(pause)
        except OSError:
            pass  # refused half-way: the answer is still there to read
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def request(header_bytes: int) -> bytes:
    return (
        b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"X-Pad: " + b"a" * header_bytes + b"\r\n\r\n"
    )


def test_a_head_under_the_bound_is_served(server: ServerProcess) -> None:
    assert exchange(server, [request(HEAD_LIMIT - 1024)]).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("trickle", [False, True], ids=["one piece", "trickling"])
def test_a_head_over_the_bound_gets_a_json_431(server: ServerProcess, trickle: bool) -> None:
    data = request(HEAD_LIMIT + 1024)
    pieces = [data[i : i + 4096] for i in range(0, len(data), 4096)] if trickle else [data]
    answer = exchange(server, pieces, pause=0.001 if trickle else 0.0)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b"content-type: application/json" in head
    assert json.loads(body)["error_code"] == 431
    # and the next request is served as usual
    assert exchange(server, [request(10)]).startswith(b"HTTP/1.1 200")
