from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from mockserver import ManualClock, Settings, create_app
from mockserver.server import bodies
from tests.helpers import CREATE_PATH


async def call(app: Any, receive: Any) -> tuple[int, dict[str, Any]]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": CREATE_PATH,
        "raw_path": CREATE_PATH.encode(),
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
        "headers": [(b"host", b"wan-mock.test"), (b"authorization", b"Bearer k")],
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def test_a_body_that_stalls_between_pieces_gets_408(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bodies, "BODY_PIECE_TIMEOUT", 0.05)
    app = create_app(Settings(seed=1), clock=ManualClock())
    pieces = [{"type": "http.request", "body": b'{"prompt": "a', "more_body": True}]

    async def receive() -> dict[str, Any]:
        if pieces:
            return pieces.pop()
        await asyncio.sleep(3600)  # the client never sends the rest
        raise AssertionError("unreachable")

    status, body = asyncio.run(asyncio.wait_for(call(app, receive), 5))
    assert status == 408
    assert body["title"] == "Request Timeout"
    assert "stalled" in body["detail"]


def test_a_body_in_timely_pieces_is_read_whole() -> None:
    app = create_app(Settings(seed=1), clock=ManualClock())
    text = json.dumps({"prompt": "A cat", "image": "https://example.com/cat.jpg"}).encode()
    pieces = [
        {"type": "http.request", "body": text[i : i + 7], "more_body": i + 7 < len(text)}
        for i in range(0, len(text), 7)
    ][::-1]

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)
        return pieces.pop()

    status, body = asyncio.run(call(app, receive))
    assert status == 202
    assert body["task_info"]["status"] == "pending"
