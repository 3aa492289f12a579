"""Weighted outcomes and determinism, end to end.

Rates: over 10,000 seeded tasks the shares of failed, slow and stuck tasks are within one
percentage point of the settings (through the Backend, for speed), and a smaller run over HTTP
agrees. Determinism: the same seed and the same requests give the same bytes and headers
(traceparent included) with every kind of randomness switched on; another seed does not; and
``POST /_mock/reset`` replays the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.backend import Backend
from mockserver.domain.behaviour import DIALECT_PROFILES, Fault
from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.planning import Decision
from mockserver.domain.tasks import Status
from tests.helpers import AUTH, BASE_URL, CREATE_PATH, body, without_link_tokens

TASKS = 10_000
TOLERANCE = 0.01  # one percentage point
IMAGE = ImageRef("url", url="https://example.com/first_frame.jpg")
# Requests of every size: the slow threshold below must hold for all of them.
REQUESTS = [
    GenerationRequest("A cat", IMAGE),
    GenerationRequest("A cat", IMAGE, resolution="1080P", duration=15, shot_type="multi"),
    GenerationRequest("A cat", IMAGE, duration=10, prompt_extend=False),
]
# Under the dev profile a normal task takes at most about 5 s and a slow one at least
# 6 x (0.2 + 1.5) = 10.2 s, so the plan alone tells them apart.
SLOW_AFTER = 8.0

# (failure_rate, slow_rate, stuck_rate)
RATES = [
    (0.1, 0.0, 0.0),
    (0.0, 0.2, 0.0),
    (0.0, 0.0, 0.05),
    (0.1, 0.2, 0.05),
    (0.333, 0.123, 0.077),
    (0.5, 0.25, 0.25),
    (0.017, 0.0, 0.003),
]


def outcome_shares(seed: int, fail: float, slow: float, stuck: float) -> dict[str, float]:
    """Shares of each outcome over TASKS tasks, judged from the plans (not the decisions)."""
    settings = Settings(seed=seed, failure_rate=fail, slow_rate=slow, stuck_rate=stuck)
    backend = Backend(settings, ManualClock())
    seen: Counter[str] = Counter()
    for index in range(TASKS):
        state = backend.create_task("key", REQUESTS[index % len(REQUESTS)])
        task = backend.find(state.id)
        plan, decision = task.plan, task.decision
        if not plan.finishes:
            outcome = "stuck"
        elif plan.statuses[-1] is Status.FAILED:
            outcome = "fail"
        elif plan.duration is not None and plan.duration > SLOW_AFTER:
            outcome = "slow"
        else:
            outcome = "succeed"
        seen[outcome] += 1
        # The control plane's record agrees with the plan.
        if outcome == "succeed":
            assert decision is None
        else:
            assert isinstance(decision, Decision)
            assert (decision.scenario.token, decision.source) == (outcome, "weights")
    return {name: count / TASKS for name, count in seen.items()}


@pytest.mark.parametrize("seed", [1, 2, 987_654_321])
@pytest.mark.parametrize(("fail", "slow", "stuck"), RATES)
def test_observed_shares_match_the_settings(
    seed: int, fail: float, slow: float, stuck: float
) -> None:
    shares = outcome_shares(seed, fail, slow, stuck)
    for name, rate in (("fail", fail), ("slow", slow), ("stuck", stuck)):
        assert abs(shares.get(name, 0.0) - rate) <= TOLERANCE, (name, shares)
    expected_success = 1 - fail - slow - stuck
    assert abs(shares.get("succeed", 0.0) - expected_success) <= TOLERANCE


def test_the_same_seed_gives_the_same_outcomes_and_another_does_not() -> None:
    def outcomes(seed: int) -> list[tuple[str | None, tuple[float, ...]]]:
        backend = Backend(Settings(seed=seed, failure_rate=0.2, slow_rate=0.2), ManualClock())
        result = []
        for _ in range(500):
            task = backend.find(backend.create_task("key", REQUESTS[0]).id)
            token = task.decision.scenario.token if isinstance(task.decision, Decision) else None
            result.append((token, task.plan.offsets))
        return result

    assert outcomes(4) == outcomes(4)
    assert outcomes(4) != outcomes(5)


def control_counts(client: TestClient) -> dict[str, int]:
    tasks = client.get("/_mock/tasks").json()["tasks"]
    return dict(Counter(task["scenario"] or "succeed" for task in tasks))


def test_shares_over_http_and_what_clients_see() -> None:
    clock = ManualClock()
    settings = Settings(seed=21, failure_rate=0.2, slow_rate=0.15, stuck_rate=0.1)
    total = 200
    with TestClient(create_app(settings, clock=clock), headers=AUTH, base_url=BASE_URL) as client:
        created = [client.post(CREATE_PATH, json=body()) for _ in range(total)]
        ids = [response.json()["task_info"]["id"] for response in created]
        counts = control_counts(client)
        for name, rate in (("fail", 0.2), ("slow", 0.15), ("stuck", 0.1)):
            assert abs(counts[name] / total - rate) <= TOLERANCE, counts
        # Normal tasks are done after 6 s; slow ones are not yet.
        clock.advance(6)
        early = Counter(client.get(f"{CREATE_PATH}/{i}").json()["task_info"]["status"] for i in ids)
        assert early["succeeded"] == counts["succeed"]
        assert early["failed"] == counts["fail"]
        assert early["pending"] + early["running"] == counts["slow"] + counts["stuck"]
        clock.advance(86_400)
        late = Counter(client.get(f"{CREATE_PATH}/{i}").json()["task_info"]["status"] for i in ids)
        assert late == {
            "succeeded": counts["succeed"] + counts["slow"],
            "failed": counts["fail"],
            "running": counts["stuck"],
        }
        running = client.get("/_mock/tasks", params={"status": "running"}).json()
        assert running["count"] == counts["stuck"]


def test_rates_change_live() -> None:
    with TestClient(create_app(Settings(seed=2), clock=ManualClock()), headers=AUTH) as client:
        client.patch("/_mock/settings", json={"failure_rate": 1.0})
        client.post(CREATE_PATH, json=body())
        client.patch("/_mock/settings", json={"failure_rate": 0.0, "stuck_rate": 1.0})
        client.post(CREATE_PATH, json=body())
        assert [t["scenario"] for t in client.get("/_mock/tasks").json()["tasks"]] == [
            "fail",
            "stuck",
        ]


def test_rates_adding_up_to_more_than_one_are_refused_live() -> None:
    # Rates that cannot all hold are a 400 naming them; the settings stay as they were, so the
    # next PATCH still works.
    client = TestClient(create_app(Settings(seed=2)), raise_server_exceptions=False)
    response = client.patch("/_mock/settings", json={"failure_rate": 0.7, "slow_rate": 0.7})
    assert response.status_code == 400, response.text
    assert "rate" in response.json()["detail"]
    current = client.get("/_mock/settings").json()
    assert (current["failure_rate"], current["slow_rate"]) == (0.0, 0.0)
    assert client.patch("/_mock/settings", json={"failure_rate": 0.5}).status_code == 200


# --- byte-for-byte determinism ------------------------------------------------------------------

Transcript = list[tuple[str, int, list[tuple[str, str]], bytes]]
INCOMING_TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def chaotic(seed: int) -> Settings:
    return Settings(
        seed=seed,
        clock="virtual",
        failure_rate=0.25,
        slow_rate=0.2,
        stuck_rate=0.1,
        dialect=DIALECT_PROFILES["chaos"],
        faults=(
            Fault(target="create", status=429, rate=0.1, retry_after=2),
            Fault(target="poll", status=503, rate=0.15),
            Fault(target="download", status=502, rate=0.3),
        ),
    )


def record(client: TestClient) -> tuple[Transcript, Callable[..., Any]]:
    """A transcript of every call, with link tokens blanked (the one part a seed never fixes)."""
    transcript: Transcript = []

    def call(method: str, path: str, **kwargs: Any) -> Any:
        response = client.request(method, path, **kwargs)
        headers = list(response.headers.multi_items())
        content = without_link_tokens(response.content.decode("latin-1")).encode("latin-1")
        where = without_link_tokens(f"{method} {path}")
        transcript.append((where, response.status_code, headers, content))
        return response

    return transcript, call


def session(client: TestClient) -> Transcript:
    """Creates, bad requests, clock advances, polls and downloads, all recorded."""
    transcript, call = record(client)
    ids: list[str] = []
    creates: list[tuple[dict[str, Any], dict[str, str]]] = [
        (body(), {}),
        (body(resolution="1080P", duration=10), {"traceparent": INCOMING_TRACE}),
        (body(prompt="A fox [wan-mock:fail:3004]"), {}),
        (body(), {"X-Wan-Mock-Scenario": "poll-error:502"}),
        (body(), {"X-Wan-Mock-Scenario": "reject:503"}),
        (body(), {"X-Wan-Mock-Scenario": "slow"}),
        (body(shot_type="multi", duration=15), {}),
        *[(body(prompt=f"Task number {n}"), {}) for n in range(14)],
    ]
    for payload, headers in creates:
        response = call("POST", CREATE_PATH, json=payload, headers=headers)
        if response.status_code in (200, 202):
            ids.append(response.json()["task_info"]["id"])
    call("POST", CREATE_PATH, json=body(duration=7))
    call("POST", CREATE_PATH, content=b"{", headers={"content-type": "application/json"})
    call("POST", CREATE_PATH, json=body(), headers={"X-Wan-Mock-Scenario": "explode"})
    call("POST", CREATE_PATH, json=body(), headers={"Authorization": ""})
    call("GET", f"{CREATE_PATH}/00000000-0000-4000-8000-000000000000")
    call("DELETE", CREATE_PATH)
    for step in (0.3, 0.7, 1.5, 3.0, 10.0, 60.0, 3600.0):
        call("POST", "/_mock/clock/advance", json={"seconds": step})
        for task_id in ids:
            response = call("GET", f"{CREATE_PATH}/{task_id}")
            video = client.app.backend.links.path(task_id)  # type: ignore[attr-defined]
            if response.status_code == 200 and "videos" in response.json():
                call("HEAD", video)
            elif step == 3600.0:
                call("HEAD", video)  # a 404 (or an injected fault)
    call("GET", "/_mock/tasks")
    return transcript


def run(settings: Settings) -> Transcript:
    with TestClient(create_app(settings), headers=AUTH, base_url=BASE_URL) as client:
        return session(client)


def test_same_seed_same_bytes_and_headers() -> None:
    first, second = run(chaotic(7)), run(chaotic(7))
    assert len(first) > 150
    assert first == second
    # Everything that could vary did: the comparison was not of a boring run.
    statuses = {status for _, status, _, _ in first}
    assert {200, 202, 400, 401, 404, 405}.issubset(statuses)
    assert statuses & {429, 502, 503}
    # The API's answers carry a traceparent; the control plane's (/_mock/) do not.
    traces = [dict(h)["traceparent"] for _, _, h, _ in first if "traceparent" in dict(h)]
    assert len(traces) > 100
    assert len(set(traces)) == len(traces)
    assert sum(INCOMING_TRACE[3:35] in trace for trace in traces) == 1


def test_another_seed_gives_other_bytes() -> None:
    first, other = run(chaotic(7)), run(chaotic(8))
    assert [entry[3] for entry in first] != [entry[3] for entry in other]
    assert [dict(entry[2]).get("traceparent") for entry in first] != [
        dict(entry[2]).get("traceparent") for entry in other
    ]


def state_checks(client: TestClient) -> Transcript:
    """Control-plane reads made before each session (they draw trace ids too, so both runs
    make the same ones)."""
    transcript, call = record(client)
    for path in ("/_mock/settings", "/_mock/scenarios", "/_mock/tasks", "/_mock/clock"):
        call("GET", path)
    journal = client.get("/_mock/journal").json()
    assert journal["count"] == 0
    return transcript


def test_reset_replays_the_same_bytes() -> None:
    settings = chaotic(9)
    with TestClient(create_app(settings), headers=AUTH, base_url=BASE_URL) as client:
        before = state_checks(client)
        first = session(client)
        # Change everything reset must undo: settings, queue, clock, tasks, journal.
        client.patch(
            "/_mock/settings",
            json={"failure_rate": 0.6, "dialect": "legacy", "faults": [], "limits": "realistic"},
        )
        client.post("/_mock/scenarios", json={"scenario": "stuck", "count": 50})
        client.post("/_mock/clock/advance", json={"seconds": 12_345})
        reset = client.post("/_mock/reset", json={}).json()
        assert reset["reset"] is True
        assert reset["clock"]["unix"] == settings.virtual_start
        after = state_checks(client)
        second = session(client)
    assert after == before  # same settings, empty queue, no tasks, clock at the start
    assert first == second


def test_reset_restores_the_start_settings() -> None:
    with TestClient(create_app(chaotic(3)), headers=AUTH) as client:
        initial = client.get("/_mock/settings").json()
        client.patch("/_mock/settings", json={"slow_rate": 0.0, "dialect": "queued"})
        assert client.get("/_mock/settings").json() != initial
        client.post("/_mock/reset", json={})
        assert client.get("/_mock/settings").json() == initial
