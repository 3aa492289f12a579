"""The control plane's clock and reset (``/_mock/clock``, ``/_mock/reset``), in process on
a ManualClock, or on a real clock read from hand-moved time."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.server.wire import timestamp
from tests.helpers import (
    CREATE_PATH,
    OTHER,
    START,
    Fake,
    FakeTime,
    assert_error,
    fake_app,
)

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
    assert fake.ok("GET", "/_mock/tasks") == {"count": 0, "tasks": [], "skipped": 0}
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
    with fake_app(clock=t.clock()) as fake:
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
    # The 400 for a missing or non-JSON body names `seconds`, so the caller learns what to send.
    response = fake.client.post(
        "/_mock/clock/advance", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "seconds")


def test_advance_past_the_calendar_is_a_400_and_leaves_the_clock_usable() -> None:
    # 1e12 s is finite, but the time it leads to (year ~33,000) cannot be written as a
    # timestamp: the advance is refused, and the clock and polls keep answering.
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
    with fake_app(clock=t.clock(speed=2.0)) as fake:
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
    with fake_app(clock=t.clock(speed=10.0)) as fake:
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
