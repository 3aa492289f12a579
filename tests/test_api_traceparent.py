"""W3C ``traceparent`` on every answer over the API, 413s and 500s included: a kept incoming
trace id, an invalid one replaced."""

from __future__ import annotations

import re
import uuid

import pytest
from httpx2 import Response
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.backend import Backend
from tests.helpers import (
    AUTH,
    CREATE_PATH,
    assert_error,
    body,
    task_path,
)

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01")


# --- traceparent ---------------------------------------------------------------------------------


def _requests(client: TestClient, clock: ManualClock) -> dict[str, Response]:
    created = client.post(CREATE_PATH, json=body())
    task_id = created.json()["task_info"]["id"]
    clock.advance(60)
    video = client.get(task_path(task_id)).json()["videos"][0]
    return {
        "create-202": created,
        "poll-200": client.get(task_path(task_id)),
        "400": client.post(CREATE_PATH, json={}),
        "401": client.post(CREATE_PATH, json=body(), headers={"Authorization": "Basic x"}),
        "404-task": client.get(task_path(str(uuid.UUID(int=5)))),
        "404-route": client.get("/nope"),
        "405": client.delete(CREATE_PATH),
        "file-200": client.get(video),
        "file-head": client.head(video),
        "file-206": client.get(video, headers={"Range": "bytes=0-9"}),
        "file-404": client.get("/files/x/result_000.mp4"),
        "openapi": client.get("/openapi.json"),
    }


def test_every_response_has_a_traceparent(client: TestClient, clock: ManualClock) -> None:
    responses = _requests(client, clock)
    trace_ids = set()
    for name, response in responses.items():
        match = TRACEPARENT.fullmatch(response.headers.get("traceparent", ""))
        assert match, (name, response.headers)
        assert match.group(1) != "0" * 32
        assert match.group(2) != "0" * 16
        trace_ids.add(match.group(1))
    assert len(trace_ids) == len(responses)  # a new trace for each request without one


def test_413_has_a_traceparent() -> None:
    app = create_app(Settings(seed=1, max_body_bytes=1024))
    response = TestClient(app, headers=AUTH).post(CREATE_PATH, content=b"x" * 2000)
    assert response.status_code == 413
    assert TRACEPARENT.fullmatch(response.headers["traceparent"])


def test_incoming_traceparent_keeps_its_trace_id(client: TestClient) -> None:
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    for response in (
        client.post(
            CREATE_PATH, json=body(), headers={"traceparent": f"00-{trace_id}-{span_id}-01"}
        ),
        client.get("/nope", headers={"traceparent": f"00-{trace_id}-{span_id}-00"}),
    ):
        match = TRACEPARENT.fullmatch(response.headers["traceparent"])
        assert match
        assert match.group(1) == trace_id
        assert match.group(2) != span_id


@pytest.mark.parametrize(
    "incoming",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", id="upper-hex"),
        pytest.param("00-" + "0" * 32 + "-00f067aa0ba902b7-01", id="zero-trace-id"),
        pytest.param("00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01", id="short-trace-id"),
        pytest.param("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", id="version-01"),
        pytest.param("", id="empty"),
    ],
)
def test_invalid_incoming_traceparent_is_replaced(client: TestClient, incoming: str) -> None:
    response = client.post(CREATE_PATH, json=body(), headers={"traceparent": incoming})
    assert response.status_code == 202
    outgoing = response.headers["traceparent"]
    match = TRACEPARENT.fullmatch(outgoing)
    assert match
    assert match.group(1) not in incoming.lower()
    assert match.group(1) != "0" * 32


def test_internal_error_is_json_with_a_traceparent(
    app: ASGIApp, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one response a user most needs to report must carry a traceparent too, although
    # Starlette's ServerErrorMiddleware answers it.
    def broken(owner: str, task_id: str) -> None:
        raise RuntimeError("store unavailable")

    monkeypatch.setattr(backend, "get_task", broken)
    client = TestClient(app, headers=AUTH, raise_server_exceptions=False)
    response = client.get(task_path(str(uuid.UUID(int=7))))
    error = assert_error(response, 500, code=500)
    assert "RuntimeError" in error["detail"]
    assert TRACEPARENT.fullmatch(response.headers.get("traceparent", ""))
