"""``mockserver.Control``, the typed client of the control plane, against a real
``wan-mock serve`` (two server starts for the whole module), plus a few calls through an
httpx MockTransport to pin down what it sends and how it reports failures."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver import Control, ControlError, __version__
from mockserver.control import (
    ClockState,
    JournalEntry,
    PlanStep,
    QueuedScenario,
    TaskDetail,
    TaskPlan,
    TaskSummary,
)
from mockserver.domain.journal import fingerprint
from mockserver.domain.keys import mask
from mockserver.server.wire import timestamp
from tests.helpers import AUTH, CREATE_PATH, KEY, OTHER, OTHER_KEY, UNKNOWN_ID, body
from tests.server_process import ServerProcess, running_server

VIRTUAL_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the default virtual_start

TOKEN = "client-t0ken-123"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server("--clock", "virtual", "--seed", "1", "--no-access-log") as process:
        yield process


@pytest.fixture(scope="module")
def module_control(server: ServerProcess) -> Iterator[Control]:
    with Control(server.base_url) as control:
        yield control


@pytest.fixture
def control(module_control: Control) -> Control:
    """The shared client, on a fake reset to its start state."""
    module_control.reset()
    return module_control


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=10) as client:
        yield client


def create(api: httpx.Client, headers: dict[str, str] | None = None, **fields: Any) -> str:
    response = api.post(CREATE_PATH, json=body(**fields), headers=headers)
    assert response.status_code == 202, f"create: {response.status_code} {response.text}"
    return str(response.json()["task_info"]["id"])


def status_of(api: httpx.Client, task_id: str) -> str:
    return str(api.get(f"{CREATE_PATH}/{task_id}").json()["task_info"]["status"])


# --- health, reset, clock -----------------------------------------------------------------------


def test_health(control: Control, api: httpx.Client) -> None:
    assert control.health() == {"status": "ok", "version": __version__, "tasks": 0}
    create(api)
    assert control.health()["tasks"] == 1


def test_reset_returns_the_start_clock_and_empties_the_fake(
    control: Control, api: httpx.Client
) -> None:
    first = create(api)
    control.advance(100)
    control.queue("slow")
    state = control.reset()
    assert state == ClockState(
        mode="virtual",
        now="2026-01-01T00:00:00.000000+00:00",
        unix=VIRTUAL_START,
        frozen=True,
        speed=1.0,
    )
    assert (control.tasks(), control.scenarios(), control.journal()) == ([], [], [])
    assert create(api) == first, "ids after reset do not repeat the first ones"


def test_clock_advance_freeze_resume(control: Control, api: httpx.Client) -> None:
    assert control.clock() == control.reset()
    task_id = create(api)
    advanced = control.advance(2.5)
    assert isinstance(advanced, ClockState)
    assert (advanced.unix, advanced.now) == (VIRTUAL_START + 2.5, timestamp(VIRTUAL_START + 2.5))
    assert control.clock() == advanced
    assert status_of(api, task_id) == "running"
    assert control.advance(60).unix == VIRTUAL_START + 62.5
    assert status_of(api, task_id) == "succeeded"
    frozen = control.freeze()
    assert (frozen.frozen, frozen.unix) == (True, VIRTUAL_START + 62.5)
    resumed = control.resume()  # a virtual clock stays put
    assert (resumed.frozen, resumed.unix) == (True, VIRTUAL_START + 62.5)


def test_a_refused_advance_raises_control_error(control: Control) -> None:
    with pytest.raises(ControlError) as raised:
        control.advance(-1)
    error = raised.value
    assert error.status == 400
    assert isinstance(error.body, dict)
    assert (error.body["field"], error.body["error_code"]) == ("seconds", 2001)
    assert str(error) == (
        "POST /_mock/clock/advance -> HTTP 400: seconds: must be a number of seconds >= 0"
    )
    assert control.clock().unix == VIRTUAL_START
    for endless in (math.nan, math.inf):  # never sent as a number the fake would accept
        with pytest.raises((ValueError, ControlError)):
            control.advance(endless)
    assert control.clock().unix == VIRTUAL_START


# --- tasks --------------------------------------------------------------------------------------


def test_tasks_are_typed_summaries(control: Control, api: httpx.Client) -> None:
    first = create(api, prompt="one")
    second = create(api, headers={**OTHER, "X-Wan-Mock-Scenario": "stuck"}, prompt="two")
    control.advance(1)
    third = create(api, prompt="three")
    tasks = control.tasks()
    assert all(isinstance(t, TaskSummary) for t in tasks)
    assert [t.id for t in tasks] == [first, second, third]
    one, two, three = tasks
    assert one == TaskSummary(
        id=first,
        owner=fingerprint(KEY),
        status="running",
        created_at=timestamp(VIRTUAL_START),
        updated_at=one.updated_at,
        scenario=None,
        scenario_source=None,
        prompt="one",
    )
    assert one.updated_at > one.created_at
    assert (two.owner, two.scenario, two.scenario_source) == (
        fingerprint(OTHER_KEY),
        "stuck",
        "header",
    )
    assert (three.status, three.created_at) == ("pending", timestamp(VIRTUAL_START + 1))
    assert [t.id for t in control.tasks(status="running")] == [first, second]
    assert [t.id for t in control.tasks(key=KEY)] == [first, third]
    assert [t.id for t in control.tasks(key=OTHER_KEY, status="pending")] == []
    assert [t.id for t in control.tasks(limit=1)] == [third]
    assert control.tasks(limit=0) == []


def test_task_is_a_typed_detail(control: Control, api: httpx.Client) -> None:
    task_id = create(api, headers={"X-Wan-Mock-Scenario": "fail:3003"}, duration=15)
    detail = control.task(task_id)
    assert isinstance(detail, TaskDetail)
    assert isinstance(detail.plan, TaskPlan)
    assert (detail.id, detail.status, detail.scenario, detail.scenario_source) == (
        task_id,
        "pending",
        "fail:3003",
        "header",
    )
    assert detail.request["duration"] == 15
    assert detail.request["image"]["url"] == "https://example.com/first_frame.jpg"
    assert [step.status for step in detail.plan.steps] == ["pending", "running", "failed"]
    assert all(isinstance(step, PlanStep) for step in detail.plan.steps)
    assert detail.plan.failure is not None
    assert detail.plan.failure["code"] == 3003
    assert detail.plan.finishes is True
    assert detail.history == [PlanStep(status="pending", at=timestamp(VIRTUAL_START))]
    control.advance(3600)
    assert control.task(task_id).history == detail.plan.steps


def test_succeed_and_fail(control: Control, api: httpx.Client) -> None:
    ids = [create(api) for _ in range(4)]
    assert control.succeed(ids[0]) == "succeeded"
    assert control.fail(ids[1], 3002) == "failed"
    assert control.fail(ids[2], "safety") == "failed"
    assert control.fail(ids[3]) == "failed"
    assert [status_of(api, task_id) for task_id in ids] == ["succeeded"] + ["failed"] * 3
    failures = [control.task(task_id).plan.failure for task_id in ids[1:]]
    assert [f["code"] if f else None for f in failures] == [3002, 3005, 3001]
    with pytest.raises(ControlError) as raised:
        control.succeed(ids[1])
    assert raised.value.status == 400
    assert f"task {ids[1]} has already failed" in str(raised.value)


def test_stick(control: Control, api: httpx.Client) -> None:
    task_id = create(api)
    assert control.stick(task_id) == "running"
    control.advance(86_400)
    assert status_of(api, task_id) == "running"
    assert control.task(task_id).plan.finishes is False


def test_unknown_task_raises_control_error_404(control: Control) -> None:
    for call in (control.task, control.succeed, control.fail):
        with pytest.raises(ControlError) as raised:
            call(UNKNOWN_ID)
        assert raised.value.status == 404
        assert isinstance(raised.value.body, dict)
        assert raised.value.body["error_code"] == 2005
        assert f"Task {UNKNOWN_ID} does not exist" in str(raised.value)


def test_an_unknown_failure_code_raises_control_error(control: Control, api: httpx.Client) -> None:
    task_id = create(api)
    with pytest.raises(ControlError) as raised:
        control.fail(task_id, 1234)
    assert raised.value.status == 400
    assert "3001-3005" in str(raised.value)
    assert status_of(api, task_id) == "pending"


# --- scenarios ----------------------------------------------------------------------------------


def test_queue_scenarios_and_clear(control: Control, api: httpx.Client) -> None:
    assert control.scenarios() == []
    assert control.queue("fail:3002", count=2) == [QueuedScenario("fail:3002", 2)]
    assert control.queue("slow") == [QueuedScenario("fail:3002", 2), QueuedScenario("slow", 1)]
    assert control.scenarios() == [QueuedScenario("fail:3002", 2), QueuedScenario("slow", 1)]
    task_id = create(api)
    assert (control.task(task_id).scenario, control.task(task_id).scenario_source) == (
        "fail:3002",
        "queue",
    )
    assert control.scenarios()[0] == QueuedScenario("fail:3002", 1)
    control.clear_scenarios()
    assert control.scenarios() == []
    assert control.task(create(api)).scenario is None


def test_queueing_a_bad_scenario_raises_control_error(control: Control) -> None:
    with pytest.raises(ControlError) as raised:
        control.queue("explode")
    assert raised.value.status == 400
    assert "unknown scenario 'explode'; use one of: succeed, fail" in str(raised.value)
    with pytest.raises(ControlError, match="count: must be 1 to 1000000"):
        control.queue("fail", count=0)
    assert control.scenarios() == []


# --- settings and journal -----------------------------------------------------------------------


def test_settings_and_update_settings(control: Control, api: httpx.Client) -> None:
    start = control.settings()
    assert (start["seed"], start["clock"], start["access_log"]) == (1, "virtual", False)
    updated = control.update_settings(failure_rate=1.0, dialect="legacy")
    assert updated["failure_rate"] == 1.0
    assert updated["dialect"]["statuses"] == "legacy"
    assert control.settings() == updated
    task_id = create(api)
    control.advance(3600)
    assert status_of(api, task_id) == "failed"
    with pytest.raises(ControlError) as raised:
        control.update_settings(port=1)
    assert raised.value.status == 400
    assert "port" in str(raised.value)
    control.reset()
    assert control.settings() == start


def test_journal_entries_are_typed(control: Control, api: httpx.Client) -> None:
    task_id = create(api)
    control.advance(5)
    api.get(f"{CREATE_PATH}/{task_id}")
    api.get(f"{CREATE_PATH}/{UNKNOWN_ID}")
    control.tasks()  # control-plane calls are not journalled
    entries = control.journal()
    assert all(isinstance(entry, JournalEntry) for entry in entries)
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("POST", CREATE_PATH, 202),
        ("GET", f"{CREATE_PATH}/{task_id}", 200),
        ("GET", f"{CREATE_PATH}/{UNKNOWN_ID}", 404),
    ]
    assert [e.at for e in entries] == [
        timestamp(VIRTUAL_START),
        timestamp(VIRTUAL_START + 5),
        timestamp(VIRTUAL_START + 5),
    ]
    assert {e.owner for e in entries} == {fingerprint(KEY)}
    assert all(e.duration_ms >= 0 for e in entries)
    assert control.journal(limit=1) == entries[-1:]


def test_control_error_stays_helpful_under_any_dialect(control: Control) -> None:
    # Whatever error_body the API imitates, a ControlError names what was wrong ("seconds").
    control.update_settings(dialect={"error_body": "envelope"})
    with pytest.raises(ControlError) as raised:
        control.advance(-1)
    assert "seconds" in str(raised.value), f"unhelpful message: {raised.value}"


# --- the admin token ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded_server() -> Iterator[ServerProcess]:
    with running_server("--admin-token", TOKEN, "--no-access-log") as process:
        yield process


def test_admin_token_is_passed_through(guarded_server: ServerProcess) -> None:
    with Control(guarded_server.base_url, admin_token=TOKEN) as control:
        assert control.health()["status"] == "ok"
        assert control.settings()["admin_token"] == mask(TOKEN)
        assert control.reset().mode == "real"
    for token in (None, "wrong-token-456"):
        with Control(guarded_server.base_url, admin_token=token) as refused:
            with pytest.raises(ControlError) as raised:
                refused.health()
            assert raised.value.status == 403
            assert "X-Wan-Mock-Admin-Token" in str(raised.value)
            assert str(raised.value).startswith("GET /_mock/health -> HTTP 403: ")


# --- the client itself --------------------------------------------------------------------------


def test_context_manager_returns_itself_and_closes(server: ServerProcess) -> None:
    control = Control(server.base_url + "/")  # a trailing slash is fine
    with control as entered:
        assert entered is control
        assert control.health()["status"] == "ok"
    with pytest.raises(RuntimeError, match="closed"):
        control.health()


def test_requests_it_sends() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/tasks"):
            return httpx.Response(200, json={"count": 0, "tasks": []})
        return httpx.Response(200, json={"id": "x", "status": "failed"})

    transport = httpx.MockTransport(handler)
    with Control("http://fake.test/base/", admin_token=TOKEN, transport=transport) as control:
        control.tasks(status="running", limit=0)
        control.fail("abc", "safety")
        control.fail("abc")
    tasks, fail_code, fail_plain = seen
    assert str(tasks.url) == "http://fake.test/base/_mock/tasks?status=running&limit=0"
    assert tasks.headers["X-Wan-Mock-Admin-Token"] == TOKEN
    assert (fail_code.method, fail_code.url.path) == ("POST", "/base/_mock/tasks/abc/fail")
    assert fail_code.content == b'{"code":"safety"}'
    assert fail_plain.content == b"{}"


def test_control_error_carries_a_non_json_body() -> None:
    transport = httpx.MockTransport(lambda _request: httpx.Response(502, text="bad gateway"))
    with (
        Control("http://fake.test", transport=transport) as control,
        pytest.raises(ControlError) as raised,
    ):
        control.clock()
    assert (raised.value.status, raised.value.body) == (502, "bad gateway")
    assert str(raised.value) == "GET /_mock/clock -> HTTP 502: bad gateway"
    assert isinstance(raised.value, RuntimeError)
