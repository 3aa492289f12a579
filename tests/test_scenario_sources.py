"""Where a task's scenario comes from, over HTTP: the queue, config rules and weights, which
source wins (header > prompt > queue > config rule > weights) as the control plane reports,
rules changed live, and the same over a real server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver import Control, ManualClock, Settings, create_app
from mockserver.domain.behaviour import Limits, Rule
from tests.helpers import AUTH, BASE_URL, CREATE_PATH, DAY, INJECTED, SCENARIO_HEADER, Make, body
from tests.server_process import running_server

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
    assert fake.client.request("DELETE", "/_mock/scenarios", json={}).json() == {"queue": []}
    assert fake.task(fake.create_id())["scenario"] is None


def test_creates_the_fake_refuses_leave_the_queue_alone() -> None:
    clock = ManualClock()
    settings = Settings(seed=4, limits=Limits(submissions_per_second=1))
    with TestClient(create_app(settings, clock=clock), headers=AUTH, base_url=BASE_URL) as client:
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
    assert response.json()["detail"].startswith(f"{SCENARIO_HEADER}: ")


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
    # A 400 naming the setting, and the settings left as they were (no broken rule kept).
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
        failing = api.post(CREATE_PATH, json=body(), headers={SCENARIO_HEADER: "fail:3003"})
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
