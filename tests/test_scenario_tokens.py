"""Scenario tokens end to end, over HTTP, by header and by prompt: what the client sees for
each (statuses, errors, timings, rejects, poll errors) and how unknown tokens are refused."""

from __future__ import annotations

import pytest

from mockserver.domain.scenarios import (
    FAILURES,
    POLL_ERROR_STATUSES,
    REJECT_STATUSES,
    SAFETY_FAILURE,
    TOKENS_HELP,
)
from mockserver.server.errors import REALISTIC
from tests.helpers import (
    BASE_URL,
    CREATE_PATH,
    DAY,
    INJECTED,
    SCENARIO_HEADER,
    VIAS,
    Make,
    Via,
    body,
    seconds,
)

FAIL_TOKENS = [f"fail:{code}" for code in FAILURES] + ["fail:safety"]


# --- succeed, fail, slow, stuck -----------------------------------------------------------------


@pytest.mark.parametrize("via", VIAS)
def test_succeed(make: Make, via: Via) -> None:
    fake = make(failure_rate=1.0)  # the token beats the weights
    task_id = fake.create_id("succeed", via)
    detail = fake.task(task_id)
    assert (detail["scenario"], detail["scenario_source"]) == ("succeed", via)
    fake.clock.advance(60)
    response = fake.poll(task_id)
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["task_info"]["status"] == "succeeded"
    assert "error" not in envelope["task_info"]
    assert envelope["videos"] == [BASE_URL + fake.fake.backend.links.path(task_id)]
    assert fake.client.head(envelope["videos"][0]).status_code == 200


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("token", FAIL_TOKENS)
def test_fail_with_a_chosen_code(make: Make, token: str, via: Via) -> None:
    fake = make()
    task_id = fake.create_id(token, via)
    detail = fake.task(task_id)
    assert (detail["scenario"], detail["scenario_source"]) == (token, via)
    assert "error" not in fake.info(task_id)  # no error while it is still pending
    fake.clock.advance(3600)
    response = fake.poll(task_id)
    assert response.status_code == 200  # a failed task is still a successful poll
    envelope = response.json()
    assert set(envelope) == {"task_info"}  # no videos
    info = envelope["task_info"]
    assert info["status"] == "failed"
    expected = SAFETY_FAILURE if token == "fail:safety" else FAILURES[int(token[5:])]
    assert info["error"] == {
        "code": expected.code,
        "title": expected.title,
        "detail": expected.detail,
    }
    assert fake.client.get(fake.fake.backend.links.path(task_id)).status_code == 404


def test_safety_failure_is_code_3005_with_a_safety_detail(make: Make) -> None:
    fake = make()
    task_id = fake.create_id("fail:safety")
    fake.clock.advance(3600)
    error = fake.info(task_id)["error"]
    assert error["code"] == 3005
    assert "safety" in error["detail"].lower()


@pytest.mark.parametrize("via", VIAS)
def test_plain_fail_uses_a_documented_code(make: Make, via: Via) -> None:
    fake = make()
    codes = set()
    for _ in range(30):
        task_id = fake.create_id("fail", via)
        assert fake.task(task_id)["scenario"] == "fail"
        fake.clock.advance(3600)
        error = fake.info(task_id)["error"]
        assert error == {
            "code": error["code"],
            "title": FAILURES[error["code"]].title,
            "detail": FAILURES[error["code"]].detail,
        }
        codes.add(error["code"])
    assert len(codes) > 2  # drawn at random, not always the same one


@pytest.mark.parametrize("via", VIAS)
def test_slow_takes_six_times_as_long(make: Make, via: Via) -> None:
    # Same seed, same request order: both plans draw the same values, so the slow one is the
    # normal one stretched six times, step by step.
    normal, slow = make(seed=5), make(seed=5)
    normal_id, slow_id = normal.create_id(), slow.create_id("slow", via)
    assert normal.task(normal_id)["scenario"] is None
    assert (slow.task(slow_id)["scenario"], slow.task(slow_id)["scenario_source"]) == ("slow", via)
    plain, stretched = normal.duration(normal_id), slow.duration(slow_id)
    assert stretched == pytest.approx(6 * plain, rel=1e-4)
    plain_steps = [seconds(s["at"]) for s in normal.task(normal_id)["plan"]["steps"]]
    slow_steps = [seconds(s["at"]) for s in slow.task(slow_id)["plan"]["steps"]]
    for a, b in zip(plain_steps[1:], slow_steps[1:], strict=True):
        assert b - slow_steps[0] == pytest.approx(6 * (a - plain_steps[0]), rel=1e-4)

    # What a polling client sees: done on the usual schedule versus six times later.
    for fake in (normal, slow):
        fake.clock.advance(plain + 0.01)
    assert normal.info(normal_id)["status"] == "succeeded"
    assert slow.info(slow_id)["status"] in ("pending", "running")
    slow.clock.advance(stretched - plain - 0.02)
    assert slow.info(slow_id)["status"] == "running"
    slow.clock.advance(0.02)
    assert slow.info(slow_id)["status"] == "succeeded"


@pytest.mark.parametrize("via", VIAS)
def test_stuck_never_finishes(make: Make, via: Via) -> None:
    fake = make()
    task_id = fake.create_id("stuck", via)
    detail = fake.task(task_id)
    assert (detail["scenario"], detail["scenario_source"]) == ("stuck", via)
    assert detail["plan"]["finishes"] is False
    assert [step["status"] for step in detail["plan"]["steps"]] == ["pending", "running"]
    fake.clock.advance(60)
    running = fake.info(task_id)
    assert running["status"] == "running"
    for _ in range(3):
        fake.clock.advance(10 * DAY)
        assert fake.info(task_id) == running  # not even updated_at moves
    assert fake.client.get(fake.fake.backend.links.path(task_id)).status_code == 404


# --- reject and poll-error ----------------------------------------------------------------------


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("status", REJECT_STATUSES)
def test_reject_answers_the_create_and_makes_no_task(make: Make, status: int, via: Via) -> None:
    fake = make()
    fake.create_id()
    response = fake.create(f"reject:{status}", via)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers[INJECTED] == f"scenario reject:{status}"
    assert "traceparent" in response.headers
    error = response.json()
    title, detail = REALISTIC[status]
    assert error == {"error_code": error["error_code"], "title": title, "detail": detail}
    assert isinstance(error["error_code"], int)
    if status in (429, 503):
        assert int(response.headers["retry-after"]) >= 1
    else:
        assert "retry-after" not in response.headers
    assert fake.count() == 1  # only the first task exists
    journal = fake.client.get("/_mock/journal").json()["entries"]
    assert journal[-1]["status"] == status


def test_reject_401_challenges_like_a_real_401(make: Make) -> None:
    # RFC 9110 15.5.2: a 401 MUST carry WWW-Authenticate. The fake's own 401 and an injected
    # fault 401 do; a rejected create should look no different to the client.
    fake = make()
    real = fake.client.post(CREATE_PATH, json=body(), headers={"Authorization": "Basic x"})
    assert real.headers["www-authenticate"] == "Bearer"
    injected = fake.create("reject:401")
    assert injected.status_code == 401
    assert injected.headers.get("www-authenticate") == "Bearer"


def test_reject_400_carries_the_business_code_of_a_real_400(make: Make) -> None:
    # README: error_code is the business code where one is known (2001 for an invalid request).
    fake = make()
    real = fake.create(duration=7)
    assert (real.status_code, real.json()["error_code"]) == (400, 2001)
    injected = fake.create("reject:400")
    assert injected.status_code == 400
    assert injected.json()["error_code"] == 2001


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("status", POLL_ERROR_STATUSES)
def test_poll_error_until_the_task_has_finished(make: Make, status: int, via: Via) -> None:
    fake = make()
    start = fake.clock.now()
    task_id = fake.create_id(f"poll-error:{status}", via)
    detail = fake.task(task_id)
    assert (detail["scenario"], detail["scenario_source"]) == (f"poll-error:{status}", via)
    finish = fake.duration(task_id)
    for moment in (0.0, finish / 3, finish - 0.01):
        fake.clock.advance(start + moment - fake.clock.now())
        response = fake.poll(task_id)
        assert response.status_code == status
        assert response.headers[INJECTED] == f"scenario poll-error:{status}"
        title, text = REALISTIC[status]
        assert response.json() == {"error_code": status, "title": title, "detail": text}
        assert ("retry-after" in response.headers) == (status in (429, 503))
    fake.clock.advance(0.02)
    response = fake.poll(task_id)
    assert response.status_code == 200
    assert INJECTED not in response.headers
    assert response.json()["task_info"]["status"] == "succeeded"
    assert fake.client.head(response.json()["videos"][0]).status_code == 200


def test_poll_error_ends_when_the_control_plane_forces_an_outcome(make: Make) -> None:
    fake = make()
    task_id = fake.create_id("poll-error:502")
    assert fake.poll(task_id).status_code == 502
    assert fake.client.post(f"/_mock/tasks/{task_id}/fail", json={"code": 4008}).status_code == 200
    assert fake.info(task_id)["error"]["code"] == 4008


def test_poll_error_never_shows_another_key_the_task(make: Make) -> None:
    fake = make()
    task_id = fake.create_id("poll-error:503")
    stranger = fake.poll(task_id, key="someone-else")
    assert stranger.status_code == 404
    assert stranger.json()["error_code"] == 2005


# --- unknown tokens -----------------------------------------------------------------------------

BAD_TOKENS = [
    "explode",
    "fail:3006",
    "fail:2001",
    "fail:unsafe",
    "reject:404",
    "reject:200",
    "reject",
    "poll-error:404",
    "poll-error",
    "slow:2",
    "stuck:forever",
    "succeed:now",
]


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_unknown_header_token_is_a_400_naming_the_header(make: Make, token: str) -> None:
    fake = make()
    response = fake.create(token, "header")
    assert response.status_code == 400
    error = response.json()
    assert set(error) == {"error_code", "title", "detail"}  # the documented keys only
    assert error["error_code"] == 2001
    assert error["detail"].startswith(f"{SCENARIO_HEADER}: unknown scenario {token!r}")
    assert TOKENS_HELP in error["detail"]
    assert fake.count() == 0


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_unknown_prompt_token_is_a_400_naming_prompt(make: Make, token: str) -> None:
    fake = make()
    response = fake.create(token, "prompt")
    assert response.status_code == 400
    error = response.json()
    assert error["error_code"] == 2001
    assert error["detail"].startswith("prompt: unknown scenario")
    assert TOKENS_HELP in error["detail"]
    assert fake.count() == 0


def test_the_help_lists_every_valid_token() -> None:
    for token in ("succeed", "fail", "slow", "stuck", "safety", "3001-3005", "4002", "4008"):
        assert token in TOKENS_HELP
    for status in REJECT_STATUSES:
        assert str(status) in TOKENS_HELP.split("reject:")[1].split(">")[0]
    for status in POLL_ERROR_STATUSES:
        assert str(status) in TOKENS_HELP.split("poll-error:")[1]


def test_tokens_are_case_and_space_insensitive_in_the_header(make: Make) -> None:
    fake = make()
    task_id = fake.create_id("  FAIL:3002 ")
    assert fake.task(task_id)["scenario"] == "fail:3002"
