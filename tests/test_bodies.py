from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.errors import InvalidRequest
from mockserver.server.bodies import MAX_JSON_NODES, decode_json
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


def test_a_body_dripping_past_the_whole_body_deadline_gets_408() -> None:
    # Every piece comes well within the deadline; the body as a whole does not.
    app = create_app(Settings(seed=1, body_timeout=0.3), clock=ManualClock())

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0.02)
        return {"type": "http.request", "body": b" ", "more_body": True}

    started = time.monotonic()
    status, body = asyncio.run(asyncio.wait_for(call(app, receive), 5))
    assert status == 408
    assert body["title"] == "Request Timeout"
    assert "within 0.3 s" in body["detail"]
    assert time.monotonic() - started < 3


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


def _refusal(body: bytes) -> str:
    try:
        decode_json(body)
    except InvalidRequest as exc:
        return str(exc)
    raise AssertionError("accepted")


def test_json_with_more_nodes_than_the_bound_is_refused_before_decoding() -> None:
    tiny_lists = b"[" + b"[]," * (MAX_JSON_NODES + 1) + b"[]]"
    assert "more than 10000 JSON arrays" in _refusal(tiny_lists)
    many_values = b'{"x": [' + b"0," * (MAX_JSON_NODES + 1) + b"0]}"
    assert "more than 10000" in _refusal(many_values)


def test_brackets_and_commas_inside_strings_are_not_structure() -> None:
    text = '[{,"\\' * MAX_JSON_NODES
    payload = {"prompt": "a", "note": text, "escaped": 'say "[[["'}
    assert decode_json(json.dumps(payload).encode()) == payload
