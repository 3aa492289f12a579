"""The API's behaviour over HTTP: the task envelope, the lifecycle on a manual clock, result
downloads, failures, auth, isolation between keys, routing errors, traceparent, seeding."""

from __future__ import annotations

import io
import json
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from httpx2 import Response
from PIL import Image
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.backend import Backend
from mockserver.domain.contract import load_contract
from tests.helpers import AUTH, CREATE_PATH, b64, body

BASE_URL = "http://wan-mock.test"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00")
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01")
FAILURE_CODES = {3001, 3002, 3003, 3004, 3005, 4002, 4008}


def task_path(task_id: str) -> str:
    return f"{CREATE_PATH}/{task_id}"


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post(CREATE_PATH, json=body(**fields))
    assert response.status_code == 202, response.text
    return dict(response.json()["task_info"])


def poll(client: TestClient, task_id: str) -> dict[str, Any]:
    response = client.get(task_path(task_id))
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_json_error(response: Response, status: int, error_code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["error_code"] == error_code
    assert isinstance(error["title"], str)
    assert error["title"]
    assert isinstance(error["detail"], str)
    assert error["detail"]
    return dict(error)


@pytest.fixture
def bare(app: ASGIApp) -> Iterator[TestClient]:
    """A client that sends no Authorization header unless told to."""
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


def client_for(app: ASGIApp, key: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {key}"}, base_url=BASE_URL)


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
    assert create(client)["created_at"] == "2026-09-21T14:13:20.000000+00:00"


def test_each_task_gets_a_new_id(client: TestClient) -> None:
    ids = {create(client)["id"] for _ in range(20)}
    assert len(ids) == 20


# --- lifecycle on the manual clock ---------------------------------------------------------------


def test_lifecycle_at_each_plan_boundary(
    client: TestClient, clock: ManualClock, backend: Backend
) -> None:
    info = create(client)
    task = backend.store.get(info["id"])
    assert task is not None
    _, starts_running, finishes = task.plan.offsets
    created = task.created_at
    assert 0 < starts_running < finishes

    clock.advance(starts_running - 0.001)
    envelope = poll(client, info["id"])
    assert set(envelope) == {"task_info"}
    assert envelope["task_info"]["status"] == "pending"
    assert envelope["task_info"]["updated_at"] == envelope["task_info"]["created_at"]

    clock.advance(0.002)
    envelope = poll(client, info["id"])
    assert set(envelope) == {"task_info"}
    assert envelope["task_info"]["status"] == "running"
    assert envelope["task_info"]["created_at"] == info["created_at"]
    assert envelope["task_info"]["updated_at"] == iso(created + starts_running)

    clock.advance(finishes - starts_running - 0.002)
    envelope = poll(client, info["id"])
    assert envelope["task_info"]["status"] == "running"
    assert "videos" not in envelope

    clock.advance(0.002)
    envelope = poll(client, info["id"])
    assert envelope["task_info"]["status"] == "succeeded"
    assert envelope["task_info"]["updated_at"] == iso(created + finishes)
    assert "error" not in envelope["task_info"]
    assert envelope["videos"] == [f"{BASE_URL}/files/{info['id']}/result_000.mp4"]


def test_lifecycle_seen_by_a_polling_client(client: TestClient, clock: ManualClock) -> None:
    info = create(client)
    seen: list[tuple[str, str]] = []
    for _ in range(200):  # 20 s of virtual time; a dev-profile task takes about 5 s at most
        task_info = poll(client, info["id"])["task_info"]
        if not seen or seen[-1] != (task_info["status"], task_info["updated_at"]):
            seen.append((task_info["status"], task_info["updated_at"]))
        clock.advance(0.1)
    assert [status for status, _ in seen] == ["pending", "running", "succeeded"]
    updated = [stamp for _, stamp in seen]
    assert updated[0] == info["created_at"]
    assert updated[0] < updated[1] < updated[2]
    assert all(TIMESTAMP.fullmatch(stamp) for stamp in updated)


def test_a_finished_task_never_changes(client: TestClient, clock: ManualClock) -> None:
    info = create(client)
    clock.advance(60)
    first = poll(client, info["id"])
    clock.advance(86_400)
    assert poll(client, info["id"]) == first
    assert first["task_info"]["status"] == "succeeded"


# --- the result video ----------------------------------------------------------------------------


@pytest.fixture
def video_url(client: TestClient, clock: ManualClock) -> str:
    info = create(client)
    clock.advance(60)
    url: str = poll(client, info["id"])["videos"][0]
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
    client: TestClient, clock: ManualClock, video_url: str
) -> None:
    done_id = video_url.split("/")[-2]
    pending = create(client)
    response = client.get(video_url.replace(done_id, pending["id"]))
    error = assert_json_error(response, 404, 404)
    assert pending["id"] in error["detail"]
    clock.advance(60)
    assert client.get(video_url.replace(done_id, pending["id"])).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/files/3c90c3cc-0d44-4b50-8888-8dd25736052a/result_000.mp4", id="unknown-id"),
        pytest.param("/files/not-a-task/result_000.mp4", id="not-a-uuid"),
    ],
)
def test_video_of_an_unknown_task_is_404(client: TestClient, path: str) -> None:
    assert_json_error(client.get(path), 404, 404)


def test_other_file_names_of_a_succeeded_task_are_404(client: TestClient, video_url: str) -> None:
    assert_json_error(client.get(video_url.replace("result_000", "result_001")), 404, 404)


# --- failed tasks --------------------------------------------------------------------------------


def test_failing_tasks_end_failed_with_an_error() -> None:
    clock = ManualClock()
    app = create_app(Settings(seed=3, failure_rate=1.0), clock=clock)
    client = TestClient(app, headers=AUTH, base_url=BASE_URL)
    ids = [create(client)["id"] for _ in range(8)]
    clock.advance(0.01)
    assert all("error" not in poll(client, task_id)["task_info"] for task_id in ids)
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
        assert client.get(f"/files/{task_id}/result_000.mp4").status_code == 404


# --- auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        pytest.param(None, "Missing Authorization header", id="missing"),
        pytest.param("Basic dXNlcjpwdw==", "expected 'Bearer <key>'", id="basic"),
        pytest.param("Bearer ", "expected 'Bearer <key>'", id="bearer-empty"),
        pytest.param("Bearer    ", "expected 'Bearer <key>'", id="bearer-spaces"),
        pytest.param("Bearer", "expected 'Bearer <key>'", id="bearer-only"),
        pytest.param("test-key", "expected 'Bearer <key>'", id="raw-key"),
        pytest.param("Token test-key", "expected 'Bearer <key>'", id="token-scheme"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_bad_authorization_is_401(
    bare: TestClient, header: str | None, message: str, method: str
) -> None:
    headers = {} if header is None else {"Authorization": header}
    if method == "POST":
        response = bare.post(CREATE_PATH, json=body(), headers=headers)
    else:
        response = bare.get(task_path(str(uuid.uuid4())), headers=headers)
    error = assert_json_error(response, 401, 401)
    assert error["title"] == "Unauthorized"
    assert message in error["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_auth_is_checked_before_the_body(bare: TestClient) -> None:
    response = bare.post(CREATE_PATH, content=b"{not json")
    assert_json_error(response, 401, 401)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("bearer k", id="lower-case"),
        pytest.param("BEARER k", id="upper-case"),
        pytest.param("Bearer  k ", id="extra-spaces"),
    ],
)
def test_scheme_is_case_insensitive(bare: TestClient, header: str) -> None:
    response = bare.post(CREATE_PATH, json=body(), headers={"Authorization": header})
    assert response.status_code == 202


def test_configured_keys() -> None:
    app = create_app(Settings(seed=1, api_keys=("k1",)), clock=ManualClock())
    good = client_for(app, "k1").post(CREATE_PATH, json=body())
    assert good.status_code == 202
    task_id = good.json()["task_info"]["id"]
    assert client_for(app, "k1").get(task_path(task_id)).status_code == 200
    for response in (
        client_for(app, "k2").post(CREATE_PATH, json=body()),
        client_for(app, "k2").get(task_path(task_id)),
    ):
        error = assert_json_error(response, 401, 401)
        assert error["detail"] == "Invalid API key"
        assert response.headers["www-authenticate"] == "Bearer"


# --- isolation and unknown tasks -----------------------------------------------------------------


def test_another_keys_task_looks_exactly_like_an_unknown_one(app: ASGIApp) -> None:
    owner, other = client_for(app, "key-a"), client_for(app, "key-b")
    task_id = create(owner)["id"]
    unknown_id = str(uuid.UUID(int=random.Random(9).getrandbits(128), version=4))

    foreign = other.get(task_path(task_id))
    missing = other.get(task_path(unknown_id))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.text.replace(task_id, "<id>") == missing.text.replace(unknown_id, "<id>")
    foreign_headers = {k: v for k, v in foreign.headers.items() if k != "traceparent"}
    missing_headers = {k: v for k, v in missing.headers.items() if k != "traceparent"}
    assert foreign_headers == missing_headers
    assert owner.get(task_path(task_id)).status_code == 200


def test_unknown_task_is_404_2005(client: TestClient) -> None:
    task_id = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    error = assert_json_error(client.get(task_path(task_id)), 404, 2005)
    assert error == {
        "error_code": 2005,
        "title": "Task Not Found",
        "detail": f"Task {task_id} does not exist",
    }


@pytest.mark.parametrize(
    "task_id",
    [
        pytest.param("not-a-uuid", id="words"),
        pytest.param("12345", id="digits"),
        pytest.param("3C90C3CC-0D44-4B50-8888-8DD25736052A", id="upper-case-uuid"),
        pytest.param("%00", id="nul"),
    ],
)
def test_task_id_that_is_not_a_known_uuid_is_404(client: TestClient, task_id: str) -> None:
    error = assert_json_error(client.get(task_path(task_id)), 404, 2005)
    assert "does not exist" in error["detail"]


# --- routing errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/", id="root"),
        pytest.param("/nope", id="nope"),
        pytest.param("/vendors/alibaba/v1/wan2.5-i2v/generation", id="other-model"),
        pytest.param(CREATE_PATH + "/a/b", id="too-deep"),
    ],
)
def test_unknown_route_is_404_json(client: TestClient, path: str) -> None:
    error = assert_json_error(client.get(path), 404, 404)
    assert error["title"] == "Not Found"
    assert path in error["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        pytest.param("PUT", CREATE_PATH, {"POST"}, id="put-create"),
        pytest.param("DELETE", CREATE_PATH, {"POST"}, id="delete-create"),
        pytest.param("PATCH", CREATE_PATH, {"POST"}, id="patch-create"),
        pytest.param("GET", CREATE_PATH, {"POST"}, id="get-create"),
        pytest.param("POST", task_path(str(uuid.UUID(int=1))), {"GET", "HEAD"}, id="post-task"),
        pytest.param("DELETE", task_path(str(uuid.UUID(int=1))), {"GET", "HEAD"}, id="delete-task"),
        pytest.param("POST", "/files/x/result_000.mp4", {"GET", "HEAD"}, id="post-file"),
    ],
)
def test_wrong_method_is_405_json_with_allow(
    client: TestClient, method: str, path: str, allowed: set[str]
) -> None:
    response = client.request(method, path)
    error = assert_json_error(response, 405, 405)
    assert error["title"] == "Method Not Allowed"
    assert method in error["detail"]
    assert {part.strip() for part in response.headers["allow"].split(",")} == allowed


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
    error = assert_json_error(response, 500, 500)
    assert "RuntimeError" in error["detail"]
    assert TRACEPARENT.fullmatch(response.headers.get("traceparent", ""))


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
        polls.append([poll(client, task_id) for task_id in ids])
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


# --- contract and examples -----------------------------------------------------------------------


def test_openapi_document_is_served(bare: TestClient) -> None:
    response = bare.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert CREATE_PATH in document["paths"]
    assert document == load_contract()


def _vendor_examples() -> dict[str, dict[str, Any]]:
    operation = load_contract()["paths"][CREATE_PATH]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    return {name: example["value"] for name, example in examples.items()}


VENDOR_EXAMPLES = _vendor_examples()


def test_the_contract_has_the_three_vendor_examples() -> None:
    assert set(VENDOR_EXAMPLES) == {"basic", "lastFrame", "multiShot"}


@pytest.mark.parametrize("name", sorted(VENDOR_EXAMPLES))
def test_vendor_example_is_accepted(client: TestClient, backend: Backend, name: str) -> None:
    example = VENDOR_EXAMPLES[name]
    response = client.post(CREATE_PATH, json=example)
    assert response.status_code == 202, response.text
    task = backend.store.get(response.json()["task_info"]["id"])
    assert task is not None
    assert task.request.prompt == example["prompt"]
    assert task.request.duration == example.get("duration", 5)
    assert task.request.resolution == example.get("resolution", "720P")
    assert (task.request.last_frame is not None) == ("last_frame" in example)
    assert task.request.multi_shot == (example.get("multi_shots") == "multi")


# --- big bodies ----------------------------------------------------------------------------------


def test_one_megabyte_base64_image_is_accepted(client: TestClient, backend: Backend) -> None:
    # Above bodies.OFFLOAD_BYTES (256 KiB): decoded and checked on a worker thread.
    pixels = random.Random(3).randbytes(640 * 480 * 3)  # noise: the PNG stays ~0.9 MB
    buffer = io.BytesIO()
    Image.frombytes("RGB", (640, 480), pixels).save(buffer, format="PNG")
    value = b64(buffer.getvalue())
    assert len(value) > 1_000_000
    response = client.post(CREATE_PATH, json=body(image=value, last_frame=value))
    assert response.status_code == 202, response.text
    task = backend.store.get(response.json()["task_info"]["id"])
    assert task is not None
    assert (task.request.image.format, task.request.image.width) == ("PNG", 640)
    assert task.request.image.size_bytes == len(buffer.getvalue())


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_declared_non_json_content_type_is_rejected(
    client: TestClient, content_type: str
) -> None:
    response = client.post(
        CREATE_PATH, content=json.dumps(body()), headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    error = response.json()
    assert (error["field"], error["rule"]) == ("Content-Type", "media_type")
    assert content_type.split(";")[0] in error["detail"]


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
)
def test_json_or_absent_content_type_is_accepted(
    client: TestClient, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post(CREATE_PATH, content=json.dumps(body()).encode(), headers=headers)
    assert response.status_code == 202


@pytest.mark.parametrize("path", [CREATE_PATH + "/", CREATE_PATH + "/{id}/"])
def test_trailing_slashes_are_json_404s_not_redirects(client: TestClient, path: str) -> None:
    task_id = client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
    response = client.get(path.format(id=task_id), follow_redirects=False)
    assert response.status_code == 404
    assert response.json()["error_code"] == 404


def test_task_ids_are_case_insensitive(client: TestClient) -> None:
    task_id = client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
    response = client.get(f"{CREATE_PATH}/{task_id.upper()}")
    assert response.status_code == 200
    assert response.json()["task_info"]["id"] == task_id
