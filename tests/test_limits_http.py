"""Per-key rate limits end to end: the realistic preset (5 creates/s, 5 unfinished tasks, 20
polls/s) on the fake clock, Retry-After that is exactly long enough, per-key accounting, custom
numbers from Settings and TOML, and live changes through the control plane.

The limiter's own arithmetic is unit-tested in tests/test_limits.py.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from starlette.testclient import TestClient

from mockserver import Control, Settings, load_settings
from mockserver.domain.backend import Backend
from mockserver.domain.behaviour import LIMIT_PRESETS, Limits
from tests.helpers import AUTH, CREATE_PATH, body, fake_app
from tests.server_process import running_server

REALISTIC = LIMIT_PRESETS["realistic"]
OTHER = {"Authorization": "Bearer other-key"}


def create(client: TestClient, headers: dict[str, str] | None = None, **fields: Any) -> Any:
    return client.post(CREATE_PATH, json=body(**fields), headers=headers or {})


def assert_limited(response: httpx2.Response, limit: str) -> int:
    """A 429 from a configured limit; returns its Retry-After."""
    assert response.status_code == 429, response.text
    error = response.json()
    assert error["error_code"] == 429
    assert error["title"] == "Too Many Requests"
    # The detail names the limit whose wait Retry-After is; the body has the documented keys.
    assert f"({limit}: " in error["detail"]
    assert set(error) == {"error_code", "title", "detail"}
    retry = response.headers["retry-after"]
    assert retry.isdigit(), retry  # whole seconds
    assert f"retry after {retry} s" in error["detail"]
    assert "x-wan-mock-injected" not in response.headers  # a limit, not an injected fault
    return int(retry)


def earliest_finish(backend: Backend, owner: str = "test-key") -> float:
    ends = [
        task.created_at + task.plan.duration
        for task in backend.tasks()
        if task.owner == owner and task.plan.duration is not None
    ]
    return min(end for end in ends if end > backend.clock.now())


def test_the_sixth_create_within_a_second_is_429_until_retry_after() -> None:
    with fake_app(Settings(seed=1, limits=REALISTIC)) as fake:
        for _ in range(5):
            assert create(fake.client).status_code == 202
        refused = create(fake.client)
        # Both the rate (1 s) and the five unfinished tasks hold it back: the later one counts,
        # and the 429 names the limit whose wait it reports (the tasks take seconds to finish).
        finish = earliest_finish(fake.backend) - fake.clock.now()
        assert finish > 1.0
        assert assert_limited(refused, "concurrent_tasks") == math.ceil(finish)
        assert len(fake.backend.store) == 5
        fake.clock.advance(int(refused.headers["retry-after"]))
        assert create(fake.client).status_code == 202


def test_rate_only_retry_after_is_rounded_up_to_whole_seconds() -> None:
    with fake_app(Settings(seed=1, limits=Limits(submissions_per_second=5))) as fake:
        assert create(fake.client).status_code == 202
        fake.clock.advance(0.4)
        for _ in range(4):
            assert create(fake.client).status_code == 202
        refused = create(fake.client)
        assert assert_limited(refused, "submissions_per_second") == 1  # 0.6 s, rounded up
        fake.clock.advance(0.6)  # the first submission has left the window
        assert create(fake.client).status_code == 202
        assert_limited(create(fake.client), "submissions_per_second")


def test_five_unfinished_tasks_block_the_sixth_until_one_finishes() -> None:
    settings = Settings(seed=2, timing="realistic", limits=REALISTIC)
    with fake_app(settings) as fake:
        ids = [create(fake.client).json()["task_info"]["id"] for _ in range(5)]
        fake.clock.advance(1.0)  # the submission rate allows another now
        refused = create(fake.client)
        retry = assert_limited(refused, "concurrent_tasks")
        assert retry == math.ceil(earliest_finish(fake.backend) - fake.clock.now())
        assert retry > 30  # realistic tasks take minutes

        forced = fake.client.post(f"/_mock/tasks/{ids[3]}/succeed", json={})
        assert forced.json() == {"id": ids[3], "status": "succeeded"}
        assert create(fake.client).status_code == 202
        fake.clock.advance(1.0)
        again = create(fake.client)
        retry = assert_limited(again, "concurrent_tasks")
        fake.clock.advance(retry)
        assert create(fake.client).status_code == 202


def test_stuck_tasks_hold_their_slots_until_forced() -> None:
    with fake_app(Settings(seed=3, limits=REALISTIC)) as fake:
        fake.client.post("/_mock/scenarios", json={"scenario": "stuck", "count": 5})
        ids = [create(fake.client).json()["task_info"]["id"] for _ in range(5)]
        fake.clock.advance(3600)
        assert (
            assert_limited(create(fake.client), "concurrent_tasks") == 60
        )  # none will ever finish
        fake.client.post(f"/_mock/tasks/{ids[0]}/fail", json={"code": 3002})
        assert create(fake.client).status_code == 202


def test_the_twenty_first_poll_in_a_second_is_429() -> None:
    with fake_app(Settings(seed=4, limits=REALISTIC)) as fake:
        task_id = create(fake.client).json()["task_info"]["id"]
        path = f"{CREATE_PATH}/{task_id}"
        for _ in range(20):
            assert fake.client.get(path).status_code == 200
        retry = assert_limited(fake.client.get(path), "polls_per_second")
        assert retry == 1
        # Creates and other keys are counted apart.
        assert create(fake.client).status_code == 202
        assert fake.client.get(path, headers=OTHER).status_code == 404
        fake.clock.advance(retry)
        assert fake.client.get(path).status_code == 200


def test_limits_are_per_key() -> None:
    with fake_app(Settings(seed=5, limits=REALISTIC)) as fake:
        for _ in range(5):
            create(fake.client)
        assert create(fake.client).status_code == 429
        for _ in range(5):
            assert create(fake.client, OTHER).status_code == 202
        assert create(fake.client, OTHER).status_code == 429
        assert create(fake.client, {"Authorization": "Bearer third-key"}).status_code == 202


def test_invalid_and_rejected_creates_do_not_count() -> None:
    with fake_app(Settings(seed=6, limits=Limits(submissions_per_second=5))) as fake:
        for _ in range(10):
            assert create(fake.client, duration=7).status_code == 400
        unknown_scenario = create(fake.client, {"X-Wan-Mock-Scenario": "explode"})
        assert unknown_scenario.status_code == 400
        for _ in range(3):
            assert create(fake.client, {"X-Wan-Mock-Scenario": "reject:503"}).status_code == 503
        assert fake.client.post(CREATE_PATH, content=b"{").status_code == 400
        for _ in range(5):
            assert create(fake.client).status_code == 202
        assert_limited(create(fake.client), "submissions_per_second")


def test_custom_numbers_from_settings() -> None:
    limits = Limits(submissions_per_second=2, polls_per_second=3)
    with fake_app(Settings(seed=7, limits=limits)) as fake:
        ids = [create(fake.client).json()["task_info"]["id"] for _ in range(2)]
        assert_limited(create(fake.client), "submissions_per_second")
        for _ in range(3):
            assert fake.client.get(f"{CREATE_PATH}/{ids[0]}").status_code == 200
        assert_limited(fake.client.get(f"{CREATE_PATH}/{ids[1]}"), "polls_per_second")
        fake.clock.advance(1)
        assert create(fake.client).status_code == 202


def test_a_fractional_rate_spaces_creates_out() -> None:
    with fake_app(Settings(seed=8, limits=Limits(submissions_per_second=0.5))) as fake:
        assert create(fake.client).status_code == 202
        assert assert_limited(create(fake.client), "submissions_per_second") == 2
        fake.clock.advance(1.5)
        assert assert_limited(create(fake.client), "submissions_per_second") == 1
        fake.clock.advance(0.5)
        assert create(fake.client).status_code == 202


def test_custom_numbers_from_a_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "limits.toml"
    config.write_text("seed = 9\n\n[limits]\nsubmissions_per_second = 1\nconcurrent_tasks = 2\n")
    settings = load_settings(config_file=config)
    assert settings.limits == Limits(submissions_per_second=1, concurrent_tasks=2)
    with fake_app(settings) as fake:
        assert create(fake.client).status_code == 202
        assert_limited(create(fake.client), "submissions_per_second")
        fake.clock.advance(1)
        assert create(fake.client).status_code == 202
        fake.clock.advance(1)
        assert_limited(create(fake.client), "concurrent_tasks")


def test_limits_change_live() -> None:
    with fake_app(Settings(seed=10)) as fake:
        for _ in range(8):
            assert create(fake.client).status_code == 202  # off by default

        patched = fake.client.patch("/_mock/settings", json={"limits": "realistic"})
        assert patched.json()["limits"] == {
            "submissions_per_second": 5.0,
            "concurrent_tasks": 5,
            "polls_per_second": 20.0,
        }
        fake.clock.advance(3600)  # the tasks made so far finished long ago
        for _ in range(5):
            assert create(fake.client).status_code == 202
        assert_limited(create(fake.client), "concurrent_tasks")  # outlasts the 1 s window

        patched = fake.client.patch(
            "/_mock/settings", json={"limits": {"submissions_per_second": 1}}
        )
        assert patched.json()["limits"] == {
            "submissions_per_second": 1.0,
            "concurrent_tasks": None,
            "polls_per_second": None,
        }
        fake.clock.advance(3600)
        assert create(fake.client).status_code == 202
        assert_limited(create(fake.client), "submissions_per_second")

        fake.client.patch("/_mock/settings", json={"limits": "off"})
        for _ in range(8):
            assert create(fake.client).status_code == 202


@pytest.mark.parametrize(
    "limits",
    ["fast", {"submissions_per_second": 0}, {"concurrent_tasks": 0}, {"burst": 3}],
)
def test_bad_limits_are_refused_live(limits: Any) -> None:
    with fake_app(Settings(seed=11)) as fake:
        response = fake.client.patch("/_mock/settings", json={"limits": limits})
        assert response.status_code == 400
        assert "'limits" in response.json()["detail"]
        assert fake.client.get("/_mock/settings").json()["limits"]["concurrent_tasks"] is None


def test_realistic_limits_over_a_real_server() -> None:
    args = ("--limits", "realistic", "--clock", "virtual", "--seed", "12", "--no-access-log")
    with (
        running_server(*args) as server,
        httpx.Client(base_url=server.base_url, headers=AUTH, timeout=5) as api,
        Control(server.base_url) as mock,
    ):
        for _ in range(5):
            assert api.post(CREATE_PATH, json=body()).status_code == 202
        refused = api.post(CREATE_PATH, json=body())
        assert refused.status_code == 429
        assert "(concurrent_tasks: " in refused.json()["detail"]  # its wait outlasts the rate's
        mock.advance(int(refused.headers["retry-after"]))
        assert api.post(CREATE_PATH, json=body()).status_code == 202
