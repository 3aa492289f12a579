"""The API's tasks over HTTP: the envelope a create answers, the lifecycle on a manual clock,
result downloads, failed tasks, and ids and plans that follow the seed."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.backend import Backend
from tests.helpers import (
    AUTH,
    BASE_URL,
    CREATE_PATH,
    FAILURE_CODES,
    assert_error,
    body,
    create_task,
    poll_task,
    task_path,
    without_link_tokens,
)

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00")


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")


# --- create --------------------------------------------------------------------------------------


def test_create_returns_a_pending_envelope(client: TestClient, clock: ManualClock) -> None:
    response = client.post(CREATE_PATH, json=body())
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    envelope = response.json()
    assert set(envelope) == {"task_info"}
    info = envelope["task_info"]
    assert set(info) == {"id", "status", "created_at", "updated_at"}
    assert str(uuid.UUID(info["id"])) == info["id"]
    assert uuid.UUID(info["id"]).version == 4
    assert info["status"] == "pending"
    assert info["created_at"] == info["updated_at"] == iso(clock.now())
    assert TIMESTAMP.fullmatch(info["created_at"])


def test_timestamp_shape_matches_the_captured_response(client: TestClient) -> None:
    # ManualClock() starts at 1_790_000_000 s: 2026-09-21T14:13:20 UTC, zero microseconds.
    assert create_task(client)["created_at"] == "2026-09-21T14:13:20.000000+00:00"


def test_each_task_gets_a_new_id(client: TestClient) -> None:
    ids = {create_task(client)["id"] for _ in range(20)}
    assert len(ids) == 20


# --- lifecycle on the manual clock ---------------------------------------------------------------


def test_lifecycle_at_each_plan_boundary(
    client: TestClient, clock: ManualClock, backend: Backend
) -> None:
    info = create_task(client)
    task = backend.store.get(info["id"])
    assert task is not None
    _, starts_running, finishes = task.plan.offsets
    created = task.created_at
    assert 0 < starts_running < finishes

    clock.advance(starts_running - 0.001)
    envelope = poll_task(client, info["id"])
    assert set(envelope) == {"task_info"}
    assert envelope["task_info"]["status"] == "pending"
    assert envelope["task_info"]["updated_at"] == envelope["task_info"]["created_at"]

    clock.advance(0.002)
    envelope = poll_task(client, info["id"])
    assert set(envelope) == {"task_info"}
    assert envelope["task_info"]["status"] == "running"
    assert envelope["task_info"]["created_at"] == info["created_at"]
    assert envelope["task_info"]["updated_at"] == iso(created + starts_running)

    clock.advance(finishes - starts_running - 0.002)
    envelope = poll_task(client, info["id"])
    assert envelope["task_info"]["status"] == "running"
    assert "videos" not in envelope

    clock.advance(0.002)
    envelope = poll_task(client, info["id"])
    assert envelope["task_info"]["status"] == "succeeded"
    assert envelope["task_info"]["updated_at"] == iso(created + finishes)
    assert "error" not in envelope["task_info"]
    video = envelope["videos"][0]
    assert re.fullmatch(rf"{BASE_URL}/files/{info['id']}/[0-9a-f]{{32}}/result_000\.mp4", video)


def test_lifecycle_seen_by_a_polling_client(client: TestClient, clock: ManualClock) -> None:
    info = create_task(client)
    seen: list[tuple[str, str]] = []
    for _ in range(200):  # 20 s of virtual time; a dev-profile task takes about 5 s at most
        task_info = poll_task(client, info["id"])["task_info"]
        if not seen or seen[-1] != (task_info["status"], task_info["updated_at"]):
            seen.append((task_info["status"], task_info["updated_at"]))
        clock.advance(0.1)
    assert [status for status, _ in seen] == ["pending", "running", "succeeded"]
    updated = [stamp for _, stamp in seen]
    assert updated[0] == info["created_at"]
    assert updated[0] < updated[1] < updated[2]
    assert all(TIMESTAMP.fullmatch(stamp) for stamp in updated)


def test_a_finished_task_never_changes(client: TestClient, clock: ManualClock) -> None:
    info = create_task(client)
    clock.advance(60)
    first = poll_task(client, info["id"])
    clock.advance(86_400)
    assert poll_task(client, info["id"]) == first
    assert first["task_info"]["status"] == "succeeded"


# --- the result video ----------------------------------------------------------------------------


@pytest.fixture
def video_url(client: TestClient, clock: ManualClock) -> str:
    info = create_task(client)
    clock.advance(60)
    url: str = poll_task(client, info["id"])["videos"][0]
    return url


def test_video_downloads_as_mp4(client: TestClient, video_url: str) -> None:
    response = client.get(video_url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    content = response.content
    assert len(content) > 1000
    assert int(response.headers["content-length"]) == len(content)
    assert content[4:8] == b"ftyp"


def test_video_head(client: TestClient, video_url: str) -> None:
    full = client.get(video_url)
    response = client.head(video_url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["content-length"] == full.headers["content-length"]
    assert response.content == b""


def test_video_range_request(client: TestClient, video_url: str) -> None:
    full = client.get(video_url).content
    response = client.get(video_url, headers={"Range": "bytes=0-99"})
    assert response.status_code == 206
    assert response.content == full[:100]
    assert response.headers["content-range"] == f"bytes 0-99/{len(full)}"


def test_video_needs_no_api_key(bare: TestClient, video_url: str) -> None:
    assert bare.get(video_url).status_code == 200


def test_video_of_a_task_not_yet_succeeded_is_404(
    client: TestClient, clock: ManualClock, backend: Backend[Any]
) -> None:
    pending = create_task(client)
    link = backend.links.path(pending["id"])  # the link it will have, token and all
    error = assert_error(client.get(link), 404, code=404)
    assert pending["id"] in error["detail"]
    clock.advance(60)
    assert poll_task(client, pending["id"])["videos"] == [BASE_URL + link]
    assert client.get(link).status_code == 200


@pytest.mark.parametrize(
    "task_id",
    [
        pytest.param("3c90c3cc-0d44-4b50-8888-8dd25736052a", id="unknown-id"),
        pytest.param("not-a-task", id="not-a-uuid"),
    ],
)
def test_video_of_an_unknown_task_is_404(
    client: TestClient, backend: Backend[Any], task_id: str
) -> None:
    assert_error(client.get(backend.links.path(task_id)), 404, code=404)


def test_other_file_names_of_a_succeeded_task_are_404(client: TestClient, video_url: str) -> None:
    assert_error(client.get(video_url.replace("result_000", "result_001")), 404, code=404)


# --- failed tasks --------------------------------------------------------------------------------


def test_failing_tasks_end_failed_with_an_error() -> None:
    clock = ManualClock()
    app = create_app(Settings(seed=3, failure_rate=1.0), clock=clock)
    client = TestClient(app, headers=AUTH, base_url=BASE_URL)
    ids = [create_task(client)["id"] for _ in range(8)]
    clock.advance(0.01)
    assert all("error" not in poll_task(client, task_id)["task_info"] for task_id in ids)
    clock.advance(3600)
    for task_id in ids:
        response = client.get(task_path(task_id))
        assert response.status_code == 200
        envelope = response.json()
        assert set(envelope) == {"task_info"}
        info = envelope["task_info"]
        assert info["status"] == "failed"
        assert info["updated_at"] > info["created_at"]
        error = info["error"]
        assert set(error) == {"code", "title", "detail"}
        assert error["code"] in FAILURE_CODES
        assert isinstance(error["title"], str)
        assert error["title"]
        assert isinstance(error["detail"], str)
        assert error["detail"]
        assert client.get(app.backend.links.path(task_id)).status_code == 404


# --- seeding -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    traceparents: list[str]
    ids: list[str]
    polls: list[list[dict[str, Any]]]


def _session(seed: int | None) -> Session:
    """Run a fixed request sequence on a fresh app; return everything it answered."""
    clock = ManualClock()
    client = TestClient(
        create_app(Settings(seed=seed), clock=clock), headers=AUTH, base_url=BASE_URL
    )
    traceparents, ids = [], []
    for fields in ({}, {"duration": 15}, {"resolution": "1080P", "shot_type": "multi"}):
        response = client.post(CREATE_PATH, json=body(**fields))
        traceparents.append(response.headers["traceparent"])
        ids.append(response.json()["task_info"]["id"])
    polls = []
    for step in (0.25, 0.5, 1.0, 1.5, 2.5, 4.0, 30.0):
        clock.advance(step)
        answers = [client.get(task_path(task_id)).text for task_id in ids]
        polls.append([json.loads(without_link_tokens(text)) for text in answers])
    return Session(traceparents, ids, polls)


def test_same_seed_same_answers() -> None:
    first, second = _session(11), _session(11)
    assert first == second
    statuses = {envelope["task_info"]["status"] for polls in first.polls for envelope in polls}
    assert statuses == {"pending", "running", "succeeded"}


def test_different_seed_different_ids() -> None:
    assert set(_session(11).ids).isdisjoint(_session(12).ids)


def test_no_seed_different_ids() -> None:
    assert set(_session(None).ids).isdisjoint(_session(None).ids)
