"""Dialects end to end: each profile's status spellings and timestamps through a whole task
lifecycle, the create status, error body shapes on real and injected errors, where a failed
task's error sits, live switching, and a long chaos run in which every answer keeps
``contracts/openapi.yaml`` (the response schema documented for that operation and status).

The Speaker's own choices are unit-tested in tests/test_dialects.py.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from typing import Any

import httpx2
import jsonschema_rs
import pytest
from starlette.testclient import TestClient

from mockserver import Settings
from mockserver.domain.backend import Backend
from mockserver.domain.behaviour import (
    DIALECT_PROFILES,
    Dialect,
    ErrorBody,
    ErrorPlacement,
    Fault,
    Limits,
)
from mockserver.domain.contract import load_contract
from mockserver.domain.scenarios import FAILURES
from mockserver.server.dialects import NIL_UUID
from tests.helpers import CREATE_PATH, body, fake_app

OBSERVED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
ZULU = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UNKNOWN = f"{CREATE_PATH}/00000000-0000-4000-8000-000000000000"


def plan_offsets(backend: Backend, task_id: str) -> tuple[float, ...]:
    return backend.find(task_id).plan.offsets


# --- spellings through a lifecycle --------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "spelled", "stamp"),
    [
        ("default", ("pending", "running", "succeeded", "failed"), OBSERVED),
        ("legacy", ("pending", "processing", "completed", "failed"), ZULU),
        ("queued", ("queued", "running", "succeeded", "failed"), OBSERVED),
    ],
)
def test_each_profile_spells_the_whole_lifecycle(
    profile: str, spelled: tuple[str, str, str, str], stamp: re.Pattern[str]
) -> None:
    with fake_app(Settings(seed=1, dialect=DIALECT_PROFILES[profile])) as fake:
        start = fake.clock.now()
        created = fake.client.post(CREATE_PATH, json=body())
        assert created.status_code == 202
        failing = fake.client.post(
            CREATE_PATH, json=body(), headers={"X-Wan-Mock-Scenario": "fail"}
        )
        task_id, failing_id = (r.json()["task_info"]["id"] for r in (created, failing))
        seen = [created.json()["task_info"]]
        _, running_at, done_at = plan_offsets(fake.backend, task_id)
        for moment in (running_at + 0.001, done_at + 0.001):
            fake.clock.advance(start + moment - fake.clock.now())
            seen.append(fake.client.get(f"{CREATE_PATH}/{task_id}").json()["task_info"])
        fake.clock.advance(3600)
        failed = fake.client.get(f"{CREATE_PATH}/{failing_id}").json()
        seen.append(failed["task_info"])
        assert [info["status"] for info in seen] == list(spelled)
        for info in seen:
            assert stamp.match(info["created_at"]), info
            assert stamp.match(info["updated_at"]), info
            assert info["created_at"] <= info["updated_at"]
        assert failed["task_info"]["error"]["code"] in FAILURES


def test_create_status_200_or_202() -> None:
    with fake_app(Settings(seed=1, dialect=Dialect(create_status=200))) as fake:
        assert fake.client.post(CREATE_PATH, json=body()).status_code == 200
    with fake_app(Settings(seed=1)) as fake:
        assert fake.client.post(CREATE_PATH, json=body()).status_code == 202
    with fake_app(Settings(seed=1, dialect=DIALECT_PROFILES["chaos"])) as fake:
        codes = {fake.client.post(CREATE_PATH, json=body()).status_code for _ in range(40)}
        assert codes == {200, 202}


def test_the_dialect_changes_live() -> None:
    with fake_app(Settings(seed=2)) as fake:
        task_id = fake.client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
        fake.clock.advance(60)
        assert (
            fake.client.get(f"{CREATE_PATH}/{task_id}").json()["task_info"]["status"] == "succeeded"
        )
        patched = fake.client.patch("/_mock/settings", json={"dialect": "legacy"})
        assert patched.json()["dialect"]["statuses"] == "legacy"
        info = fake.client.get(f"{CREATE_PATH}/{task_id}").json()["task_info"]
        assert info["status"] == "completed"
        assert ZULU.match(info["created_at"])
        fake.client.patch("/_mock/settings", json={"dialect": {"create_status": 200}})
        assert fake.client.post(CREATE_PATH, json=body()).status_code == 200


# --- error bodies -------------------------------------------------------------------------------


def error_cases(client: TestClient) -> dict[str, tuple[httpx2.Response, int, int]]:
    """name -> (response, expected HTTP status, expected business code)."""
    return {
        "invalid": (client.post(CREATE_PATH, json=body(duration=7)), 400, 2001),
        "not found": (client.get(UNKNOWN), 404, 2005),
        "no key": (client.get(UNKNOWN, headers={"Authorization": ""}), 401, 401),
        "no route": (client.get("/nowhere"), 404, 404),
        "wrong method": (client.delete(CREATE_PATH), 405, 405),
        "reject": (
            client.post(CREATE_PATH, json=body(), headers={"X-Wan-Mock-Scenario": "reject:402"}),
            402,
            402,
        ),
        "fault": (client.get("/files/x/result_000.mp4"), 503, 503),
    }


def fault_settings(error_body: ErrorBody) -> Settings:
    return Settings(
        seed=3,
        dialect=Dialect(error_body=error_body),
        faults=(Fault(target="download", status=503),),
    )


def test_default_error_bodies() -> None:
    with fake_app(fault_settings("default")) as fake:
        for name, (response, status, code) in error_cases(fake.client).items():
            assert response.status_code == status, name
            error = response.json()
            assert error["error_code"] == code, name
            assert isinstance(error["title"], str)
            assert isinstance(error["detail"], str)
            ERROR.validate(error)
            assert set(error) == {"error_code", "title", "detail"}, name  # nothing else
        invalid = fake.client.post(CREATE_PATH, json=body(duration=7)).json()
        assert invalid["detail"].startswith("duration: must be one of 5, 10, 15")
        fake.ok("PATCH", "/_mock/settings", json={"explain_errors": True})
        explained = fake.client.post(CREATE_PATH, json=body(duration=7)).json()
        assert (explained["field"], explained["rule"]) == ("duration", "enum")
        assert explained["errors"][0]["field"] == "duration"


def test_detail_error_bodies() -> None:
    with fake_app(fault_settings("detail")) as fake:
        for name, (response, status, _code) in error_cases(fake.client).items():
            assert response.status_code == status, name
            error = response.json()
            assert set(error) == {"detail"}, name
            assert isinstance(error["detail"], str)
            assert error["detail"]
        detail = fake.client.post(CREATE_PATH, json=body(duration=7)).json()["detail"]
        assert "duration" in detail  # the field is named in the text, as FastAPI does


def test_envelope_error_bodies() -> None:
    with fake_app(fault_settings("envelope")) as fake:
        for name, (response, status, code) in error_cases(fake.client).items():
            assert response.status_code == status, name
            error = response.json()
            ENVELOPE.validate(error)
            ERROR.validate(error)
            info = error["task_info"]
            assert (info["id"], info["status"]) == (NIL_UUID, "failed"), name
            assert info["error"]["code"] == code, name
            assert OBSERVED.match(info["created_at"])
        invalid = fake.client.post(CREATE_PATH, json=body(duration=7)).json()["task_info"]["error"]
        assert set(invalid) == {"code", "title", "detail"}
        fake.ok("PATCH", "/_mock/settings", json={"explain_errors": True})
        explained = fake.client.post(CREATE_PATH, json=body(duration=7)).json()
        assert explained["task_info"]["error"]["field"] == "duration"


def test_injected_fault_bodies_follow_the_dialect_over_get() -> None:
    faults = (Fault(target="poll", status=502),)
    shapes: list[tuple[ErrorBody, set[str]]] = [
        ("default", {"error_code", "title", "detail"}),
        ("detail", {"detail"}),
    ]
    for shape, keys in shapes:
        settings = Settings(seed=4, faults=faults, dialect=Dialect(error_body=shape))
        with fake_app(settings) as fake:
            response = fake.client.get(UNKNOWN)
            assert response.status_code == 502
            assert set(response.json()) == keys


def test_rate_limit_bodies_follow_the_dialect() -> None:
    limits = Limits(submissions_per_second=1)
    with fake_app(Settings(seed=5, limits=limits, dialect=Dialect(error_body="detail"))) as fake:
        fake.client.post(CREATE_PATH, json=body())
        refused = fake.client.post(CREATE_PATH, json=body())
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert list(refused.json()) == ["detail"]


@pytest.mark.parametrize(
    ("placement", "in_task_info", "top_level"),
    [("task_info", True, False), ("top_level", False, True), ("both", True, True)],
)
def test_failed_task_error_placement(
    placement: ErrorPlacement, in_task_info: bool, top_level: bool
) -> None:
    settings = Settings(seed=6, dialect=Dialect(error_placement=placement))
    with fake_app(settings) as fake:
        headers = {"X-Wan-Mock-Scenario": "fail:3002"}
        task_id = fake.client.post(CREATE_PATH, json=body(), headers=headers).json()["task_info"][
            "id"
        ]
        fake.clock.advance(3600)
        response = fake.client.get(f"{CREATE_PATH}/{task_id}")
        assert response.status_code == 200
        envelope = response.json()
        ENVELOPE.validate(envelope)
        failure = FAILURES[3002]
        assert envelope["task_info"]["status"] == "failed"
        expected_inner = {"code": 3002, "title": failure.title, "detail": failure.detail}
        expected_outer = {"error_code": 3002, "title": failure.title, "detail": failure.detail}
        assert envelope["task_info"].get("error") == (expected_inner if in_task_info else None)
        assert envelope.get("error") == (expected_outer if top_level else None)
        assert "videos" not in envelope


# --- a chaos run against the contract -----------------------------------------------------------


def schema_validator(schema: dict[str, Any]) -> Any:
    document = {**schema, "components": load_contract()["components"]}
    return jsonschema_rs.validator_for(document, validate_formats=True)


ENVELOPE = schema_validator({"$ref": "#/components/schemas/TaskEnvelope"})
ERROR = schema_validator({"$ref": "#/components/schemas/Error"})
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


@cache
def documented(operation: str, status: int) -> Any:
    """The validator for the body the contract documents for this operation and status; a
    KeyError when the contract documents no such answer."""
    contract = load_contract()
    path, method = {
        "create": ("/vendors/alibaba/v1/wan2.6-i2v/generation", "post"),
        "poll": ("/vendors/alibaba/v1/wan2.6-i2v/generation/{task_id}", "get"),
    }[operation]
    answer = contract["paths"][path][method]["responses"][str(status)]
    if "$ref" in answer:
        answer = contract["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    return schema_validator(answer["content"]["application/json"]["schema"])


def check(operation: str, response: httpx2.Response, seen: Counter[str]) -> None:
    """The response is one the contract documents, with the documented body and headers."""
    status = response.status_code
    documented(operation, status).validate(response.json())
    assert TRACEPARENT.match(response.headers["traceparent"])
    if status == 429:
        assert response.headers["retry-after"].isdigit()
    if status < 300:
        envelope = response.json()
        ENVELOPE.validate(envelope)
        info = envelope["task_info"]
        seen[f"status {info['status']}"] += 1
        seen["stamp z" if info["created_at"].endswith("Z") else "stamp observed"] += 1
        assert info["created_at"] <= info["updated_at"]
    else:
        error = response.json()
        ERROR.validate(error)
        if "task_info" in error:
            ENVELOPE.validate(error)
        seen[f"error {'/'.join(sorted(error))}"] += 1
    seen[f"{operation} {status}"] += 1


def test_every_answer_of_a_chaos_run_keeps_the_contract() -> None:
    settings = Settings(
        seed=8,
        dialect=DIALECT_PROFILES["chaos"],
        failure_rate=0.3,
        slow_rate=0.1,
        stuck_rate=0.1,
        limits=Limits(submissions_per_second=2, polls_per_second=30),
        faults=(
            Fault(target="create", status=503, rate=0.1),
            Fault(target="poll", status=502, rate=0.1),
            Fault(target="poll", status=429, rate=0.05, retry_after=3),
        ),
    )
    seen: Counter[str] = Counter()
    with fake_app(settings) as fake:
        ids: list[str] = []
        tokens = ["", "fail:3005", "poll-error:504", "reject:451", "reject:409", "fail:safety"]
        for round_ in range(40):
            headers = {"X-Wan-Mock-Scenario": tokens[round_ % 6]} if round_ % 6 else {}
            response = fake.client.post(CREATE_PATH, json=body(), headers=headers)
            check("create", response, seen)
            if response.status_code < 300:
                ids.append(response.json()["task_info"]["id"])
            check("create", fake.client.post(CREATE_PATH, json=body(resolution="4K")), seen)
            check("poll", fake.client.get(UNKNOWN), seen)
            check("poll", fake.client.get(UNKNOWN, headers={"Authorization": "Basic x"}), seen)
            for task_id in ids[-10:]:
                check("poll", fake.client.get(f"{CREATE_PATH}/{task_id}"), seen)
            fake.clock.advance(0.35)
        fake.clock.advance(3600)
        for task_id in ids:
            check("poll", fake.client.get(f"{CREATE_PATH}/{task_id}"), seen)

    # The run met every kind of variation the chaos profile has.
    for spelling in ("pending", "queued", "running", "processing", "succeeded", "completed"):
        assert seen[f"status {spelling}"], spelling
    assert seen["status failed"]
    assert seen["stamp z"]
    assert seen["stamp observed"]
    assert seen["create 200"]
    assert seen["create 202"]
    shapes = {key for key in seen if key.startswith("error ")}
    assert {"error detail", "error task_info"} <= shapes
    assert any("error_code" in shape for shape in shapes)
    for answer in ("create 400", "create 429", "create 503", "poll 401", "poll 404", "poll 502"):
        assert seen[answer], answer
