"""A real ``wan-mock serve`` over raw sockets: garbage HTTP, oversized headers, slow-drip
bodies, oversized chunked bodies and mutated raw requests; the server never answers 5xx, never
hangs, and keeps serving with bounded memory."""

from __future__ import annotations

import json
import random
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fuzz_driver import (
    CREATE,
    LIMIT,
    TIMEOUT,
    Reply,
    check,
    encode,
    mutate,
    random_mutations,
    rss,
)
from tests.helpers import AUTH, CREATE_PATH, body
from tests.server_process import ServerProcess, running_server


@dataclass(frozen=True)
class Wire:
    status: int | None  # None: the server closed without an answer
    headers: dict[str, str]
    body: bytes


def _parse(raw: bytes) -> Wire:
    if not raw:
        return Wire(None, {}, b"")
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return Wire(status, headers, rest)


def _exchange(sock: socket.socket, deadline: float) -> Wire:
    """Read one answer (complete by Content-Length) or until the server closes."""
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return _parse(data)
        if not chunk:
            return _parse(data)
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if sep and length and len(rest) >= int(length.group(1)):
            return _parse(data)
    raise AssertionError(f"no answer in {TIMEOUT} s (hang); got {data[:300]!r}")


def _raw(server: ServerProcess, data: bytes, *, close_write: bool = True) -> Wire:
    url = urlsplit(server.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(data)
            if close_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # broken pipe, reset, not connected
            pass  # the server answered (and closed) before reading everything
        return _exchange(sock, time.monotonic() + TIMEOUT)


def check_wire(wire: Wire, context: object) -> None:
    """Over the wire: the app's answers follow :func:`check`; uvicorn may refuse what it cannot
    parse itself (a plain-text 400) or close the connection without a word."""
    where = f"{wire.status} {wire.headers} {wire.body[:300]!r} [{context!r:.300}]"
    if wire.status is None:
        return
    assert wire.status < 500, f"server error: {where}"
    if "traceparent" not in wire.headers and wire.status == 431:  # the bounded head
        assert json.loads(wire.body)["error_code"] == 431, where
        return
    if "traceparent" not in wire.headers:  # not the app: uvicorn's own refusal
        assert wire.status == 400, where
        assert wire.body == b"Invalid HTTP request received.", where
        return
    reply = Reply("POST", b"", wire.status, wire.headers, wire.body)
    check(reply, context)


def _request(
    target: bytes = CREATE,
    payload: bytes | None = None,
    extra: bytes = b"",
    method: bytes = b"POST",
) -> bytes:
    payload = encode(body()) if payload is None else payload
    return (
        method + b" " + target + b" HTTP/1.1\r\nHost: wan-mock.test\r\n"
        b"Authorization: " + AUTH["Authorization"].encode() + b"\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        + extra
        + b"Content-Length: "
        + str(len(payload)).encode()
        + b"\r\n\r\n"
        + payload
    )


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server("--no-access-log") as process:
        yield process


_GARBAGE = [
    b"GARBAGE\r\n\r\n",
    b"\x00" * 1024,
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS hello
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    b"GET /openapi.json HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GET /files/\xff\xfe/result_000.mp4 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST " + CREATE + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{}",
    b"POST "
    + CREATE
    + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST "
    + CREATE
    + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n",
    b"POST " + CREATE + b" HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
    b"POST " + CREATE + b" HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n{}",
    b"\r\n" * 10_000,
]


def test_real_server_survives_socket_abuse(server: ServerProcess) -> None:
    pid = server.process.pid
    ready = httpx.post(server.base_url + CREATE_PATH, json=body(), headers=AUTH, timeout=TIMEOUT)
    assert ready.status_code == 202, ready.text
    rss_before = rss(pid)
    seen: dict[str, object] = {}

    for data in _GARBAGE:
        wire = _raw(server, data)
        check_wire(wire, data[:80])
        seen[f"garbage {data[:24]!r}"] = wire.status

    # Oversized headers: a 100 KB value, a 1 MB value, 10,000 headers.
    for name, extra in [
        ("100 KB header", b"X-Big: " + b"a" * 100_000 + b"\r\n"),
        ("100 KB Authorization", b"X-Pad: 1\r\nAuthorization: Bearer " + b"k" * 100_000 + b"\r\n"),
        ("1 MB header", b"X-Big: " + b"a" * 2**20 + b"\r\n"),
        ("10k headers", b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))),
    ]:
        wire = _raw(server, _request(extra=extra))
        check_wire(wire, name)
        assert wire.status == 431, (name, wire)  # over the 64 KiB bound on the request head
        seen[name] = wire.status

    # Oversized bodies: declared (answered before the body), and chunked without a length.
    wire = _raw(server, _request(extra=b"").replace(b"Content-Length: ", b"X-Ignored: ") + b"")
    check_wire(wire, "no length")
    declared = (
        b"POST " + CREATE + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Connection: close\r\nContent-Length: " + str(LIMIT + 1).encode() + b"\r\n\r\n"
    )
    wire = _raw(server, declared + b"{", close_write=False)
    check_wire(wire, "declared oversized")
    assert wire.status == 413, wire
    seen["oversized, declared"] = wire.status
    chunk = b" " * 2**20
    chunked = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    head = declared.replace(
        b"Content-Length: " + str(LIMIT + 1).encode(), b"Transfer-Encoding: chunked"
    )
    wire = _raw(server, head + chunked * (LIMIT // len(chunk) + 2) + b"0\r\n\r\n")
    check_wire(wire, "chunked oversized")
    assert wire.status == 413, wire
    seen["oversized, chunked"] = wire.status

    # Mutated raw requests: bit flips, truncations and insertions anywhere in a valid request.
    rng = random.Random(7)
    template = _request(extra=b"Range: bytes=0-10\r\n")
    for _ in range(300):
        data = mutate(template, random_mutations(rng))
        check_wire(_raw(server, data), data)

    # A slow drip: a few bytes every 0.1 s for about 2 s, completed; while it drips, and while an
    # abandoned one hangs open, the server keeps answering others.
    payload = encode(body(prompt="drip " * 5))
    url = urlsplit(server.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=TIMEOUT) as abandoned:
        abandoned.sendall(_request(payload=payload)[: -len(payload) // 2])
        with socket.create_connection((url.hostname, url.port), timeout=TIMEOUT) as drip:
            request = _request(payload=payload)
            split = len(request) - len(payload)
            drip.sendall(request[:split])
            step = max(1, len(payload) // 20)
            for i in range(0, len(payload), step):
                drip.sendall(payload[i : i + step])
                time.sleep(0.1)
                if i == 0:
                    started = time.monotonic()
                    other = httpx.get(server.base_url + "/openapi.json", timeout=TIMEOUT)
                    assert other.status_code == 200
                    assert time.monotonic() - started < 1.0
            wire = _exchange(drip, time.monotonic() + TIMEOUT)
        assert wire.status == 202, wire
        seen["slow drip"] = wire.status
    # the abandoned one was closed half-way through its body

    ok = httpx.post(server.base_url + CREATE_PATH, json=body(), headers=AUTH, timeout=TIMEOUT)
    assert ok.status_code == 202, ok.text
    assert server.process.poll() is None
    growth = rss(pid) - rss_before
    print(f"\nsocket abuse: {seen}; server RSS growth {growth / 2**20:.1f} MiB")
    assert growth < 100 * 2**20, growth


def test_overlong_content_length_over_the_wire(server: ServerProcess) -> None:
    """httptools lets ``Content-Length: 000…050`` (5001 digits, value 50) through to the app,
    which still answers without a server error."""
    payload = encode(body())
    data = _request(payload=payload).replace(
        b"Content-Length: " + str(len(payload)).encode(),
        b"Content-Length: " + str(len(payload)).encode().rjust(5001, b"0"),
    )
    wire = _raw(server, data)
    check_wire(wire, "Content-Length with 5001 digits")
