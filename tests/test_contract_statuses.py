"""Every status the fake sends on each operation is declared in the contract, with the body
schema and the headers it comes with, and the document served at ``/openapi.json`` describes
the real API only (none of the fake's own paths, so a client generated from it has none).

The protocol layer's 408 and 431 are sent before any route is known; tests/test_protocol*.py
prove they are sent, and the contract declares them on both operations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import jsonschema_rs
import pytest

from mockserver import Settings
from mockserver.domain.contract import load_contract
from mockserver.domain.scenarios import POLL_ERROR_STATUSES, REJECT_STATUSES
from tests.helpers import CREATE_PATH, SCENARIO_HEADER, UNKNOWN_ID, Fake, body, fake_app

GET_PATH = CREATE_PATH + "/{task_id}"
CREATE, POLL = (CREATE_PATH, "post"), (GET_PATH, "get")


@pytest.fixture
def fake() -> Iterator[Fake]:
    with fake_app(Settings(seed=2, max_body_bytes=4096)) as started:
        yield started


def _answers(fake: Fake) -> list[tuple[tuple[str, str], httpx2.Response]]:
    """One answer for each status the fake can give each operation, and how it was reached."""
    client = fake.client
    task = f"{CREATE_PATH}/{fake.create()}"
    answers = [
        (CREATE, client.post(CREATE_PATH, json=body())),
        (CREATE, client.post(CREATE_PATH, json=body(duration=7))),
        (CREATE, client.post(CREATE_PATH, json=body(), headers={"Authorization": ""})),
        (CREATE, client.post(CREATE_PATH, json=body(prompt="x" * 5000))),  # over 4096 bytes
        (CREATE, client.put(CREATE_PATH, json=body())),
        (POLL, client.get(task)),
        (POLL, client.get(f"{CREATE_PATH}/{UNKNOWN_ID}")),
        (POLL, client.get(task, headers={"Authorization": "Basic x"})),
        (POLL, client.delete(task)),
    ]
    for status in REJECT_STATUSES:
        headers = {SCENARIO_HEADER: f"reject:{status}"}
        answers.append((CREATE, client.post(CREATE_PATH, json=body(), headers=headers)))
    for status in POLL_ERROR_STATUSES:
        polled = fake.create(headers={SCENARIO_HEADER: f"poll-error:{status}"})
        answers.append((POLL, client.get(f"{CREATE_PATH}/{polled}")))
    return answers


def _schema(contract: dict[str, Any], node: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for({**node, "components": contract["components"]})


def _resolve(contract: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = contract["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_every_answer_is_declared_with_its_body_and_headers(fake: Fake) -> None:
    contract = load_contract()
    seen: dict[tuple[str, str], set[int]] = {CREATE: set(), POLL: set()}
    for (path, method), answer in _answers(fake):
        responses = contract["paths"][path][method]["responses"]
        declared = responses.get(str(answer.status_code))
        assert declared is not None, f"{method} {path}: {answer.status_code} is not declared"
        response = _resolve(contract, declared)
        content = response["content"]["application/json"]
        errors = [
            e.message for e in _schema(contract, content["schema"]).iter_errors(answer.json())
        ]
        assert errors == [], (answer.status_code, answer.text)
        for name in answer.headers:
            if name.lower() in ("traceparent", "retry-after", "allow", "www-authenticate"):
                assert any(h.lower() == name.lower() for h in response["headers"]), (
                    f"{answer.status_code} sends {name}, not declared"
                )
        seen[(path, method)].add(answer.status_code)
    assert seen[CREATE] >= {202, 400, 401, 405, 413, *REJECT_STATUSES}
    assert seen[POLL] >= {200, 401, 404, 405, *POLL_ERROR_STATUSES}


def test_the_error_schema_requires_only_what_every_error_body_has() -> None:
    schemas = load_contract()["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error_code", "title", "detail"]
    assert set(schemas["ErrorBody"]["properties"]) == {"error_code", "title", "detail"}
    # The fake's extras on a 400 (field, rule, errors) are allowed, never required.
    assert schemas["ErrorBody"].get("additionalProperties", True) is True
    assert [alt["$ref"].rsplit("/", 1)[1] for alt in schemas["Error"]["anyOf"]] == [
        "ErrorBody",
        "ErrorDetail",
        "TaskEnvelope",
    ]


def test_the_served_document_holds_only_the_real_api(fake: Fake) -> None:
    document = fake.client.get("/openapi.json").json()
    assert set(document["paths"]) == {CREATE_PATH, GET_PATH}
    text = str(document)
    assert "/_mock" not in text
    assert "/files/" not in text
