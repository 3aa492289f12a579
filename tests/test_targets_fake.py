"""The independent fake and the counting proxy of tests/targets/ do what the contract-run tests
rely on: the faithful variant answers by the spec, and each bug variant really shows its bug, so
a bug the contract suite misses is the suite's miss, not a quiet target."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.testclient import TestClient

from tests.targets.fake import CREATE_PATH, DONE_AT, KEYS, Bug, create_target
from tests.targets.proxy import CountingProxy, could_be_billed
from tests.targets.serving import outside, served

AUTH = {"Authorization": f"Bearer {KEYS[0]}"}
OTHER = {"Authorization": f"Bearer {KEYS[1]}"}
VALID = {"prompt": "A black cat looks at the sky", "image": "https://example.com/cat.jpg"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def client_for(bug: Bug, clock: Clock) -> TestClient:
    return TestClient(create_target(bug, now=clock), headers=AUTH)


@pytest.fixture
def faithful(clock: Clock) -> Iterator[TestClient]:
    with client_for(Bug.NONE, clock) as client:
        yield client


def png(size: tuple[int, int], mode: str = "RGB") -> str:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post(CREATE_PATH, json={**VALID, **fields})
    assert response.status_code in (200, 202), response.text
    return dict(response.json()["task_info"])


def poll(client: TestClient, task_id: str) -> dict[str, Any]:
    """Polls past the fake's throttled first poll; returns the envelope."""
    response = client.get(f"{CREATE_PATH}/{task_id}")
    if response.status_code == 429:
        response = client.get(f"{CREATE_PATH}/{task_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_faithful_fake_creates_polls_and_finishes(faithful: TestClient, clock: Clock) -> None:
    created = faithful.post(CREATE_PATH, json=VALID)
    assert created.status_code == 202
    info = created.json()["task_info"]
    assert info["status"] == "pending"
    assert datetime.fromisoformat(info["created_at"]).utcoffset() is not None
    first = faithful.get(f"{CREATE_PATH}/{info['id']}")
    assert first.status_code == 429
    assert first.headers["retry-after"] == "1"
    clock.now += DONE_AT
    done = poll(faithful, info["id"])
    assert done["task_info"]["status"] == "succeeded"
    assert done["task_info"]["id"] == info["id"]
    assert faithful.get(done["videos"][0]).headers["content-type"] == "video/mp4"
    failed = poll(faithful, create(faithful)["id"])  # every second task fails
    assert failed["task_info"]["status"] == "pending"
    clock.now += DONE_AT
    failed = poll(faithful, failed["task_info"]["id"])
    assert failed["task_info"]["error"]["code"] == 3001
    assert "videos" not in failed
    assert faithful.post(CREATE_PATH, json=VALID).json()["task_info"]["id"] != info["id"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"duration": 7}, "duration"),
        ({"duration": "5"}, "duration"),
        ({"resolution": "480P"}, "resolution"),
        ({"prompt": ""}, "prompt"),
        ({"seed": True}, "seed"),
        ({"image": png((359, 400))}, "image"),
        ({"image": png((400, 400), "RGBA")}, "image"),
        ({"image": "ftp://example.com/a.png"}, "image"),
        ({"audio_url": "https://example.com/a.ogg"}, "audio_url"),
    ],
)
def test_the_faithful_fake_refuses_broken_rules(
    faithful: TestClient, fields: dict[str, Any], named: str
) -> None:
    response = faithful.post(CREATE_PATH, json={**VALID, **fields})
    assert response.status_code == 400
    assert response.json()["error_code"] == 2001
    assert named in response.json()["detail"]


def test_the_faithful_fake_accepts_every_documented_form(faithful: TestClient) -> None:
    response = faithful.post(
        CREATE_PATH,
        json={
            **VALID,
            "image": png((640, 480)),
            "duration": 15,
            "resolution": "1080P",
            "multi_shots": True,
            "shot_type": None,
            "audio_url": "https://example.com/a.mp3",
            "seed": 2_147_483_647,
            "unknown": 1,
        },
    )
    assert response.status_code == 202, response.text


def test_the_faithful_fake_answers_errors_with_a_detail(faithful: TestClient) -> None:
    answers = {
        "bad json": faithful.post(
            CREATE_PATH, content=b"{", headers={"Content-Type": "application/json"}
        ),
        "no key": faithful.post(CREATE_PATH, json=VALID, headers={"Authorization": "k"}),
        "other key": faithful.get(f"{CREATE_PATH}/{create(faithful)['id']}", headers=OTHER),
        "wrong method": faithful.put(CREATE_PATH, json=VALID),
        "unknown path": faithful.get("/vendors/nowhere"),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "bad json": 400,
        "no key": 401,
        "other key": 404,
        "wrong method": 405,
        "unknown path": 404,
    }
    for answer in answers.values():
        assert answer.json()["detail"]
        assert answer.headers["traceparent"].startswith("00-")


def first_create_and_polls(bug: Bug, clock: Clock, polls: int = 3) -> list[Any]:
    """A create and ``polls`` polls after the task should have finished: each answer whole."""
    with client_for(bug, clock) as client:
        created = client.post(CREATE_PATH, json=VALID)
        task_id = created.json()["task_info"]["id"]
        clock.now += DONE_AT
        answers: list[Any] = [created]
        answers += [client.get(f"{CREATE_PATH}/{task_id}") for _ in range(polls)]
        answers.append(client.post(CREATE_PATH, json=VALID))
        answers.append(client.post(CREATE_PATH, content=b"{", headers={"Content-Type": "x/y"}))
        return answers


def test_each_bug_variant_shows_its_bug(clock: Clock) -> None:
    def answers(bug: Bug) -> list[Any]:
        return first_create_and_polls(bug, clock)

    assert answers(Bug.CREATE_200)[0].status_code == 200
    created, _throttled, *polls, _again, _ = answers(Bug.POLL_OTHER_ID)
    assert polls[0].json()["task_info"]["id"] != created.json()["task_info"]["id"]
    created, *_, again, _ = answers(Bug.DUPLICATE_IDS)
    assert again.json()["task_info"]["id"] == created.json()["task_info"]["id"]
    assert "+" not in answers(Bug.NAIVE_TIMESTAMPS)[0].json()["task_info"]["created_at"]
    assert "retry-after" not in answers(Bug.RETRY_AFTER_MISSING)[1].headers
    assert "detail" not in answers(Bug.ERROR_WITHOUT_DETAIL)[-1].json()
    failed = answers(Bug.VIDEOS_ON_FAILED)[2].json()
    assert failed["task_info"]["status"] == "failed"
    assert failed["videos"]
    statuses = [
        answer.json()["task_info"]["status"] for answer in answers(Bug.STATUS_BACKWARDS)[2:4]
    ]
    assert statuses == ["succeeded", "running"]
    assert answers(Bug.STUCK_PENDING)[3].json()["task_info"]["status"] == "pending"
    with client_for(Bug.MALFORMED_JSON_500, clock) as client:
        broken = client.post(
            CREATE_PATH, content=b"{", headers={"Content-Type": "application/json"}
        )
        assert broken.status_code == 500
    between: list[tuple[Bug, dict[str, Any]]] = [
        (Bug.DURATION_BETWEEN, {"duration": 7}),
        (Bug.RESOLUTION_480P, {"resolution": "480P"}),
    ]
    for bug, fields in between:
        with client_for(bug, clock) as client:
            assert client.post(CREATE_PATH, json={**VALID, **fields}).status_code == 202


@pytest.mark.parametrize(
    ("method", "path", "authorization", "body", "billed"),
    [
        ("POST", CREATE_PATH, "Bearer target-key", VALID, True),
        ("post", CREATE_PATH + "/", "bearer  target-key ", VALID, True),
        # A body breaking a documented rule is one a correct server refuses: not billable.
        ("POST", CREATE_PATH, "Bearer target-key", {**VALID, "duration": 7}, False),
        ("POST", CREATE_PATH, "Bearer target-key", {**VALID, "prompt": ""}, False),
        ("POST", CREATE_PATH, "Bearer other", VALID, False),
        ("POST", CREATE_PATH, "target-key", VALID, False),
        ("POST", CREATE_PATH, "Basic target-key", VALID, False),
        ("POST", CREATE_PATH, "Bearer target-key", {"prompt": "a"}, False),
        ("POST", CREATE_PATH, "Bearer target-key", {**VALID, "image": 1}, False),
        ("POST", CREATE_PATH, "Bearer target-key", [VALID], False),
        ("GET", CREATE_PATH, "Bearer target-key", VALID, False),
        ("POST", CREATE_PATH + "/x", "Bearer target-key", VALID, False),
    ],
)
def test_the_proxy_counts_every_create_a_correct_server_would_accept(
    method: str, path: str, authorization: str, body: Any, billed: bool
) -> None:
    raw = json.dumps(body).encode()
    assert could_be_billed(method, path, authorization, raw, "target-key") is billed
    assert not could_be_billed(method, path, authorization, raw[:-1], "target-key")


def test_the_proxy_forwards_and_counts_on_loopback() -> None:
    # Served for real: answers come back whole through the proxy, counted creates are the ones
    # with the real key, and the stand-in for the internet refuses what it is sent.
    proxy = CountingProxy("", KEYS[0])
    with served(create_target()) as target, served(proxy) as base_url, outside() as (url, seen):
        proxy.target = target
        with httpx.Client(base_url=base_url, trust_env=False) as client:
            created = client.post(CREATE_PATH, json=VALID, headers=AUTH)
            foreign = client.post(CREATE_PATH, json=VALID, headers=OTHER)
            refused = client.post(CREATE_PATH, json={"prompt": 1, "image": "x"}, headers=AUTH)
            polled = client.get(f"{CREATE_PATH}/{created.json()['task_info']['id']}", headers=AUTH)
        with httpx.Client(proxy=url, trust_env=False) as client:
            blocked = client.get("http://example.com/video.mp4")
    assert [created.status_code, foreign.status_code, refused.status_code] == [202, 202, 400]
    assert polled.status_code == 429
    assert polled.headers["retry-after"] == "1"
    assert (proxy.count, proxy.accepted) == (1, 1)
    assert blocked.status_code == 403
    assert seen == ["GET http://example.com/video.mp4 HTTP/1.1"]
