"""Injected faults end to end: configured in Settings, a TOML file or live through the control
plane; aimed at create, poll or download; answered in the app's dialect; latency that waits for
the virtual clock; and a dropped connection over a real server.

The fault middleware's own rules (draw order, rates, distributions) are unit-tested in
tests/test_faults.py; these tests go through the whole app.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from starlette.testclient import TestClient

from mockserver import Control, ManualClock, Settings, create_app
from mockserver.domain.behaviour import Dialect, Fault, FaultTarget, Latency
from mockserver.server.dialects import NIL_UUID
from mockserver.server.errors import REALISTIC
from tests.helpers import AUTH, BASE_URL, CREATE_PATH, INJECTED, body, fake_app
from tests.server_process import running_server


def finished_task(client: TestClient, clock: ManualClock) -> tuple[str, str]:
    """A task that has succeeded: its poll path and its video path."""
    task_id = client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
    clock.advance(60)
    video = client.get(f"{CREATE_PATH}/{task_id}").json()["videos"][0]
    return f"{CREATE_PATH}/{task_id}", video.removeprefix(BASE_URL)


def task_count(client: TestClient) -> int:
    count: int = client.get("/_mock/tasks").json()["count"]
    return count


def journal(client: TestClient) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = client.get("/_mock/journal").json()["entries"]
    return entries


def test_a_create_fault_from_settings_answers_instead_of_the_api() -> None:
    with fake_app(Settings(seed=1, faults=(Fault(target="create", status=503),))) as fake:
        response = fake.client.post(CREATE_PATH, json=body())
        assert response.status_code == 503
        assert response.headers[INJECTED] == "fault status:503"
        assert response.headers["retry-after"] == "5"
        assert response.headers["content-type"] == "application/json"
        assert "traceparent" in response.headers
        title, detail = REALISTIC[503]
        assert response.json() == {"error_code": 503, "title": title, "detail": detail}
        assert task_count(fake.client) == 0
        assert journal(fake.client)[-1]["status"] == 503
        # Not a target: polls answer as usual.
        unknown = fake.client.get(f"{CREATE_PATH}/00000000-0000-4000-8000-000000000000")
        assert unknown.status_code == 404
        assert INJECTED not in unknown.headers


@pytest.mark.parametrize("target", ["create", "poll", "download", "all"])
def test_faults_set_live_hit_their_target_only(target: FaultTarget) -> None:
    clock = ManualClock()
    with fake_app(Settings(seed=2), clock) as fake:
        poll, video = finished_task(fake.client, clock)
        fault = {"target": target, "status": 502}
        patched = fake.client.patch("/_mock/settings", json={"faults": [fault]})
        assert patched.status_code == 200
        assert patched.json()["faults"][0]["status"] == 502
        calls: dict[FaultTarget, list[httpx2.Response]] = {
            "create": [fake.client.post(CREATE_PATH, json=body())],
            "poll": [fake.client.get(poll)],
            "download": [fake.client.get(video), fake.client.head(video)],
        }
        for kind, responses in calls.items():
            for response in responses:
                hit = target in (kind, "all")
                assert response.status_code == (502 if hit else 200 if kind != "create" else 202)
                assert (response.headers.get(INJECTED) == "fault status:502") == hit
        # The control plane and the contract are never faulted.
        assert fake.client.get("/_mock/health").status_code == 200
        assert fake.client.get("/openapi.json").status_code == 200

        fake.client.patch("/_mock/settings", json={"faults": []})
        assert fake.client.get(poll).status_code == 200
        assert fake.client.get(video).headers["content-type"] == "video/mp4"


def test_a_fault_rate_below_one_hits_some_requests_reproducibly() -> None:
    def statuses(seed: int) -> list[int]:
        faults = (Fault(target="poll", status=500, rate=0.3),)
        clock = ManualClock()
        with fake_app(Settings(seed=seed, faults=faults), clock) as fake:
            task_id = fake.client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
            return [fake.client.get(f"{CREATE_PATH}/{task_id}").status_code for _ in range(100)]

    first = statuses(5)
    assert set(first) == {200, 500}
    assert 0.15 <= first.count(500) / len(first) <= 0.45
    assert statuses(5) == first


@pytest.mark.parametrize(
    "fault",
    [
        {"target": "poll", "status": 200},
        {"target": "nowhere", "status": 503},
        {"target": "poll", "status": 503, "drop": True},
        {"target": "poll"},
        {"target": "poll", "status": 503, "rate": 1.5},
        {"target": "poll", "latency": {"seconds": -1}},
        {"target": "poll", "status": 503, "colour": "red"},
    ],
)
def test_a_bad_fault_is_refused_live_and_changes_nothing(fault: dict[str, Any]) -> None:
    with fake_app(Settings(seed=1)) as fake:
        response = fake.client.patch("/_mock/settings", json={"faults": [fault]})
        assert response.status_code == 400
        assert "'faults" in response.json()["detail"]
        assert fake.client.get("/_mock/settings").json()["faults"] == []


def test_retry_after_can_be_configured() -> None:
    faults = (Fault(target="create", status=429, retry_after=7),)
    with fake_app(Settings(seed=1, faults=faults)) as fake:
        response = fake.client.post(CREATE_PATH, json=body())
        assert (response.status_code, response.headers["retry-after"]) == (429, "7")


@pytest.mark.parametrize("status", [401, 402, 403, 409, 451, 500, 504])
def test_other_injected_statuses_have_realistic_bodies(status: int) -> None:
    with fake_app(Settings(seed=1, faults=(Fault(target="create", status=status),))) as fake:
        response = fake.client.post(CREATE_PATH, json=body())
        assert response.status_code == status
        title, detail = REALISTIC[status]
        assert response.json() == {"error_code": status, "title": title, "detail": detail}
        assert "retry-after" not in response.headers
        assert (response.headers.get("www-authenticate") == "Bearer") == (status == 401)


def test_injected_bodies_follow_the_dialect() -> None:
    faults = (Fault(target="poll", status=503),)
    detail_shape = Settings(seed=1, faults=faults, dialect=Dialect(error_body="detail"))
    with fake_app(detail_shape) as fake:
        response = fake.client.get(f"{CREATE_PATH}/00000000-0000-4000-8000-000000000000")
        assert response.status_code == 503
        assert response.json() == {"detail": REALISTIC[503][1]}
        assert response.headers["retry-after"] == "5"

    envelope_shape = Settings(seed=1, faults=faults, dialect=Dialect(error_body="envelope"))
    with fake_app(envelope_shape) as fake:
        info = fake.client.get(f"{CREATE_PATH}/{NIL_UUID}").json()["task_info"]
        assert (info["id"], info["status"]) == (NIL_UUID, "failed")
        assert info["error"] == {
            "code": 503,
            "title": REALISTIC[503][0],
            "detail": REALISTIC[503][1],
        }

    # Switched live, the faults follow the new dialect too.
    with fake_app(Settings(seed=1, faults=faults)) as fake:
        fake.client.patch("/_mock/settings", json={"dialect": {"error_body": "detail"}})
        response = fake.client.get(f"{CREATE_PATH}/{NIL_UUID}")
        assert response.json() == {"detail": REALISTIC[503][1]}


# --- latency on the virtual clock ---------------------------------------------------------------


def test_latency_waits_for_the_virtual_clock() -> None:
    latency = Latency(seconds=30)
    settings = Settings(seed=4, clock="virtual", faults=(Fault(target="poll", latency=latency),))
    app = create_app(settings)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=AUTH) as http:
            created = await http.post(CREATE_PATH, json=body())  # not a target: no wait
            assert created.status_code == 202
            task_id = created.json()["task_info"]["id"]
            polling = asyncio.ensure_future(http.get(f"{CREATE_PATH}/{task_id}"))
            for _ in range(50):
                await asyncio.sleep(0)
            assert not polling.done()
            await http.post("/_mock/clock/advance", json={"seconds": 29.5})
            for _ in range(50):
                await asyncio.sleep(0)
            assert not polling.done()
            await http.post("/_mock/clock/advance", json={"seconds": 0.5})
            response = await asyncio.wait_for(polling, 5)
            assert response.status_code == 200
            assert response.headers[INJECTED] == "fault latency:30.000"
            # The answer is computed after the wait: 30 fake seconds on, the task is done.
            assert response.json()["task_info"]["status"] == "succeeded"
            entries = (await http.get("/_mock/journal")).json()["entries"]
            assert [e["status"] for e in entries] == [202, 200]
            assert entries[1]["at"] == entries[0]["at"]  # journalled when it arrived

    asyncio.run(scenario())


def test_latency_then_a_status_fault_over_the_app() -> None:
    faults = (
        Fault(target="create", latency=Latency(seconds=2)),
        Fault(target="create", status=504),
    )
    app = create_app(Settings(seed=4, clock="virtual", faults=faults))

    async def scenario() -> None:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=AUTH) as http:
            creating = asyncio.ensure_future(http.post(CREATE_PATH, json=body()))
            for _ in range(50):
                await asyncio.sleep(0)
            assert not creating.done()
            await http.post("/_mock/clock/advance", json={"seconds": 2})
            response = await asyncio.wait_for(creating, 5)
            assert response.status_code == 504
            assert response.headers[INJECTED] == "fault latency:2.000, fault status:504"
            assert (await http.get("/_mock/tasks")).json()["count"] == 0

    asyncio.run(scenario())


# --- a dropped connection over a real server ----------------------------------------------------

DROP_CONFIG = """\
seed = 5
clock = "virtual"
access_log = false

[[faults]]
target = "poll"
drop = true
"""


def test_drop_over_a_real_server(tmp_path: Path) -> None:
    config = tmp_path / "drop.toml"
    config.write_text(DROP_CONFIG)
    with (
        running_server("--config", str(config)) as server,
        httpx.Client(base_url=server.base_url, headers=AUTH, timeout=5) as api,
        Control(server.base_url) as mock,
    ):
        created = api.post(CREATE_PATH, json=body())
        assert created.status_code == 202
        poll = f"{CREATE_PATH}/{created.json()['task_info']['id']}"
        for _ in range(2):
            with pytest.raises(httpx.TransportError):
                api.get(poll)
        entries = [e for e in mock.journal() if e.path != "/openapi.json"]  # readiness probes
        assert [(e.method, e.status) for e in entries] == [("POST", 202), ("GET", 0), ("GET", 0)]
        assert entries[-1].path == poll

        # The server keeps serving, on fresh connections, and the fault can be lifted live.
        assert api.post(CREATE_PATH, json=body()).status_code == 202
        mock.update_settings(faults=[])
        mock.advance(60)
        assert api.get(poll).json()["task_info"]["status"] == "succeeded"
        assert server.process.poll() is None
