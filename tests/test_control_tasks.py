"""The control plane's view of tasks (``/_mock/tasks``): listing, filters, detail with plan
and history, and forcing a task to succeed or fail."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from mockserver.domain.journal import fingerprint
from mockserver.server.wire import timestamp
from tests.helpers import (
    CREATE_PATH,
    DAY,
    FAILURE_CODES,
    KEY,
    OTHER,
    OTHER_KEY,
    START,
    UNKNOWN_ID,
    Fake,
    assert_error,
    b64,
    fake_app,
    image_bytes,
)

SUMMARY_KEYS = {
    "id",
    "owner",
    "status",
    "created_at",
    "updated_at",
    "scenario",
    "scenario_source",
    "prompt",
}


# --- tasks --------------------------------------------------------------------------------------


def test_tasks_lists_every_key_oldest_first_with_fingerprints(fake: Fake) -> None:
    first = fake.create(prompt="first")
    second = fake.create(headers=OTHER, prompt="second")
    third = fake.create(headers={"X-Wan-Mock-Scenario": "stuck"}, prompt="third")
    response = fake.client.get("/_mock/tasks")
    listing = response.json()
    assert listing["count"] == 3
    assert [t["id"] for t in listing["tasks"]] == [first, second, third]
    for task in listing["tasks"]:
        assert set(task) == SUMMARY_KEYS, task
    one, two, three = listing["tasks"]
    assert one["owner"] == three["owner"] == fingerprint(KEY)
    assert two["owner"] == fingerprint(OTHER_KEY)
    assert re.fullmatch(r"key-[0-9a-f]{12}", one["owner"]), one["owner"]
    assert KEY not in response.text
    assert OTHER_KEY not in response.text
    assert (one["prompt"], one["status"], one["scenario"], one["scenario_source"]) == (
        "first",
        "pending",
        None,
        None,
    )
    assert (three["scenario"], three["scenario_source"]) == ("stuck", "header")
    assert one["created_at"] == one["updated_at"] == timestamp(START)


def test_tasks_filters_by_status_key_and_limit(fake: Fake) -> None:
    done = fake.create()
    fake.clock.advance(60)
    stuck = fake.create(headers={"X-Wan-Mock-Scenario": "stuck"})
    other = fake.create(headers=OTHER)
    fake.clock.advance(1)  # stuck and other now run (queued at most 0.8 s)
    pending = fake.create()

    def ids(query: str) -> tuple[int, list[str]]:
        listing = fake.ok("GET", f"/_mock/tasks?{query}")
        return listing["count"], [t["id"] for t in listing["tasks"]]

    assert ids("status=succeeded") == (1, [done])
    assert ids("status=running") == (2, [stuck, other])
    assert ids("status=pending") == (1, [pending])
    assert ids("status=failed") == (0, [])
    assert ids(f"key={KEY}") == (3, [done, stuck, pending])
    assert ids(f"key={OTHER_KEY}") == (1, [other])
    assert ids("key=nobody") == (0, [])
    assert ids(f"status=running&key={KEY}") == (1, [stuck])
    # limit keeps the newest matches; count is the number of matches before the limit.
    assert ids("limit=2") == (4, [other, pending])
    assert ids("limit=10") == (4, [done, stuck, other, pending])
    assert ids("limit=0") == (4, [])
    assert ids(f"key={KEY}&limit=1") == (3, [pending])


@pytest.mark.parametrize("limit", ["-1", "abc", "1.5", ""])
def test_tasks_rejects_a_bad_limit(fake: Fake, limit: str) -> None:
    assert_error(fake.client.get(f"/_mock/tasks?limit={limit}"), 400, "limit")


@pytest.mark.parametrize("path", ["/_mock/tasks", "/_mock/journal"])
@pytest.mark.parametrize("limit", ["\u00b2", "\u2460"], ids=["superscript-two", "circled-one"])
def test_a_non_ascii_digit_limit_is_a_400_not_a_500(path: str, limit: str) -> None:
    # "²" and "①" pass str.isdigit() but are not numbers int() reads: still a 400 naming limit.
    with fake_app(raise_server_exceptions=False) as fake:
        assert_error(fake.client.get(path, params={"limit": limit}), 400, "limit")


def test_task_detail_has_request_without_image_bytes_plan_and_history(fake: Fake) -> None:
    png = image_bytes("PNG", (640, 480))
    encoded = b64(png)
    task_id = fake.create(image=encoded, duration=10, resolution="1080P", seed=5)
    response = fake.client.get(f"/_mock/tasks/{task_id.upper()}")  # ids are case-insensitive
    assert response.status_code == 200, response.text
    assert encoded[:64] not in response.text, "the control plane echoes the image bytes"
    assert len(response.content) < 4000, len(response.content)
    detail = response.json()
    assert SUMMARY_KEYS | {"request", "plan", "history"} == set(detail)
    assert detail["id"] == task_id
    assert detail["owner"] == fingerprint(KEY)
    assert detail["request"] == {
        "prompt": "A black cat looks curiously at the sky",
        "image": {
            "source": "base64",
            "url": None,
            "format": "PNG",
            "width": 640,
            "height": 480,
            "size_bytes": len(png),
            "digest": hashlib.blake2b(png, digest_size=16).hexdigest(),
        },
        "negative_prompt": None,
        "resolution": "1080P",
        "duration": 10,
        "prompt_extend": True,
        "shot_type": "single",
        "audio": True,
        "audio_url": None,
        "seed": 5,
        "safety_filter": True,
        "last_frame": None,
    }
    plan = detail["plan"]
    assert [s["status"] for s in plan["steps"]] == ["pending", "running", "succeeded"]
    assert plan["steps"][0]["at"] == timestamp(START) == detail["created_at"]
    assert plan["steps"] == sorted(plan["steps"], key=lambda s: s["at"])
    assert (plan["failure"], plan["finishes"]) == (None, True)
    assert detail["history"] == [{"status": "pending", "at": timestamp(START)}]


def test_task_history_grows_up_to_now(fake: Fake) -> None:
    task_id = fake.create()
    steps = fake.detail(task_id)["plan"]["steps"]
    fake.clock.advance(1.0)  # past the queue (<= 0.8 s), before the end (>= 1.7 s)
    detail = fake.detail(task_id)
    assert detail["history"] == steps[:2]
    assert detail["status"] == "running"
    assert detail["updated_at"] == steps[1]["at"]
    fake.clock.advance(60)
    assert fake.detail(task_id)["history"] == steps


@pytest.mark.parametrize(
    ("how", "scenario", "source"),
    [
        ("header", "fail:3002", "header"),
        ("prompt", "slow", "prompt"),
        ("queue", "stuck", "queue"),
        ("rule", "fail:4002", "rule"),
        ("weights", "fail", "weights"),
        ("none", None, None),
    ],
)
def test_task_detail_shows_scenario_and_source(
    fake: Fake, how: str, scenario: str | None, source: str | None
) -> None:
    headers: dict[str, str] | None = None
    prompt = "A lighthouse at dusk"
    if how == "header":
        headers = {"X-Wan-Mock-Scenario": "fail:3002"}
    elif how == "prompt":
        prompt += " [wan-mock:slow]"
    elif how == "queue":
        fake.ok("POST", "/_mock/scenarios", json={"scenario": "stuck"})
    elif how == "rule":
        rules = [{"scenario": "fail:4002", "prompt_contains": "lighthouse"}]
        fake.ok("PATCH", "/_mock/settings", json={"rules": rules})
    elif how == "weights":
        fake.ok("PATCH", "/_mock/settings", json={"failure_rate": 1.0})
    detail = fake.detail(fake.create(headers=headers, prompt=prompt))
    assert (detail["scenario"], detail["scenario_source"]) == (scenario, source)
    plan = detail["plan"]
    if scenario is not None and scenario.startswith("fail"):
        assert plan["steps"][-1]["status"] == "failed", plan
        assert plan["failure"]["code"] in FAILURE_CODES, plan
        if ":" in scenario:
            assert plan["failure"]["code"] == int(scenario.partition(":")[2])
    if scenario == "stuck":
        assert plan["finishes"] is False
        assert [s["status"] for s in plan["steps"]] == ["pending", "running"]


def test_task_detail_of_an_unknown_id_is_a_404(fake: Fake) -> None:
    error = assert_error(fake.client.get(f"/_mock/tasks/{UNKNOWN_ID}"), 404, UNKNOWN_ID)
    assert error["error_code"] == 2005


# --- forcing outcomes ---------------------------------------------------------------------------


def test_succeed_ends_a_pending_task_now(fake: Fake) -> None:
    task_id = fake.create()
    fake.clock.advance(0.1)
    assert fake.ok("POST", f"/_mock/tasks/{task_id}/succeed") == {
        "id": task_id,
        "status": "succeeded",
    }
    polled = fake.poll(task_id)
    assert polled["task_info"]["status"] == "succeeded"
    assert polled["task_info"]["updated_at"] == timestamp(START + 0.1)
    video = fake.client.get(polled["videos"][0])
    assert (video.status_code, video.headers["content-type"]) == (200, "video/mp4")
    history = fake.detail(task_id)["history"]
    assert history == [
        {"status": "pending", "at": timestamp(START)},
        {"status": "running", "at": timestamp(START + 0.1)},
        {"status": "succeeded", "at": timestamp(START + 0.1)},
    ]


def test_succeed_ends_a_stuck_running_task(fake: Fake) -> None:
    task_id = fake.create(headers={"X-Wan-Mock-Scenario": "stuck"})
    fake.clock.advance(100)
    assert fake.poll(task_id)["task_info"]["status"] == "running"
    fake.ok("POST", f"/_mock/tasks/{task_id}/succeed")
    assert fake.poll(task_id)["task_info"]["status"] == "succeeded"
    statuses = [step["status"] for step in fake.detail(task_id)["history"]]
    assert statuses == ["pending", "running", "succeeded"]


@pytest.mark.parametrize("code", [*FAILURE_CODES, "3002", "safety", "SAFETY", None])
def test_fail_ends_a_task_with_the_code(fake: Fake, code: int | str | None) -> None:
    task_id = fake.create()
    fake.clock.advance(1.0)  # running
    payload = {} if code is None else {"code": code}
    answer = fake.ok("POST", f"/_mock/tasks/{task_id}/fail", json=payload)
    assert answer == {"id": task_id, "status": "failed"}
    polled = fake.poll(task_id)["task_info"]
    assert polled["status"] == "failed"
    error = polled["error"]
    if code is None:
        assert error["code"] in FAILURE_CODES
    elif isinstance(code, str) and code.lower() == "safety":
        assert error["code"] == 3005
        assert "safety" in error["detail"].lower(), error
    else:
        assert error["code"] == int(code)
    assert fake.detail(task_id)["plan"]["failure"] == error


def test_fail_without_a_body_uses_a_documented_code(fake: Fake) -> None:
    task_id = fake.create()
    fake.ok("POST", f"/_mock/tasks/{task_id}/fail")
    assert fake.poll(task_id)["task_info"]["error"]["code"] in FAILURE_CODES


@pytest.mark.parametrize("code", [9999, 2001, 3006, "nope", True, 3001.5, "fail"], ids=repr)
def test_fail_rejects_an_unknown_code(fake: Fake, code: Any) -> None:
    task_id = fake.create()
    error = assert_error(
        fake.client.post(f"/_mock/tasks/{task_id}/fail", json={"code": code}), 400, "code"
    )
    assert error["field"] == "code"
    assert "3001-3005" in error["detail"], error
    assert "safety" in error["detail"], error
    assert fake.poll(task_id)["task_info"]["status"] == "pending", "a refused fail changed it"


@pytest.mark.parametrize("action", ["succeed", "fail"])
@pytest.mark.parametrize("ended", ["succeeded", "failed"])
def test_forcing_a_finished_task_is_a_400(fake: Fake, action: str, ended: str) -> None:
    if ended == "succeeded":
        task_id = fake.create()
        fake.clock.advance(60)
    else:
        task_id = fake.create()
        fake.ok("POST", f"/_mock/tasks/{task_id}/fail", json={"code": 3003})
    before = fake.poll(task_id)
    error = assert_error(fake.client.post(f"/_mock/tasks/{task_id}/{action}", json={}), 400)
    assert f"already {ended}" in error["detail"], error
    assert fake.poll(task_id) == before


@pytest.mark.parametrize("action", ["succeed", "fail"])
def test_forcing_an_unknown_task_is_a_404(fake: Fake, action: str) -> None:
    forced = fake.client.post(f"/_mock/tasks/{UNKNOWN_ID}/{action}", json={})
    error = assert_error(forced, 404, UNKNOWN_ID)
    assert error["error_code"] == 2005


def test_the_control_plane_sees_and_forces_every_keys_tasks(fake: Fake) -> None:
    task_id = fake.create(headers=OTHER)
    fake.ok("POST", f"/_mock/tasks/{task_id}/succeed")
    assert fake.poll(task_id, headers=OTHER)["task_info"]["status"] == "succeeded"
    # The API itself still hides it from other keys.
    assert fake.client.get(f"{CREATE_PATH}/{task_id}").status_code == 404


@pytest.mark.parametrize("wait", [0.0, 1.0], ids=["pending", "running"])
def test_stick_keeps_a_task_running_for_ever(fake: Fake, wait: float) -> None:
    task_id = fake.create()
    fake.clock.advance(wait)
    answer = fake.ok("POST", f"/_mock/tasks/{task_id}/stick")
    assert answer == {"id": task_id, "status": "running"}
    fake.clock.advance(10 * DAY)
    assert fake.poll(task_id)["task_info"]["status"] == "running"
    plan = fake.detail(task_id)["plan"]
    assert [step["status"] for step in plan["steps"]] == ["pending", "running"]
    assert plan["finishes"] is False


def test_stick_refuses_a_finished_task(fake: Fake) -> None:
    task_id = fake.create()
    fake.ok("POST", f"/_mock/tasks/{task_id}/succeed")
    answer = fake.client.post(f"/_mock/tasks/{task_id}/stick", json={})
    assert answer.status_code == 400
    assert "already succeeded" in answer.json()["detail"]
