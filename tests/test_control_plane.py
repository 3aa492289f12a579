"""The control plane under ``/_mock/`` (mockserver/server/control.py), in process.

Starlette's TestClient drives an app built on a ManualClock; httpx's ASGITransport is used
where the client's address matters (the loopback rule of the admin guard). The last section
covers the CLI side of the guard: which hosts count as loopback and the made-up token.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from httpx2 import Response
from starlette.testclient import TestClient

from mockserver import ManualClock, MockClock, Settings, __version__, cli, create_app
from mockserver.domain.journal import fingerprint
from mockserver.server import app as app_module
from mockserver.server.app import MockApp
from mockserver.server.faults import ConnectionDropped
from mockserver.server.wire import timestamp
from tests.helpers import AUTH, CREATE_PATH, b64, body, image_bytes

BASE_URL = "http://wan-mock.test"
START = 1_790_000_000.0  # where ManualClock() starts
KEY = AUTH["Authorization"].removeprefix("Bearer ")
OTHER_KEY = "other-key-42"
OTHER = {"Authorization": f"Bearer {OTHER_KEY}"}
TOKEN = "s3cret-token"
ADMIN = {"X-Wan-Mock-Admin-Token": TOKEN}
FAILURE_CODES = (3001, 3002, 3003, 3004, 3005, 4002, 4008)
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
UNKNOWN_ID = "4f0c9e2a-1b7d-4c8e-9a55-0d3b8e6f7a21"


# --- helpers ------------------------------------------------------------------------------------


@dataclass
class Fake:
    """One in-process fake with its clock and a client carrying an API key."""

    app: MockApp
    clock: MockClock
    client: TestClient

    def create(self, headers: dict[str, str] | None = None, **fields: Any) -> str:
        response = self.client.post(CREATE_PATH, json=body(**fields), headers=headers)
        assert response.status_code == 202, f"create: {response.status_code} {response.text}"
        return str(response.json()["task_info"]["id"])

    def poll(self, task_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.client.get(f"{CREATE_PATH}/{task_id}", headers=headers)
        assert response.status_code == 200, f"poll: {response.status_code} {response.text}"
        return dict(response.json())

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """A control-plane call that must answer 200 with JSON."""
        response = self.client.request(method, path, **kwargs)
        assert response.status_code == 200, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        assert response.headers["content-type"] == "application/json", response.headers
        return response.json()

    def detail(self, task_id: str) -> dict[str, Any]:
        return dict(self.ok("GET", f"/_mock/tasks/{task_id}"))

    def now(self) -> float:
        return float(self.ok("GET", "/_mock/clock")["clock"]["unix"])

    def settings(self) -> dict[str, Any]:
        return dict(self.ok("GET", "/_mock/settings"))


@contextmanager
def fake_app(
    settings: Settings | None = None,
    clock: MockClock | None = None,
    headers: dict[str, str] | None = None,
    *,
    raise_server_exceptions: bool = True,
) -> Iterator[Fake]:
    clock = clock if clock is not None else ManualClock()
    app = create_app(settings or Settings(seed=1), clock=clock)
    with TestClient(
        app,
        headers={**AUTH, **(headers or {})},
        base_url=BASE_URL,
        raise_server_exceptions=raise_server_exceptions,
    ) as client:
        yield Fake(app, clock, client)


@pytest.fixture
def fake() -> Iterator[Fake]:
    with fake_app() as made:
        yield made


def assert_error(response: Response, status: int, field: str | None = None) -> dict[str, Any]:
    """A JSON error answer in the fake's own shape; ``field`` must be named by it."""
    where = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == status, (
        f"{where}: expected {status}, got {response.status_code}: {response.text}"
    )
    assert response.headers["content-type"] == "application/json", (where, response.headers)
    error = dict(response.json())
    assert {"error_code", "title", "detail"} <= error.keys(), (
        f"{where}: not the fake's error shape: {response.text}"
    )
    if field is not None:
        assert field in error["detail"], f"{where}: the detail does not name {field!r}: {error}"
    return error


class FakeTime:
    """Wall and monotonic clocks a test moves by hand."""

    def __init__(self, wall: float = 1_800_000_000.0, mono: float = 100.0) -> None:
        self.wall = wall
        self.mono = mono

    def real_clock(self, speed: float = 1.0) -> MockClock:
        return MockClock("real", speed=speed, wall=lambda: self.wall, monotonic=lambda: self.mono)


# --- health -------------------------------------------------------------------------------------


def test_health_reports_ok_version_and_task_count(fake: Fake) -> None:
    assert fake.ok("GET", "/_mock/health") == {"status": "ok", "version": __version__, "tasks": 0}
    fake.create()
    fake.create(headers=OTHER)
    assert fake.ok("GET", "/_mock/health")["tasks"] == 2
    head = fake.client.head("/_mock/health")
    assert head.status_code == 200
    assert head.content == b""


# --- reset --------------------------------------------------------------------------------------


def test_reset_empties_tasks_queue_and_journal(fake: Fake) -> None:
    fake.create()
    fake.create(headers=OTHER)
    fake.ok("POST", "/_mock/scenarios", json={"scenario": "fail:3002", "count": 3})
    fake.client.get("/openapi.json")
    assert len(fake.ok("GET", "/_mock/journal")["entries"]) == 3

    answer = fake.ok("POST", "/_mock/reset")

    assert answer["reset"] is True
    assert isinstance(answer["took_ms"], float | int), answer
    assert 0 <= answer["took_ms"] < 1000, answer
    assert answer["clock"]["unix"] == START
    assert fake.ok("GET", "/_mock/tasks") == {"count": 0, "tasks": []}
    assert fake.ok("GET", "/_mock/health")["tasks"] == 0
    assert fake.ok("GET", "/_mock/scenarios") == {"queue": []}
    assert fake.ok("GET", "/_mock/journal") == {"count": 0, "entries": []}
    # The queue really is gone: the next task follows the defaults.
    assert fake.detail(fake.create())["scenario"] is None


def test_ids_and_plans_after_reset_repeat_the_first_ones(fake: Fake) -> None:
    def run() -> list[tuple[str, Any]]:
        ids = [fake.create(), fake.create(headers=OTHER), fake.create(duration=10)]
        return [(task_id, fake.detail(task_id)["plan"]) for task_id in ids]

    first = run()
    fake.clock.advance(30)
    fake.ok("POST", "/_mock/reset")
    again = run()
    assert [task_id for task_id, _ in again] == [task_id for task_id, _ in first]
    assert again == first, "plans after a reset differ from the first run's"
    # A fresh app with the same seed agrees: reset is the start state.
    with fake_app() as fresh:
        assert fresh.create() == first[0][0]


def test_reset_rewinds_the_virtual_clock(fake: Fake) -> None:
    fake.ok("POST", "/_mock/clock/advance", json={"seconds": 3600})
    assert fake.now() == START + 3600
    answer = fake.ok("POST", "/_mock/reset")
    assert answer["clock"] == {
        "mode": "virtual",
        "now": timestamp(START),
        "unix": START,
        "frozen": True,
        "speed": 1.0,
    }
    assert fake.now() == START


def test_reset_restores_the_start_settings(fake: Fake) -> None:
    start = fake.settings()
    fake.ok(
        "PATCH",
        "/_mock/settings",
        json={
            "failure_rate": 1.0,
            "strict": True,
            "dialect": "legacy",
            "limits": "realistic",
            "journal_size": 5,
            "timing": "realistic",
            "faults": [{"target": "poll", "status": 503}],
        },
    )
    assert fake.settings() != start
    fake.ok("POST", "/_mock/reset")
    assert fake.settings() == start
    # ... and they are in force, not only displayed.
    task_id = fake.create(unknown_field=1)  # strict is off again
    plan = fake.detail(task_id)["plan"]
    assert plan["steps"][-1]["status"] == "succeeded", plan  # failure_rate back to 0
    assert fake.poll(task_id)["task_info"]["status"] == "pending"  # no poll fault, default dialect


def test_reset_on_a_real_clock_returns_to_wall_time_and_unfreezes() -> None:
    t = FakeTime()
    with fake_app(clock=t.real_clock()) as fake:
        fake.ok("POST", "/_mock/clock/advance", json={"seconds": 1000})
        fake.ok("POST", "/_mock/clock/freeze")
        t.mono += 5
        assert fake.now() == t.wall + 1000  # frozen: the 5 s did not count
        answer = fake.ok("POST", "/_mock/reset")
        assert answer["clock"]["frozen"] is False
        assert answer["clock"]["unix"] == t.wall + 5  # wall time, at speed 1
        t.mono += 1
        assert fake.now() == t.wall + 6


# --- the clock ----------------------------------------------------------------------------------


def test_clock_state_of_a_manual_clock(fake: Fake) -> None:
    assert fake.ok("GET", "/_mock/clock") == {
        "clock": {
            "mode": "virtual",
            "now": "2026-09-21T14:13:20.000000+00:00",
            "unix": START,
            "frozen": True,
            "speed": 1.0,
        }
    }


def test_advance_moves_the_clock_and_task_statuses(fake: Fake) -> None:
    task_id = fake.create()  # dev timing: queued 0.2-0.8 s, done after 1.7 s at the earliest

    def status() -> tuple[str, str]:
        api = fake.poll(task_id)["task_info"]["status"]
        control = fake.ok("GET", "/_mock/tasks")["tasks"][0]["status"]
        return api, control

    assert status() == ("pending", "pending")
    answer = fake.ok("POST", "/_mock/clock/advance", json={"seconds": 0.1})
    assert answer["clock"]["unix"] == START + 0.1
    assert status() == ("pending", "pending")
    fake.ok("POST", "/_mock/clock/advance", json={"seconds": 1})
    assert status() == ("running", "running")
    answer = fake.ok("POST", "/_mock/clock/advance", json={"seconds": 60})
    assert answer["clock"]["unix"] == START + 61.1
    assert answer["clock"]["now"] == timestamp(START + 61.1)
    assert status() == ("succeeded", "succeeded")


@pytest.mark.parametrize("seconds", [0, 0.0, 2, 2.5])
def test_advance_accepts_whole_and_fractional_seconds(fake: Fake, seconds: float) -> None:
    answer = fake.ok("POST", "/_mock/clock/advance", json={"seconds": seconds})
    assert answer["clock"]["unix"] == START + seconds


ADVANCE_BAD_VALUES: list[Any] = [
    -1,
    -0.5,
    "NaN",
    "nan",
    "Infinity",
    "inf",
    "-inf",
    "5",
    True,
    False,
    None,
    [5],
    {"value": 5},
]


@pytest.mark.parametrize("value", ADVANCE_BAD_VALUES, ids=repr)
def test_advance_rejects_a_bad_seconds_value(fake: Fake, value: Any) -> None:
    response = fake.client.post("/_mock/clock/advance", json={"seconds": value})
    error = assert_error(response, 400, "seconds")
    assert error["field"] == "seconds", error
    assert fake.now() == START, "a refused advance moved the clock"


def test_advance_rejects_a_missing_seconds_field(fake: Fake) -> None:
    response = fake.client.post("/_mock/clock/advance", json={"second": 5})
    assert assert_error(response, 400, "seconds")["field"] == "seconds"
    assert fake.now() == START


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"5", b"[5]", b'"5"', b'{"seconds": NaN}', b'{"seconds": Infinity}'],
    ids=["empty", "not-json", "number", "array", "string", "bare-NaN", "bare-Infinity"],
)
def test_advance_without_a_json_object_is_a_400(fake: Fake, raw: bytes) -> None:
    response = fake.client.post(
        "/_mock/clock/advance", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400)
    assert fake.now() == START


@pytest.mark.parametrize("raw", [b"", b"not json", b"[5]"], ids=["empty", "not-json", "array"])
def test_advance_without_a_json_object_says_what_to_send(fake: Fake, raw: bytes) -> None:
    # The brief: a missing or non-JSON body is a 400 that names `seconds`, so the caller learns
    # what to send; today the detail only says "body: is empty" / "malformed JSON".
    response = fake.client.post(
        "/_mock/clock/advance", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "seconds")


def test_advance_past_the_calendar_is_a_400_and_leaves_the_clock_usable() -> None:
    # 1e12 s is finite, so MockClock.advance accepts it, but the new time (year ~33,000) cannot
    # be written as a timestamp: today the answer is a 500 and every later call that renders
    # the clock (GET /_mock/clock, every poll) is a 500 until a reset.
    with fake_app(raise_server_exceptions=False) as fake:
        task_id = fake.create()
        response = fake.client.post("/_mock/clock/advance", json={"seconds": 1e12})
        clock = fake.client.get("/_mock/clock")
        poll = fake.client.get(f"{CREATE_PATH}/{task_id}")
        assert (response.status_code, clock.status_code, poll.status_code) == (400, 200, 200), (
            f"advance 1e12 -> {response.status_code} {response.text}; then GET /_mock/clock -> "
            f"{clock.status_code} {clock.text}; poll -> {poll.status_code}"
        )
        assert_error(response, 400, "seconds")
        assert clock.json()["clock"]["unix"] == START


def test_freeze_and_resume_a_real_clock() -> None:
    t = FakeTime()
    with fake_app(clock=t.real_clock(speed=2.0)) as fake:
        state = fake.ok("GET", "/_mock/clock")["clock"]
        assert (state["mode"], state["frozen"], state["speed"]) == ("real", False, 2.0)
        assert state["unix"] == t.wall
        task_id = fake.create()
        t.mono += 0.5
        assert fake.now() == t.wall + 1.0  # speed 2

        frozen = fake.ok("POST", "/_mock/clock/freeze")["clock"]
        assert (frozen["frozen"], frozen["unix"]) == (True, t.wall + 1.0)
        status_at_freeze = fake.poll(task_id)["task_info"]["status"]
        t.mono += 50  # 100 fake seconds would pass if time were running
        assert fake.now() == t.wall + 1.0, "frozen time moved"
        assert fake.poll(task_id)["task_info"]["status"] == status_at_freeze
        assert fake.ok("POST", "/_mock/clock/freeze")["clock"]["unix"] == t.wall + 1.0

        advanced = fake.ok("POST", "/_mock/clock/advance", json={"seconds": 3})["clock"]
        assert (advanced["frozen"], advanced["unix"]) == (True, t.wall + 4.0)

        resumed = fake.ok("POST", "/_mock/clock/resume")["clock"]
        assert resumed["frozen"] is False
        assert resumed["unix"] == t.wall + 4.0, "resume must continue from the frozen instant"
        t.mono += 1
        assert fake.now() == t.wall + 6.0
        assert fake.ok("POST", "/_mock/clock/resume")["clock"]["unix"] == t.wall + 6.0
        t.mono += 10
        assert fake.poll(task_id)["task_info"]["status"] == "succeeded"


def test_freeze_and_resume_never_move_time_backwards() -> None:
    t = FakeTime()
    with fake_app(clock=t.real_clock(speed=10.0)) as fake:
        seen = [fake.now()]
        for step in range(6):
            t.mono += 0.25
            action = ("freeze", "resume", "advance")[step % 3]
            if action == "advance":
                fake.ok("POST", "/_mock/clock/advance", json={"seconds": 1.5})
            else:
                fake.ok("POST", f"/_mock/clock/{action}")
            seen.append(fake.now())
            t.mono += 0.25
            seen.append(fake.now())
        assert seen == sorted(seen), f"time went backwards: {seen}"


def test_resume_leaves_a_virtual_clock_frozen(fake: Fake) -> None:
    assert (
        fake.ok("POST", "/_mock/clock/freeze")["clock"] == fake.ok("GET", "/_mock/clock")["clock"]
    )
    resumed = fake.ok("POST", "/_mock/clock/resume")["clock"]
    assert (resumed["frozen"], resumed["unix"]) == (True, START)
    assert fake.now() == START


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
    # `_int` checks str.isdigit(), which is true for "²" and "①", then int() raises ValueError:
    # GET /_mock/tasks?limit=%C2%B2 answers 500 "internal error (ValueError)".
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
    error = assert_error(fake.client.post(f"/_mock/tasks/{task_id}/{action}"), 400)
    assert f"already {ended}" in error["detail"], error
    assert fake.poll(task_id) == before


@pytest.mark.parametrize("action", ["succeed", "fail"])
def test_forcing_an_unknown_task_is_a_404(fake: Fake, action: str) -> None:
    error = assert_error(fake.client.post(f"/_mock/tasks/{UNKNOWN_ID}/{action}"), 404, UNKNOWN_ID)
    assert error["error_code"] == 2005


def test_the_control_plane_sees_and_forces_every_keys_tasks(fake: Fake) -> None:
    task_id = fake.create(headers=OTHER)
    fake.ok("POST", f"/_mock/tasks/{task_id}/succeed")
    assert fake.poll(task_id, headers=OTHER)["task_info"]["status"] == "succeeded"
    # The API itself still hides it from other keys.
    assert fake.client.get(f"{CREATE_PATH}/{task_id}").status_code == 404


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


# --- settings -----------------------------------------------------------------------------------


def test_settings_shows_every_setting(fake: Fake) -> None:
    shown = fake.settings()
    assert set(shown) == set(Settings.__struct_fields__)
    assert shown["seed"] == 1
    assert shown["failure_rate"] == 0.0
    assert shown["admin_token"] is None
    assert shown["dialect"]["statuses"] == "default"
    assert shown["limits"] == {
        "submissions_per_second": None,
        "concurrent_tasks": None,
        "polls_per_second": None,
    }


def test_settings_mask_the_admin_token() -> None:
    with fake_app(Settings(seed=1, admin_token=TOKEN), headers=ADMIN) as fake:
        response = fake.client.get("/_mock/settings")
        assert response.status_code == 200, response.text
        assert response.json()["admin_token"] == "***"
        assert TOKEN not in response.text
        patched = fake.client.patch("/_mock/settings", json={"failure_rate": 0.5})
        assert patched.json()["admin_token"] == "***"
        assert TOKEN not in patched.text


def test_patch_failure_rate_applies_to_new_tasks(fake: Fake) -> None:
    before = fake.create()
    assert fake.ok("PATCH", "/_mock/settings", json={"failure_rate": 1})["failure_rate"] == 1.0
    after = [fake.create() for _ in range(3)]
    fake.clock.advance(60)
    assert fake.poll(before)["task_info"]["status"] == "succeeded", "an existing plan changed"
    for task_id in after:
        polled = fake.poll(task_id)["task_info"]
        assert polled["status"] == "failed", polled
        assert polled["error"]["code"] in FAILURE_CODES


def test_patch_strict_rejects_undocumented_fields_live(fake: Fake) -> None:
    fake.create(colour="blue")
    assert fake.ok("PATCH", "/_mock/settings", json={"strict": True})["strict"] is True
    response = fake.client.post(CREATE_PATH, json=body(colour="blue"))
    assert response.status_code == 400, response.text
    assert "colour" in response.text
    fake.ok("PATCH", "/_mock/settings", json={"strict": False})
    fake.create(colour="blue")


def test_patch_dialect_by_name(fake: Fake) -> None:
    task_id = fake.create()
    fake.clock.advance(1.0)
    shown = fake.ok("PATCH", "/_mock/settings", json={"dialect": "legacy"})["dialect"]
    assert (shown["statuses"], shown["timestamps"]) == ("legacy", "z")
    info = fake.poll(task_id)["task_info"]
    assert info["status"] == "processing"
    assert info["created_at"] == "2026-09-21T14:13:20Z"
    fake.clock.advance(60)
    assert fake.poll(task_id)["task_info"]["status"] == "completed"


def test_patch_dialect_as_a_table(fake: Fake) -> None:
    task_id = fake.create()
    shown = fake.ok("PATCH", "/_mock/settings", json={"dialect": {"statuses": "queued"}})
    assert shown["dialect"] == {
        "statuses": "queued",
        "error_body": "default",
        "timestamps": "observed",
        "create_status": 202,
        "error_placement": "task_info",
    }
    assert fake.poll(task_id)["task_info"]["status"] == "queued"
    fake.ok("PATCH", "/_mock/settings", json={"dialect": {"create_status": 200}})
    assert fake.client.post(CREATE_PATH, json=body()).status_code == 200


def test_patch_limits_by_name_and_as_a_table(fake: Fake) -> None:
    fake.ok("PATCH", "/_mock/settings", json={"limits": "realistic"})
    codes = [fake.client.post(CREATE_PATH, json=body()).status_code for _ in range(6)]
    assert codes == [202] * 5 + [429], codes
    fake.ok("PATCH", "/_mock/settings", json={"limits": "off"})
    assert fake.client.post(CREATE_PATH, json=body()).status_code == 202
    shown = fake.ok("PATCH", "/_mock/settings", json={"limits": {"polls_per_second": 1}})
    assert shown["limits"]["polls_per_second"] == 1.0
    task_id = fake.create()
    path = f"{CREATE_PATH}/{task_id}"
    assert [fake.client.get(path).status_code for _ in range(2)] == [200, 429]


def test_patch_faults_live(fake: Fake) -> None:
    faults = [{"target": "create", "status": 503}]
    assert (
        fake.ok("PATCH", "/_mock/settings", json={"faults": faults})["faults"][0]["status"] == 503
    )
    response = fake.client.post(CREATE_PATH, json=body())
    assert response.status_code == 503
    assert response.headers["x-wan-mock-injected"] == "fault status:503"
    fake.ok("PATCH", "/_mock/settings", json={"faults": []})
    fake.create()


def test_patch_journal_size_keeps_the_newest(fake: Fake) -> None:
    ids = [fake.create() for _ in range(4)]
    for task_id in ids:
        fake.poll(task_id)
    fake.ok("PATCH", "/_mock/settings", json={"journal_size": 2})
    entries = fake.ok("GET", "/_mock/journal")["entries"]
    assert [e["path"] for e in entries] == [f"{CREATE_PATH}/{task_id}" for task_id in ids[2:]]


def test_patch_with_an_empty_object_changes_nothing(fake: Fake) -> None:
    before = fake.settings()
    assert fake.ok("PATCH", "/_mock/settings", json={}) == before


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("host", "0.0.0.0"),
        ("port", 9000),
        ("clock", "real"),
        ("speed", 10.0),
        ("virtual_start", 0),
        ("access_log", False),
    ],
)
def test_patch_refuses_restart_only_settings(fake: Fake, key: str, value: Any) -> None:
    before = fake.settings()
    response = fake.client.patch("/_mock/settings", json={key: value, "failure_rate": 0.5})
    error = assert_error(response, 400, key)
    assert error["field"] == key
    assert "start" in error["detail"], error
    assert fake.settings() == before, "a refused PATCH changed settings"


def test_patch_refuses_an_unknown_setting(fake: Fake) -> None:
    before = fake.settings()
    response = fake.client.patch("/_mock/settings", json={"failure_rat": 0.5})
    assert "unknown" in assert_error(response, 400, "failure_rat")["detail"]
    assert fake.settings() == before


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("failure_rate", 2),
        ("failure_rate", -0.1),
        ("failure_rate", "often"),
        ("strict", "yes"),
        ("timing", "slow"),
        ("dialect", "klingon"),
        ("dialect", {"statuses": "klingon"}),
        ("limits", "strict"),
        ("limits", {"concurrent_tasks": 0}),
        ("journal_size", -1),
        ("faults", [{"status": 503, "drop": True}]),
        ("admin_token", "short"),
        ("public_url", "ftp://example.com"),
    ],
    ids=repr,
)
def test_patch_refuses_a_bad_value_naming_the_setting(fake: Fake, key: str, value: Any) -> None:
    before = fake.settings()
    response = fake.client.patch("/_mock/settings", json={"failure_rate": 0.25, key: value})
    assert_error(response, 400, key)
    assert fake.settings() == before, "a refused PATCH changed settings"


def test_patch_refuses_a_body_that_is_not_an_object(fake: Fake) -> None:
    assert_error(fake.client.patch("/_mock/settings", json=[["failure_rate", 1]]), 400, "body")
    assert_error(fake.client.patch("/_mock/settings", content=b"{"), 400)


def test_patching_the_seed_is_refused_or_takes_effect(fake: Fake) -> None:
    # Today PATCH {"seed": 5} answers 200 and GET /_mock/settings shows seed 5, but the random
    # streams are never reseeded: ids and plans keep following seed 1 (and a reset goes back to
    # seed 1). Either refuse it like the restart-only settings, or reseed.
    response = fake.client.patch("/_mock/settings", json={"seed": 5})
    if response.status_code == 400:
        assert_error(response, 400, "seed")
        return
    assert response.status_code == 200, response.text
    created = fake.create()
    with fake_app(Settings(seed=5)) as fresh:
        expected = fresh.create()
    with fake_app(Settings(seed=1)) as old:
        old_first = old.create()
    assert created == expected, (
        f"PATCH seed=5 answered 200 (settings now say seed {response.json()['seed']}), but the "
        f"next id is {created} ({'seed 1 first id' if created == old_first else '?'}); a fresh "
        f"fake with seed 5 makes {expected}"
    )


# --- journal ------------------------------------------------------------------------------------


def test_journal_is_bounded_by_journal_size_newest_last() -> None:
    with fake_app(Settings(seed=1, journal_size=3)) as fake:
        paths = [f"/step-{n}" for n in range(5)]
        for path in paths:
            fake.client.get(path)
        journal = fake.ok("GET", "/_mock/journal")
        assert journal["count"] == 3
        assert [e["path"] for e in journal["entries"]] == paths[2:]


def test_journal_limit(fake: Fake) -> None:
    for n in range(4):
        fake.client.get(f"/n{n}")
    assert [e["path"] for e in fake.ok("GET", "/_mock/journal?limit=2")["entries"]] == [
        "/n2",
        "/n3",
    ]
    assert fake.ok("GET", "/_mock/journal?limit=0") == {"count": 0, "entries": []}
    assert fake.ok("GET", "/_mock/journal?limit=99")["count"] == 4
    for bad in ("-1", "x", "2.0"):
        assert_error(fake.client.get(f"/_mock/journal?limit={bad}"), 400, "limit")


def test_journal_records_api_calls_including_errors(fake: Fake) -> None:
    task_id = fake.create()
    fake.clock.advance(30)
    fake.poll(task_id)
    fake.client.post(CREATE_PATH, json=body(duration=7))  # 400
    fake.client.get(f"{CREATE_PATH}/{UNKNOWN_ID}")  # 404
    fake.client.get(f"{CREATE_PATH}/{task_id}", headers={"Authorization": ""})  # 401
    fake.client.delete(CREATE_PATH)  # 405
    fake.client.get("/nowhere")  # 404, no route
    entries = fake.ok("GET", "/_mock/journal")["entries"]
    seen = [(e["method"], e["path"], e["status"]) for e in entries]
    assert seen == [
        ("POST", CREATE_PATH, 202),
        ("GET", f"{CREATE_PATH}/{task_id}", 200),
        ("POST", CREATE_PATH, 400),
        ("GET", f"{CREATE_PATH}/{UNKNOWN_ID}", 404),
        ("GET", f"{CREATE_PATH}/{task_id}", 401),
        ("DELETE", CREATE_PATH, 405),
        ("GET", "/nowhere", 404),
    ]
    assert entries[0]["at"] == timestamp(START)
    assert entries[1]["at"] == timestamp(START + 30)
    for entry in entries:
        assert set(entry) == {"at", "method", "path", "status", "duration_ms", "owner"}
        assert isinstance(entry["duration_ms"], float | int)
        assert entry["duration_ms"] >= 0


def test_journal_shows_key_fingerprints_only(fake: Fake) -> None:
    fake.create()
    fake.create(headers=OTHER)
    fake.client.get("/openapi.json", headers={"Authorization": ""})
    response = fake.client.get("/_mock/journal")
    owners = [e["owner"] for e in response.json()["entries"]]
    assert owners == [fingerprint(KEY), fingerprint(OTHER_KEY), None]
    assert KEY not in response.text
    assert OTHER_KEY not in response.text


def test_journal_leaves_out_control_plane_calls(fake: Fake) -> None:
    fake.ok("GET", "/_mock/health")
    fake.ok("GET", "/_mock/tasks")
    fake.ok("POST", "/_mock/clock/advance", json={"seconds": 1})
    fake.ok("PATCH", "/_mock/settings", json={})
    fake.client.get("/_mock/nothing-here")
    fake.client.post(f"/_mock/tasks/{UNKNOWN_ID}/succeed")
    assert fake.ok("GET", "/_mock/journal") == {"count": 0, "entries": []}


def test_journal_records_a_dropped_connection_as_status_0(fake: Fake) -> None:
    task_id = fake.create()
    fake.ok("PATCH", "/_mock/settings", json={"faults": [{"target": "poll", "drop": True}]})
    with pytest.raises(ConnectionDropped):  # a bare ASGI client sees the cause itself
        fake.client.get(f"{CREATE_PATH}/{task_id}")
    last = fake.ok("GET", "/_mock/journal")["entries"][-1]
    assert (last["method"], last["path"], last["status"]) == ("GET", f"{CREATE_PATH}/{task_id}", 0)


# --- routing and the contract -------------------------------------------------------------------


def test_the_control_plane_is_never_in_the_contract(fake: Fake) -> None:
    response = fake.client.get("/openapi.json")
    assert response.status_code == 200
    assert not [p for p in response.json()["paths"] if p.startswith("/_mock")]
    assert "_mock" not in response.text
    assert "x-wan-mock-admin-token" not in response.text.lower()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/_mock/health", "GET"),
        ("GET", "/_mock/reset", "POST"),
        ("POST", "/_mock/clock", "GET"),
        ("GET", "/_mock/clock/advance", "POST"),
        ("GET", "/_mock/clock/freeze", "POST"),
        ("DELETE", "/_mock/clock/resume", "POST"),
        ("DELETE", "/_mock/tasks", "GET"),
        ("POST", f"/_mock/tasks/{UNKNOWN_ID}", "GET"),
        ("GET", f"/_mock/tasks/{UNKNOWN_ID}/succeed", "POST"),
        ("PUT", f"/_mock/tasks/{UNKNOWN_ID}/fail", "POST"),
        ("PATCH", "/_mock/scenarios", "DELETE"),
        ("PUT", "/_mock/settings", "PATCH"),
        ("POST", "/_mock/journal", "GET"),
    ],
)
def test_wrong_methods_are_a_json_405(fake: Fake, method: str, path: str, allowed: str) -> None:
    response = fake.client.request(method, path)
    error = assert_error(response, 405, method)
    assert error["error_code"] == 405
    assert allowed in response.headers["allow"], response.headers


@pytest.mark.parametrize(
    "path", ["/_mock/x", "/_mock/", "/_mock", "/_mock/clock/rewind", "/_mock/tasks/a/b/c"]
)
def test_unknown_control_paths_are_a_json_404(fake: Fake, path: str) -> None:
    error = assert_error(fake.client.get(path), 404, path)
    assert error["error_code"] == 404


@pytest.mark.parametrize("error_body", ["envelope", "detail", "random"])
def test_control_plane_errors_keep_their_shape_under_any_dialect(
    fake: Fake, error_body: str
) -> None:
    # The dialect is how the fake imitates the *API*; the control plane is not the API. Today a
    # control-plane 400 under error_body="envelope" is a fake task envelope with a nil id and
    # no top-level detail or field, and under "detail" the field is gone.
    fake.ok("PATCH", "/_mock/settings", json={"dialect": {"error_body": error_body}})
    for _ in range(3):  # "random" draws a shape per answer
        response = fake.client.post("/_mock/clock/advance", json={"seconds": -1})
        error = assert_error(response, 400, "seconds")
        assert error.get("field") == "seconds", f"dialect error_body={error_body}: {error}"


# --- the admin guard ----------------------------------------------------------------------------

# Every method of every control-plane route, with a body it accepts (reset last: it removes the
# tasks the others act on).
ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/_mock/health", None),
    ("GET", "/_mock/clock", None),
    ("POST", "/_mock/clock/advance", {"seconds": 1}),
    ("POST", "/_mock/clock/freeze", None),
    ("POST", "/_mock/clock/resume", None),
    ("GET", "/_mock/tasks", None),
    ("GET", "/_mock/tasks/{first}", None),
    ("POST", "/_mock/tasks/{first}/succeed", None),
    ("POST", "/_mock/tasks/{second}/fail", {"code": 3002}),
    ("GET", "/_mock/scenarios", None),
    ("POST", "/_mock/scenarios", {"scenario": "slow"}),
    ("DELETE", "/_mock/scenarios", None),
    ("GET", "/_mock/settings", None),
    ("PATCH", "/_mock/settings", {"failure_rate": 0.5}),
    ("GET", "/_mock/journal", None),
    ("POST", "/_mock/reset", None),
]
ENDPOINT_IDS = [f"{method} {path}" for method, path, _ in ENDPOINTS]


def _two_tasks(fake: Fake) -> dict[str, str]:
    return {"first": fake.create(), "second": fake.create()}


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Wan-Mock-Admin-Token": "wrong-token"}, {"X-Wan-Mock-Admin-Token": TOKEN + "x"}],
    ids=["no-token", "wrong-token", "longer-token"],
)
def test_admin_token_is_required_on_every_endpoint(headers: dict[str, str]) -> None:
    with fake_app(Settings(seed=1, admin_token=TOKEN)) as fake:
        ids = _two_tasks(fake)
        for method, path, payload in ENDPOINTS:
            response = fake.client.request(
                method, path.format(**ids), json=payload, headers=headers
            )
            error = assert_error(response, 403)
            assert error["error_code"] == 403
            assert "X-Wan-Mock-Admin-Token" in error["detail"], error
        # Nothing the refused calls asked for happened.
        state = fake.ok("GET", "/_mock/tasks", headers=ADMIN)
        assert [t["status"] for t in state["tasks"]] == ["pending", "pending"]
        assert fake.ok("GET", "/_mock/clock", headers=ADMIN)["clock"]["unix"] == START
        assert fake.ok("GET", "/_mock/settings", headers=ADMIN)["failure_rate"] == 0.0


def test_the_right_admin_token_opens_every_endpoint() -> None:
    with fake_app(Settings(seed=1, admin_token=TOKEN), headers=ADMIN) as fake:
        ids = _two_tasks(fake)
        for method, path, payload in ENDPOINTS:
            fake.ok(method, path.format(**ids), json=payload)


def test_patching_the_admin_token_switches_it_live_and_reset_restores_it() -> None:
    with fake_app(Settings(seed=1, admin_token=TOKEN)) as fake:
        fake.ok("PATCH", "/_mock/settings", json={"admin_token": "n3w-token!"}, headers=ADMIN)
        assert fake.client.get("/_mock/health", headers=ADMIN).status_code == 403
        new = {"X-Wan-Mock-Admin-Token": "n3w-token!"}
        fake.ok("POST", "/_mock/reset", headers=new)
        assert fake.client.get("/_mock/health", headers=new).status_code == 403
        fake.ok("GET", "/_mock/health", headers=ADMIN)


async def _sweep(
    settings: Settings, client: tuple[str, int], headers: dict[str, str] | None = None
) -> list[tuple[str, int, Any]]:
    """Every endpoint from ``client``'s address: (endpoint, status, body)."""
    app = create_app(settings, clock=ManualClock())
    transport = httpx.ASGITransport(app=app, client=client)
    answers: list[tuple[str, int, Any]] = []
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, headers={**AUTH, **(headers or {})}
    ) as http:
        ids: dict[str, str] = {}
        for name in ("first", "second"):
            created = await http.post(CREATE_PATH, json=body())
            assert created.status_code == 202, f"the API refused {client}: {created.text}"
            ids[name] = created.json()["task_info"]["id"]
        for method, path, payload in ENDPOINTS:
            response = await http.request(method, path.format(**ids), json=payload)
            answers.append((f"{method} {path}", response.status_code, response.json()))
    return answers


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.1.10", "8.8.8.8", "::ffff:10.0.0.1"])
def test_without_a_token_other_hosts_are_refused(address: str) -> None:
    answers = asyncio.run(_sweep(Settings(seed=1), (address, 5555)))
    for endpoint, status, answer in answers:
        assert status == 403, f"{endpoint} from {address}: {status} {answer}"
        assert answer["error_code"] == 403
        assert "--admin-token" in answer["detail"], answer


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.53", "::1"])
def test_without_a_token_loopback_clients_are_served(address: str) -> None:
    for endpoint, status, answer in asyncio.run(_sweep(Settings(seed=1), (address, 5555))):
        assert status == 200, f"{endpoint} from {address}: {status} {answer}"


def test_with_a_token_every_client_needs_it() -> None:
    settings = Settings(seed=1, admin_token=TOKEN)
    for address in ("127.0.0.1", "10.1.2.3"):
        for endpoint, status, _ in asyncio.run(_sweep(settings, (address, 1))):
            assert status == 403, f"{endpoint} from {address} without the token: {status}"
        for endpoint, status, answer in asyncio.run(_sweep(settings, (address, 1), ADMIN)):
            assert status == 200, f"{endpoint} from {address} with the token: {status} {answer}"


# --- CLI: loopback and the made-up token --------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert cli._is_loopback(host) is loopback


@dataclass
class Served:
    settings: Settings
    output: str
    bound: tuple[str, int]


@pytest.fixture
def serve_without_listening(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[[Callable[[], int]], Served]]:
    """Run the serve path up to uvicorn: the socket is a loopback one whatever the host, and
    uvicorn never runs. Yields a function that runs ``call`` and reports what serve did."""
    made: list[Settings] = []
    sockets: list[socket.socket] = []
    bound: list[tuple[str, int]] = []
    real_create_app = app_module.create_app

    def create(settings: Settings | None = None, **kwargs: Any) -> MockApp:
        assert settings is not None
        made.append(settings)
        return real_create_app(settings, **kwargs)

    def bind(host: str, port: int) -> socket.socket:
        bound.append((host, port))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        return sock

    def run(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        assert sockets, "serve gave uvicorn no socket"

    monkeypatch.setattr(app_module, "create_app", create)
    monkeypatch.setattr(cli, "_bind", bind)
    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr(gc, "freeze", lambda: None)
    monkeypatch.setattr(logging.getLogger("uvicorn.error"), "filters", [])

    def serve(call: Callable[[], int]) -> Served:
        assert call() == 0
        return Served(made[-1], capsys.readouterr().out, bound[-1])

    try:
        yield serve
    finally:
        for sock in sockets:
            sock.close()


TOKEN_LINE = re.compile(r"admin token \(X-Wan-Mock-Admin-Token\): (\S+)")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_serve_beyond_loopback_makes_up_an_admin_token(
    serve_without_listening: Callable[[Callable[[], int]], Served], host: str
) -> None:
    settings = Settings(host=host, port=0, access_log=False)
    served = serve_without_listening(lambda: cli.serve(settings))
    assert served.bound == (host, 0)
    token = served.settings.admin_token
    assert token is not None, "no admin token was made up for a non-loopback host"
    assert re.fullmatch(r"\S{16,}", token), token
    assert served.settings.validated().admin_token == token  # the token passes its own check
    match = TOKEN_LINE.search(served.output)
    assert match is not None, served.output
    assert match.group(1) == token
    again = serve_without_listening(lambda: cli.serve(settings))
    assert again.settings.admin_token != token, "the made-up token is not random"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_serve_on_loopback_needs_no_token(
    serve_without_listening: Callable[[Callable[[], int]], Served], host: str
) -> None:
    served = serve_without_listening(lambda: cli.serve(Settings(host=host, port=0)))
    assert served.settings.admin_token is None
    assert "admin token" not in served.output


def test_serve_keeps_a_given_token_beyond_loopback(
    serve_without_listening: Callable[[Callable[[], int]], Served],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [n for n in os.environ if n.startswith("WAN_MOCK_")]:
        monkeypatch.delenv(name)
    argv = ["serve", "--host", "0.0.0.0", "--port", "0", "--admin-token", TOKEN]
    served = serve_without_listening(lambda: cli.main(argv))
    assert served.settings.admin_token == TOKEN
    assert f"admin token (X-Wan-Mock-Admin-Token): {TOKEN}" in served.output
    assert "http://127.0.0.1:" in served.output  # 0.0.0.0 is advertised as loopback


def test_banner_shows_the_token_only_when_there_is_one() -> None:
    with_token = cli._banner(Settings(admin_token=TOKEN), "http://127.0.0.1:9")
    assert f"admin token (X-Wan-Mock-Admin-Token): {TOKEN}" in with_token
    assert "http://127.0.0.1:9/_mock/" in with_token
    assert "admin token" not in cli._banner(Settings(), "http://127.0.0.1:9")
