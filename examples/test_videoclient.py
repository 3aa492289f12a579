"""Tests of ``videoclient`` against wan-mock, the way an app's own test suite would use it.

``wan_mock`` answers every httpx request to https://api.mulerouter.ai in-process; ``wan_server``
is a real server on a loopback port. Both run on a virtual clock: the client's ``sleep`` is
``wan_mock.advance``, so a poll loop that would wait minutes finishes at once and no test
ever sleeps.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from videoclient import API_PATH, APIError, TaskFailed, TaskTimeout, VideoClient

from mockserver.testing.api import WanMock

API_KEY = "test-key"
PROMPT = "A black cat looks curiously at the sky"
IMAGE = "https://example.com/cat.jpg"


def client_for(mock: WanMock, *, max_retries: int = 5) -> VideoClient:
    """A client of the fake whose every pause moves the fake's clock instead of sleeping."""
    return VideoClient(API_KEY, base_url=mock.base_url, sleep=mock.advance, max_retries=max_retries)


class Recorder:
    """A sleeper that advances the fake's clock and remembers every pause."""

    def __init__(self, mock: WanMock) -> None:
        self.mock = mock
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.mock.advance(seconds)


def is_mp4(path: Path) -> bool:
    """An ISO media file starts with a box whose type is ``ftyp``."""
    head = path.read_bytes()[:12]
    return len(head) == 12 and head[4:8] == b"ftyp" and int.from_bytes(head[:4], "big") >= 8


def clock_seconds(mock: WanMock) -> float:
    return mock.now().unix


def test_create_wait_download_gives_a_playable_mp4(wan_mock: WanMock, tmp_path: Path) -> None:
    with client_for(wan_mock) as client:
        task_id = client.create(PROMPT, IMAGE)
        result = client.wait(task_id, poll_interval=1.0, max_wait=60.0)
        video = client.download(result.video_url, tmp_path / "cat.mp4")

    assert result.task_id == task_id
    assert result.status == "succeeded"
    assert result.video_url.startswith(wan_mock.base_url)
    assert is_mp4(video)
    assert not (tmp_path / "cat.mp4.part").exists()
    wan_mock.assert_called("POST", API_PATH, times=1)
    wan_mock.assert_called("GET", f"/files/{task_id}/", times=1)


def test_the_request_carries_the_prompt_and_options(wan_mock: WanMock) -> None:
    with client_for(wan_mock) as client:
        task_id = client.create(PROMPT, IMAGE, resolution="1080P", duration=10, seed=7)

    task = wan_mock.assert_task_created(prompt=PROMPT, resolution="1080P", duration=10)
    assert task.id == task_id
    assert task.request["seed"] == 7


@pytest.mark.parametrize(
    ("code", "words"),
    [
        pytest.param(3002, "timed out", marks=pytest.mark.wan_mock(scenario="fail:3002")),
        pytest.param(3005, "safety", marks=pytest.mark.wan_mock(scenario="fail:safety")),
    ],
)
def test_a_failed_task_raises_with_its_code_and_reason(
    wan_mock: WanMock, code: int, words: str
) -> None:
    with client_for(wan_mock) as client:
        task_id = client.create(PROMPT, IMAGE)
        with pytest.raises(TaskFailed) as failed:
            client.wait(task_id, max_wait=60.0)

    assert failed.value.task_id == task_id
    assert failed.value.code == code
    assert failed.value.title
    assert failed.value.detail is not None
    assert words in failed.value.detail


@pytest.mark.wan_mock(scenario="reject:429")
def test_a_throttled_create_is_retried_after_retry_after(wan_mock: WanMock) -> None:
    pauses: list[float] = []

    def sleep_then_lift_the_throttle(seconds: float) -> None:
        pauses.append(seconds)
        wan_mock.advance(seconds)
        if len(pauses) == 2:
            wan_mock.configure(rules=[])  # the API stops throttling

    with VideoClient(API_KEY, sleep=sleep_then_lift_the_throttle) as client:
        task_id = client.create(PROMPT, IMAGE)

    assert pauses == [1.0, 1.0]  # the fake's Retry-After for a 429, honoured exactly
    wan_mock.assert_called("POST", API_PATH, times=3)
    assert [task.id for task in wan_mock.tasks()] == [task_id]


@pytest.mark.wan_mock(scenario="reject:429")
def test_a_create_throttled_for_good_gives_up_after_the_retries(wan_mock: WanMock) -> None:
    with client_for(wan_mock, max_retries=3) as client, pytest.raises(APIError) as error:
        client.create(PROMPT, IMAGE)

    assert error.value.status == 429
    assert error.value.retry_after == 1.0
    assert error.value.title == "Too Many Requests"
    wan_mock.assert_called("POST", API_PATH, times=4)  # one try and three retries
    assert wan_mock.tasks() == []


@pytest.mark.wan_mock(scenario="reject:402")
def test_a_create_error_that_retrying_cannot_fix_is_raised_at_once(wan_mock: WanMock) -> None:
    with client_for(wan_mock) as client, pytest.raises(APIError) as error:
        client.create(PROMPT, IMAGE)

    assert (error.value.status, error.value.code) == (402, 402)
    assert error.value.detail is not None
    assert "balance" in error.value.detail
    wan_mock.assert_called("POST", API_PATH, times=1)


@pytest.mark.wan_mock(scenario="poll-error:503")
def test_polls_answered_503_are_retried_until_the_task_is_done(wan_mock: WanMock) -> None:
    sleeper = Recorder(wan_mock)
    with client_for(wan_mock) as client:
        task_id = client.create(PROMPT, IMAGE)
        result = client.wait(task_id, poll_interval=1.0, max_wait=120.0, sleep=sleeper)

    assert result.status == "succeeded"
    assert 5.0 in sleeper.pauses  # the 503's Retry-After
    statuses = [call.status for call in wan_mock.calls if call.method == "GET"]
    assert 503 in statuses
    assert statuses[-1] == 200


@pytest.mark.wan_mock(faults=[{"target": "poll", "rate": 0.4, "drop": True}])
def test_dropped_connections_while_polling_are_retried(wan_mock: WanMock) -> None:
    with client_for(wan_mock, max_retries=8) as client:
        result = client.wait(client.create(PROMPT, IMAGE), poll_interval=0.5, max_wait=120.0)

    assert result.status == "succeeded"
    polls = [call for call in wan_mock.calls if call.method == "GET"]
    assert any(call.status != 200 for call in polls)  # some polls were cut off, and retried


@pytest.mark.wan_mock(scenario="stuck")
def test_a_stuck_task_times_out_after_max_wait(wan_mock: WanMock) -> None:
    started = clock_seconds(wan_mock)
    with client_for(wan_mock) as client:
        task_id = client.create(PROMPT, IMAGE)
        with pytest.raises(TaskTimeout) as timeout:
            client.wait(task_id, poll_interval=2.0, max_interval=30.0, max_wait=600.0)

    assert timeout.value.task_id == task_id
    assert timeout.value.last_status == "running"
    assert timeout.value.waited == pytest.approx(600.0)
    assert clock_seconds(wan_mock) - started == pytest.approx(600.0)
    # Backoff: 2, 3, 4.5, ... capped at 30 s, so ten minutes take about two dozen polls.
    polls = [call for call in wan_mock.calls if call.method == "GET"]
    assert 15 <= len(polls) <= 30


@pytest.mark.wan_mock(timing="realistic")
def test_minutes_of_realistic_rendering_pass_instantly(wan_mock: WanMock) -> None:
    started, wall = clock_seconds(wan_mock), time.perf_counter()
    with client_for(wan_mock) as client:
        result = client.wait(client.create(PROMPT, IMAGE), poll_interval=5.0, max_wait=900.0)

    assert result.status == "succeeded"
    assert clock_seconds(wan_mock) - started >= 60  # the documented one to five minutes
    assert time.perf_counter() - wall < 5  # and none of them on the wall clock


@pytest.mark.wan_mock(profile="legacy")
def test_the_legacy_dialect_still_succeeds(wan_mock: WanMock, tmp_path: Path) -> None:
    with client_for(wan_mock) as client:
        task_id = client.create(PROMPT, IMAGE)
        assert client.status(task_id)["task_info"]["status"] == "pending"
        result = client.wait(task_id, max_wait=60.0)
        video = client.download(result.video_url, tmp_path / "legacy.mp4")

    assert result.status == "completed"
    assert result.created_at is not None
    assert result.created_at.endswith("Z")
    assert is_mp4(video)


@pytest.mark.wan_mock(profile="chaos", failure_rate=0.5)
def test_every_dialect_variation_ends_in_a_result_or_a_failure(wan_mock: WanMock) -> None:
    statuses: list[str] = []
    codes: list[int | str | None] = []
    with client_for(wan_mock) as client:
        for index in range(12):
            task_id = client.create(f"{PROMPT}, take {index}", IMAGE)
            try:
                statuses.append(client.wait(task_id, max_wait=60.0).status)
            except TaskFailed as failed:
                codes.append(failed.code)  # found in task_info.error or the top-level error

    assert statuses  # some succeeded, whichever spelling the fake picked
    assert set(statuses) <= {"succeeded", "completed"}
    assert codes  # and some failed, every one with a documented code
    assert set(codes) <= {3001, 3002, 3003, 3004, 3005, 4002, 4008}


def test_queued_and_forced_outcomes(wan_mock: WanMock) -> None:
    wan_mock.queue("fail:4008")
    with client_for(wan_mock) as client:
        doomed = client.create(PROMPT, IMAGE)
        forced = client.create(PROMPT, IMAGE)
        wan_mock.fail(forced, 3003)
        fine = client.create(PROMPT, IMAGE)

        with pytest.raises(TaskFailed) as queued:
            client.wait(doomed, max_wait=60.0)
        with pytest.raises(TaskFailed) as failed_now:
            client.wait(forced, max_wait=0.0)
        assert client.wait(fine, max_wait=60.0).status == "succeeded"

    assert queued.value.code == 4008
    assert failed_now.value.code == 3003


def test_the_same_client_against_a_real_server(wan_server: WanMock, tmp_path: Path) -> None:
    with client_for(wan_server) as client:
        task_id = client.create(PROMPT, IMAGE, duration=5)
        result = client.wait(task_id, poll_interval=1.0, max_wait=60.0)
        video = client.download(result.video_url, tmp_path / "served.mp4")

    assert result.video_url.startswith(wan_server.base_url)
    assert is_mp4(video)
    wan_server.assert_task_created(prompt=PROMPT, duration=5)


@pytest.mark.wan_mock(scenario="fail:safety")
def test_a_real_server_takes_the_marker_too(wan_server: WanMock) -> None:
    with client_for(wan_server) as client, pytest.raises(TaskFailed) as failed:
        client.wait(client.create(PROMPT, IMAGE), max_wait=60.0)

    assert failed.value.code == 3005
