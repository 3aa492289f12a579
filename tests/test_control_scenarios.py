"""The scenario queue of the control plane (``/_mock/scenarios``): consumed in order by the
next tasks of any key, cleared, and refusing what is not a scenario."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import (
    OTHER,
    Fake,
    assert_error,
)

# --- scenarios ----------------------------------------------------------------------------------


def test_scenario_queue_is_consumed_in_order(fake: Fake) -> None:
    assert fake.ok("GET", "/_mock/scenarios") == {"queue": []}
    assert fake.ok("POST", "/_mock/scenarios", json={"scenario": "fail:3002", "count": 2}) == {
        "queue": [{"scenario": "fail:3002", "remaining": 2}]
    }
    queue = fake.ok("POST", "/_mock/scenarios", json={"scenario": "SLOW"})["queue"]
    assert queue == [
        {"scenario": "fail:3002", "remaining": 2},
        {"scenario": "slow", "remaining": 1},  # normalised, count defaults to 1
    ]
    first = fake.detail(fake.create())
    assert (first["scenario"], first["scenario_source"]) == ("fail:3002", "queue")
    assert fake.ok("GET", "/_mock/scenarios")["queue"][0] == {
        "scenario": "fail:3002",
        "remaining": 1,
    }
    second = fake.detail(fake.create(headers=OTHER))  # the queue serves every key
    third = fake.detail(fake.create())
    fourth = fake.detail(fake.create())
    assert [t["scenario"] for t in (second, third, fourth)] == ["fail:3002", "slow", None]
    assert fake.ok("GET", "/_mock/scenarios") == {"queue": []}


def test_a_header_scenario_does_not_consume_the_queue(fake: Fake) -> None:
    fake.ok("POST", "/_mock/scenarios", json={"scenario": "stuck"})
    fake.create(headers={"X-Wan-Mock-Scenario": "succeed"})
    assert fake.ok("GET", "/_mock/scenarios")["queue"] == [{"scenario": "stuck", "remaining": 1}]


def test_delete_scenarios_empties_the_queue(fake: Fake) -> None:
    fake.ok("POST", "/_mock/scenarios", json={"scenario": "fail", "count": 5})
    fake.ok("POST", "/_mock/scenarios", json={"scenario": "fail:safety"})
    assert fake.ok("DELETE", "/_mock/scenarios") == {"queue": []}
    assert fake.ok("GET", "/_mock/scenarios") == {"queue": []}
    assert fake.detail(fake.create())["scenario"] is None


@pytest.mark.parametrize(
    "token", ["bogus", "fail:9999", "reject:200", "poll-error:404", "succeed:now", ""]
)
def test_queueing_an_unknown_scenario_lists_the_valid_ones(fake: Fake, token: str) -> None:
    response = fake.client.post("/_mock/scenarios", json={"scenario": token})
    error = assert_error(response, 400, "scenario")
    assert error["field"] == "scenario"
    for valid in ("succeed", "fail:<3001-3005|4002|4008|safety>", "slow", "stuck", "reject:<"):
        assert valid in error["detail"], f"{valid!r} missing from {error['detail']!r}"
    assert fake.ok("GET", "/_mock/scenarios") == {"queue": []}


@pytest.mark.parametrize("payload", [{}, {"scenario": 5}, {"scenario": None}, {"count": 1}])
def test_queueing_without_a_scenario_string_is_a_400(fake: Fake, payload: Any) -> None:
    error = assert_error(fake.client.post("/_mock/scenarios", json=payload), 400, "scenario")
    assert error["field"] == "scenario"


@pytest.mark.parametrize("count", [0, -1, True, False, 1.5, "2", None, 1_000_001], ids=repr)
def test_queueing_a_bad_count_is_a_400(fake: Fake, count: Any) -> None:
    response = fake.client.post("/_mock/scenarios", json={"scenario": "fail", "count": count})
    assert assert_error(response, 400, "count")["field"] == "count"
    assert fake.ok("GET", "/_mock/scenarios") == {"queue": []}


def test_queueing_a_non_object_body_is_a_400(fake: Fake) -> None:
    assert_error(fake.client.post("/_mock/scenarios", json=["fail"]), 400, "body")
