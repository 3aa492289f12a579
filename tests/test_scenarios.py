"""Scenarios end to end, over HTTP: every token by header and by prompt, what the client sees
(statuses, errors, timings, rejects, poll errors), how unknown tokens are refused, and which
source wins (header > prompt > queue > config rule > weights), as the control plane reports.

Most tests run the app in-process on a ManualClock; one runs a real server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx
import httpx2
import pytest
from starlette.testclient import TestClient

from mockserver import Control, ManualClock, Settings, create_app
from mockserver.domain.behaviour import Limits, Rule
from mockserver.domain.scenarios import (
    FAILURES,
    POLL_ERROR_STATUSES,
    REJECT_STATUSES,
    SAFETY_FAILURE,
    TOKENS_HELP,
)
from mockserver.server.errors import REALISTIC
from tests.helpers import AUTH, CREATE_PATH, body
from tests.server_process import running_server

BASE = "http://wan-mock.test"
HEADER = "X-Wan-Mock-Scenario"
INJECTED = "x-wan-mock-injected"
DAY = 86_400.0
Via = Literal["header", "prompt"]
VIAS: tuple[Via, ...] = ("header", "prompt")
FAIL_TOKENS = [f"fail:{code}" for code in FAILURES] + ["fail:safety"]


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


@dataclass
class Fake:
    """One in-process fake, its clock, and the calls these tests make."""

    client: TestClient
    clock: ManualClock

    def create(
        self,
        token: str | None = None,
        via: Via = "header",
        *,
        key: str | None = None,
        **fields: Any,
    ) -> httpx2.Response:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        if token is not None and via == "header":
            headers[HEADER] = token
        if token is not None and via == "prompt":
            fields["prompt"] = f"A lighthouse at dusk [wan-mock:{token}] slow pan"
        return self.client.post(CREATE_PATH, json=body(**fields), headers=headers)

    def create_id(self, token: str | None = None, via: Via = "header", **fields: Any) -> str:
        response = self.create(token, via, **fields)
        assert response.status_code == 202, response.text
        task_id: str = response.json()["task_info"]["id"]
        return task_id

    def poll(self, task_id: str, key: str | None = None) -> httpx2.Response:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return self.client.get(f"{CREATE_PATH}/{task_id}", headers=headers)

    def info(self, task_id: str) -> dict[str, Any]:
        response = self.poll(task_id)
        assert response.status_code == 200, response.text
        info: dict[str, Any] = response.json()["task_info"]
        return info

    def task(self, task_id: str) -> dict[str, Any]:
        """The control plane's view: scenario, source, plan and history."""
        response = self.client.get(f"/_mock/tasks/{task_id}")
        assert response.status_code == 200, response.text
        detail: dict[str, Any] = response.json()
        return detail

    def duration(self, task_id: str) -> float:
        """Seconds from creation to the last planned step, read from the control plane."""
        steps = self.task(task_id)["plan"]["steps"]
        return seconds(steps[-1]["at"]) - seconds(steps[0]["at"])

    def count(self) -> int:
        count: int = self.client.get("/_mock/tasks").json()["count"]
        return count

    def queue(self) -> list[dict[str, Any]]:
        queue: list[dict[str, Any]] = self.client.get("/_mock/scenarios").json()["queue"]
        return queue


Make = Callable[..., Fake]


@pytest.fixture
def make() -> Iterator[Make]:
    """Build fakes from Settings overrides (seed 11 unless given); all closed at the end."""
    with ExitStack() as stack:

        def build(**overrides: Any) -> Fake:
            clock = ManualClock()
            settings = Settings(**{"seed": 11, **overrides})
            app = create_app(settings, clock=clock)
            client = stack.enter_context(TestClient(app, headers=AUTH, base_url=BASE))
            return Fake(client, clock)

        yield build


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
    assert envelope["videos"] == [f"{BASE}/files/{task_id}/result_000.mp4"]
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
    assert fake.client.get(f"/files/{task_id}/result_000.mp4").status_code == 404


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
    assert fake.client.get(f"/files/{task_id}/result_000.mp4").status_code == 404


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
    assert (error["error_code"], error["field"], error["rule"]) == (2001, HEADER, "scenario")
    assert error["detail"].startswith(f"{HEADER}: unknown scenario {token!r}")
    assert TOKENS_HELP in error["detail"]
    assert fake.count() == 0


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_unknown_prompt_token_is_a_400_naming_prompt(make: Make, token: str) -> None:
    fake = make()
    response = fake.create(token, "prompt")
    assert response.status_code == 400
    error = response.json()
    assert (error["error_code"], error["field"], error["rule"]) == (2001, "prompt", "scenario")
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


# --- queue, rules, weights, precedence ----------------------------------------------------------


def test_queued_scenarios_go_to_the_next_tasks_of_any_key(make: Make) -> None:
    fake = make()
    queued = fake.client.post("/_mock/scenarios", json={"scenario": "fail:3002", "count": 2})
    assert queued.json() == {"queue": [{"scenario": "fail:3002", "remaining": 2}]}
    first = fake.create_id()
    second = fake.create(key="another-key").json()["task_info"]["id"]
    third = fake.create_id()
    assert [fake.task(i)["scenario"] for i in (first, second, third)] == ["fail:3002"] * 2 + [None]
    assert fake.task(first)["scenario_source"] == "queue"
    assert fake.queue() == []
    fake.clock.advance(3600)
    assert fake.info(first)["error"]["code"] == 3002
    assert fake.info(third)["status"] == "succeeded"


def test_a_queued_reject_refuses_the_next_create_only(make: Make) -> None:
    fake = make()
    fake.client.post("/_mock/scenarios", json={"scenario": "reject:503"})
    refused = fake.create()
    assert (refused.status_code, refused.headers[INJECTED]) == (503, "scenario reject:503")
    assert refused.headers["retry-after"] == "5"
    assert fake.create().status_code == 202
    assert fake.count() == 1


def test_queue_is_consumed_in_order_and_can_be_cleared(make: Make) -> None:
    fake = make()
    fake.client.post("/_mock/scenarios", json={"scenario": "slow", "count": 1})
    fake.client.post("/_mock/scenarios", json={"scenario": "stuck", "count": 3})
    ids = [fake.create_id() for _ in range(2)]
    assert [fake.task(i)["scenario"] for i in ids] == ["slow", "stuck"]
    assert fake.queue() == [{"scenario": "stuck", "remaining": 2}]
    assert fake.client.delete("/_mock/scenarios").json() == {"queue": []}
    assert fake.task(fake.create_id())["scenario"] is None


def test_creates_the_fake_refuses_leave_the_queue_alone() -> None:
    clock = ManualClock()
    settings = Settings(seed=4, limits=Limits(submissions_per_second=1))
    with TestClient(create_app(settings, clock=clock), headers=AUTH, base_url=BASE) as client:
        assert client.post(CREATE_PATH, json=body()).status_code == 202
        client.post("/_mock/scenarios", json={"scenario": "fail:4008"})
        assert client.post(CREATE_PATH, json=body()).status_code == 429  # rate limit
        assert client.post(CREATE_PATH, json=body(duration=7)).status_code == 400  # invalid
        client.patch("/_mock/settings", json={"faults": [{"target": "create", "status": 503}]})
        assert client.post(CREATE_PATH, json=body()).status_code == 503  # injected fault
        client.patch("/_mock/settings", json={"faults": []})
        queue = client.get("/_mock/scenarios").json()["queue"]
        assert queue == [{"scenario": "fail:4008", "remaining": 1}]
        clock.advance(1)
        task_id = client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
        assert client.get(f"/_mock/tasks/{task_id}").json()["scenario"] == "fail:4008"


@pytest.mark.parametrize(
    "payload",
    [{"scenario": "explode"}, {"scenario": "fail", "count": 0}, {"scenario": 3}, {"count": 2}],
)
def test_queueing_nonsense_is_a_400(make: Make, payload: dict[str, Any]) -> None:
    fake = make()
    response = fake.client.post("/_mock/scenarios", json=payload)
    assert response.status_code == 400
    assert fake.queue() == []


def test_config_rules_match_the_request(make: Make) -> None:
    fake = make(
        rules=(
            Rule(scenario="slow", match={"resolution": "1080P"}),
            Rule(scenario="fail:safety", prompt_contains="forbidden"),
            Rule(scenario="stuck", match={"duration": 15, "shot_type": "multi"}),
        )
    )
    hd = fake.create_id(resolution="1080P")
    plain = fake.create_id()
    unsafe = fake.create_id(prompt="a forbidden dance")
    long_multi = fake.create_id(duration=15, shot_type="multi")
    long_single = fake.create_id(duration=15)
    seen = [(fake.task(i)["scenario"], fake.task(i)["scenario_source"]) for i in (hd, plain)]
    assert seen == [("slow", "rule"), (None, None)]
    assert fake.task(unsafe)["scenario"] == "fail:safety"
    assert fake.task(long_multi)["scenario"] == "stuck"
    assert fake.task(long_single)["scenario"] is None
    fake.clock.advance(DAY)
    assert fake.info(unsafe)["error"]["code"] == 3005
    assert fake.info(long_multi)["status"] == "running"


def test_weights_are_the_last_resort(make: Make) -> None:
    fake = make(failure_rate=1.0)
    task_id = fake.create_id()
    assert (fake.task(task_id)["scenario"], fake.task(task_id)["scenario_source"]) == (
        "fail",
        "weights",
    )


def test_precedence_header_prompt_queue_rule_weights(make: Make) -> None:
    fake = make(failure_rate=1.0, rules=(Rule(scenario="slow", match={"resolution": "1080P"}),))
    fake.client.post("/_mock/scenarios", json={"scenario": "stuck", "count": 2})
    hd = "1080P"
    prompt = "A fox [wan-mock:fail:3004] in the snow"

    by_header = fake.create_id("succeed", prompt=prompt, resolution=hd)
    by_prompt = fake.create_id(prompt=prompt, resolution=hd)
    # Tasks that name their own scenario leave the queue alone.
    assert fake.queue() == [{"scenario": "stuck", "remaining": 2}]
    by_queue = [fake.create_id(resolution=hd) for _ in range(2)]
    assert fake.queue() == []
    by_rule = fake.create_id(resolution=hd)
    by_weights = fake.create_id()

    def decided(task_id: str) -> tuple[str, str]:
        detail = fake.task(task_id)
        return detail["scenario"], detail["scenario_source"]

    assert decided(by_header) == ("succeed", "header")
    assert decided(by_prompt) == ("fail:3004", "prompt")
    assert [decided(i) for i in by_queue] == [("stuck", "queue")] * 2
    assert decided(by_rule) == ("slow", "rule")
    assert decided(by_weights) == ("fail", "weights")

    listed = {t["id"]: t for t in fake.client.get("/_mock/tasks").json()["tasks"]}
    assert listed[by_rule]["scenario"] == "slow"
    assert listed[by_rule]["scenario_source"] == "rule"

    fake.clock.advance(DAY)
    assert fake.info(by_header)["status"] == "succeeded"
    assert fake.info(by_prompt)["error"]["code"] == 3004
    assert all(fake.info(i)["status"] == "running" for i in by_queue)
    assert fake.info(by_rule)["status"] == "succeeded"
    assert fake.info(by_weights)["status"] == "failed"


def test_an_unknown_header_token_wins_over_a_valid_prompt_token(make: Make) -> None:
    fake = make()
    response = fake.create("explode", prompt="A fox [wan-mock:slow]")
    assert response.status_code == 400
    assert response.json()["field"] == HEADER


# --- live changes through the control plane -----------------------------------------------------


def test_rules_can_be_added_live(make: Make) -> None:
    fake = make()
    rules = [{"scenario": "fail:4002", "match": {"duration": 10}}]
    assert fake.client.patch("/_mock/settings", json={"rules": rules}).status_code == 200
    task_id = fake.create_id(duration=10)
    assert (fake.task(task_id)["scenario"], fake.task(task_id)["scenario_source"]) == (
        "fail:4002",
        "rule",
    )


def test_a_rule_with_an_unknown_scenario_is_refused_live() -> None:
    # Expected: a 400 naming the setting, and the settings left as they were. The fake answers
    # 500 (ValueError from parse_scenario in Backend.configure) and keeps the broken rule.
    client = TestClient(create_app(Settings(seed=1)), raise_server_exceptions=False)
    response = client.patch("/_mock/settings", json={"rules": [{"scenario": "explode"}]})
    assert response.status_code == 400, response.text
    assert "rules" in response.json()["detail"]
    assert client.get("/_mock/settings").json()["rules"] == []


# --- over a real server -------------------------------------------------------------------------


def test_scenarios_over_a_real_server() -> None:
    with (
        running_server("--seed", "3", "--clock", "virtual", "--no-access-log") as server,
        httpx.Client(base_url=server.base_url, headers=AUTH, timeout=5) as api,
        Control(server.base_url) as mock,
    ):
        failing = api.post(CREATE_PATH, json=body(), headers={HEADER: "fail:3003"})
        stuck = api.post(CREATE_PATH, json=body(prompt="[wan-mock:stuck] a cat"))
        failing_id = failing.json()["task_info"]["id"]
        stuck_id = stuck.json()["task_info"]["id"]
        assert mock.task(failing_id).scenario == "fail:3003"
        assert mock.task(stuck_id).scenario_source == "prompt"

        mock.queue("reject:503")
        refused = api.post(CREATE_PATH, json=body())
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert refused.headers[INJECTED] == "scenario reject:503"
        assert len(mock.tasks()) == 2

        mock.advance(DAY)
        failed = api.get(f"{CREATE_PATH}/{failing_id}").json()["task_info"]
        assert (failed["status"], failed["error"]["code"]) == ("failed", 3003)
        assert api.get(f"{CREATE_PATH}/{stuck_id}").json()["task_info"]["status"] == "running"
