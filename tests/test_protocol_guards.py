"""The connection guards of a served fake: slow clients meet deadlines, a flood of them cannot
lock other clients out, and past the connection cap the answer is a clear 503."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers import CREATE_PATH
from tests.server_process import ServerProcess, running_server

HEAD = b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def address(server: ServerProcess) -> tuple[str, int]:
    url = urlsplit(server.base_url)
    assert url.hostname is not None
    assert url.port is not None
    return url.hostname, url.port


def read_all(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and when it closed (seconds from now)."""
    started = time.monotonic()
    sock.settimeout(within)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer, time.monotonic() - started


def drip(sock: socket.socket, piece: bytes, within: float) -> tuple[bytes, float]:
    """Send ``piece`` every 0.2 s until the server answers and closes: the answer, and the
    seconds it took."""
    started = time.monotonic()
    answer = b""
    while time.monotonic() - started < within and not answer:
        try:
            sock.sendall(piece)
        except OSError:
            break
        sock.settimeout(0.2)
        with contextlib.suppress(TimeoutError):
            answer = sock.recv(65536)
    rest, _ = read_all(sock, 5)
    return answer + rest, time.monotonic() - started


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server(
        "--no-access-log",
        "--header-timeout",
        "1",
        "--body-timeout",
        "1.5",
        "--max-connections",
        "6",
    ) as process:
        yield process


def test_a_head_dripping_past_the_header_deadline_gets_408(server: ServerProcess) -> None:
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(HEAD)
        # One header line every 0.2 s: each in time, the head as a whole not.
        answer, took = drip(sock, b"X-Drip: 1\r\n", within=6)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert "within 1 s" in json.loads(body)["detail"]
    assert took < 4


def test_a_connection_that_never_speaks_is_closed_quietly(server: ServerProcess) -> None:
    with socket.create_connection(address(server), timeout=10) as sock:
        answer, closed_after = read_all(sock, 6)
    assert answer == b""
    assert 0.9 < closed_after < 4


def test_a_create_body_dripping_past_the_body_deadline_gets_408(server: ServerProcess) -> None:
    head = (
        f"POST {CREATE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer k\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(head + b'{"prompt": "')
        answer, took = drip(sock, b"a", within=6)
    head_out, _, body = answer.partition(b"\r\n\r\n")
    assert head_out.startswith(b"HTTP/1.1 408"), answer[:200]
    assert "within 1.5 s" in json.loads(body)["detail"]
    assert took < 5


def test_a_body_nobody_reads_cannot_hold_the_connection(server: ServerProcess) -> None:
    # The route answers without reading the body (405); the client keeps dripping it.
    head = b"PUT /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(head)
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 8:
            try:
                sock.sendall(b"a")
                sock.settimeout(0.2)
                if sock.recv(65536) == b"" and time.monotonic() - started > 0.5:
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
    assert closed
    assert time.monotonic() - started < 5


def test_past_the_cap_the_newcomer_gets_503_when_no_one_is_waiting(server: ServerProcess) -> None:
    busy = (
        f"POST {CREATE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer k\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    ).encode()
    held = []
    try:
        for _ in range(6):  # six requests in their body: none is waiting for a head
            sock = socket.create_connection(address(server), timeout=10)
            sock.sendall(busy)
            held.append(sock)
        time.sleep(0.2)
        with socket.create_connection(address(server), timeout=10) as sock:
            sock.sendall(HEAD + b"\r\n")
            answer, _ = read_all(sock, 5)
    finally:
        for sock in held:
            sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), answer[:200]
    assert b"retry-after: 1" in head.lower()
    assert "max_connections" in json.loads(body)["detail"]


def test_past_the_cap_the_longest_waiting_connection_makes_room(server: ServerProcess) -> None:
    idle = [socket.create_connection(address(server), timeout=10) for _ in range(6)]
    try:
        reply = httpx.get(server.base_url + "/openapi.json", timeout=5)
        assert reply.status_code == 200
        closed = 0
        for sock in idle:
            sock.settimeout(0.05)
            with contextlib.suppress(TimeoutError):
                closed += sock.recv(1) == b""
        assert closed >= 1
    finally:
        for sock in idle:
            sock.close()


async def _flood(host: str, port: int, count: int, stop: asyncio.Event) -> int:
    """``count`` clients sending a request head one line every half second; how many connected."""

    async def slow() -> bool:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            return False
        try:
            writer.write(HEAD)
            while not stop.is_set():
                await asyncio.sleep(0.5)
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
        return True

    return sum(await asyncio.gather(*(slow() for _ in range(count))))


def test_a_thousand_slow_clients_do_not_lock_others_out() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    # A machine with 1024 open files per process: the flood alone would exhaust them.
    with running_server("--no-access-log", open_files=1024) as server:
        host, port = address(server)

        async def scenario() -> list[float]:
            stop = asyncio.Event()
            flood = asyncio.create_task(_flood(host, port, 1000, stop))
            await asyncio.sleep(2)
            timings = []
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                for _ in range(10):
                    started = time.monotonic()
                    reply = await client.get("/openapi.json", timeout=5)
                    assert reply.status_code == 200
                    timings.append(time.monotonic() - started)
                    await asyncio.sleep(0.2)
            stop.set()
            await flood
            return timings

        timings = asyncio.run(scenario())
    assert max(timings) < 1.0, timings
