"""The body size cap: a body at the cap is read, one byte over is a 413 naming the limit,
whether sent whole, streamed, chunked without end or declared too long up front."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anyio
import pytest
from httpx2 import Response
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message

from mockserver import Settings, create_app
from tests.helpers import (
    CREATE_PATH,
    assert_created,
    body,
    make_client,
)

# --- body size cap -------------------------------------------------------------------------------

SMALL_CAP = 2048


@pytest.fixture
def capped() -> TestClient:
    return make_client(Settings(seed=1, max_body_bytes=SMALL_CAP))


def assert_too_large(response: Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["error_code"] == 413
    assert error["title"] == "Payload Too Large"
    assert f"larger than {SMALL_CAP} bytes" in error["detail"]


def sized_body(size: int) -> bytes:
    """A valid create body of exactly ``size`` bytes."""
    content = json.dumps(body(prompt="")).encode()
    return json.dumps(body(prompt="x" * (size - len(content)))).encode()


def test_body_at_the_cap_is_accepted(capped: TestClient) -> None:
    content = sized_body(SMALL_CAP)
    assert len(content) == SMALL_CAP
    assert_created(capped.post(CREATE_PATH, content=content))


def test_body_one_byte_over_the_cap_is_a_413(capped: TestClient) -> None:
    assert_too_large(capped.post(CREATE_PATH, content=sized_body(SMALL_CAP + 1)))


def test_three_kilobyte_body_is_a_413(capped: TestClient) -> None:
    content = json.dumps(body(prompt="x" * 3000)).encode()
    assert 3000 < len(content) < 3100
    assert_too_large(capped.post(CREATE_PATH, content=content))


def test_streamed_body_over_the_cap_is_a_413(capped: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(4):
            yield b"x" * 1024
        yield b'", "image": "https://e.com/a.jpg"}'

    assert_too_large(capped.post(CREATE_PATH, content=chunks()))


def test_streamed_body_under_the_cap_is_accepted(capped: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        yield b"x" * 1024
        yield b'", "image": "https://e.com/a.jpg"}'

    assert_created(capped.post(CREATE_PATH, content=chunks()))


async def asgi_post(
    app: ASGIApp, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]
) -> tuple[int, bytes, int]:
    """POST straight to the ASGI app, feeding the body chunk by chunk.

    Returns the status, the response body and how many body chunks the app asked for, so a test
    can tell whether the app stopped reading early.
    """
    consumed = 0
    pending = next(chunks, None)
    status = 0
    parts: list[bytes] = []

    async def receive() -> Message:
        nonlocal consumed, pending
        if pending is None:
            return {"type": "http.disconnect"}
        chunk, pending = pending, next(chunks, None)
        consumed += 1
        return {"type": "http.request", "body": chunk, "more_body": pending is not None}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": CREATE_PATH,
        "raw_path": CREATE_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"wan-mock.test"), (b"authorization", b"Bearer k"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("wan-mock.test", 80),
    }
    await app(scope, receive, send)
    return status, b"".join(parts), consumed


def test_declared_content_length_over_the_cap_is_refused_without_reading() -> None:
    app = create_app(Settings(seed=1, max_body_bytes=SMALL_CAP))
    endless = iter(lambda: b"x" * 1024, None)
    status, content, consumed = anyio.run(
        asgi_post, app, [(b"content-length", b"1000000000")], endless
    )
    assert status == 413
    assert json.loads(content)["error_code"] == 413
    assert consumed == 0


def test_endless_chunked_body_is_abandoned_at_the_cap() -> None:
    app = create_app(Settings(seed=1, max_body_bytes=SMALL_CAP))
    endless = iter(lambda: b"x" * 1024, None)
    status, content, consumed = anyio.run(
        asgi_post, app, [(b"transfer-encoding", b"chunked")], endless
    )
    assert status == 413
    assert "larger than 2048 bytes" in json.loads(content)["detail"]
    assert consumed == 3  # 3 KiB read: the first chunk that passes 2 KiB


def test_chunked_body_within_the_cap_is_read_in_full() -> None:
    app = create_app(Settings(seed=1, max_body_bytes=SMALL_CAP))
    content = json.dumps(body()).encode()
    pieces = iter([content[i : i + 10] for i in range(0, len(content), 10)])
    status, answer, consumed = anyio.run(asgi_post, app, [], pieces)
    assert status == 202, answer
    assert consumed == -(-len(content) // 10)
