"""The contract document itself: a valid OpenAPI 3.1 file, served by the fake, shipped in the
wheel, and saying exactly what the issue asks of it (operations, fields, statuses, link,
examples)."""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from hatchling.builders.wheel import WheelBuilder
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from starlette.testclient import TestClient

from mockserver.domain.contract import request_fields
from tests.helpers import CREATE_PATH

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "contracts" / "openapi.yaml"
GET_PATH = CREATE_PATH + "/{task_id}"
# Every status the fake can send on each operation (scenarios, faults, the protocol layer's 408
# and 431, wrong methods). A fault may inject any other status: that one stays undeclared, so
# the contract suite still catches a server that answers a status the API does not have.
CREATE_ERRORS = {
    "400", "401", "402", "403", "405", "408", "409", "413", "429", "431", "451", "500", "502",
    "503", "504",
}  # fmt: skip
GET_ERRORS = {
    "400", "401", "403", "404", "405", "408", "429", "431", "500", "502", "503", "504"
}  # fmt: skip
URL_FORM = "^(?:[Hh][Tt][Tt][Pp][Ss]?://"
STATUSES = {"pending", "queued", "running", "processing", "succeeded", "completed", "failed"}

# Every request field with the whole of its schema (less the prose), as the issue specifies it.
IMAGE_INPUT = {"type": "string", "minLength": 1, "format": "image-ref"}  # and its pattern
REQUEST_FIELDS: dict[str, dict[str, Any]] = {
    "prompt": {"type": "string", "minLength": 1, "maxLength": 2000},
    "image": IMAGE_INPUT,
    "negative_prompt": {"type": "string", "maxLength": 500},
    "resolution": {"type": "string", "enum": ["720P", "1080P"], "default": "720P"},
    "duration": {"type": "integer", "enum": [5, 10, 15], "default": 5},
    "prompt_extend": {"type": "boolean", "default": True},
    "shot_type": {
        "oneOf": [
            {"title": "ShotType", "type": "string", "enum": ["single", "multi"]},
            {"type": "null"},
        ],
        "default": "single",
    },
    "multi_shots": {
        "oneOf": [
            {"type": "boolean"},
            {"title": "MultiShotsWord", "type": "string", "enum": ["single", "multi"]},
        ],
        "deprecated": True,
    },
    "audio": {"type": ["boolean", "null"], "default": True},
    "audio_url": {"type": ["string", "null"], "format": "audio-ref"},  # and its pattern
    "seed": {"type": "integer", "minimum": 0, "maximum": 2147483647},
    "safety_filter": {"type": ["boolean", "null"], "default": True},
    "last_frame": IMAGE_INPUT,
}

# The vendor's three documented example requests.
VENDOR_EXAMPLES: dict[str, dict[str, Any]] = {
    "basic": {
        "prompt": "A black cat looks curiously at the sky, camera gradually rises from eye-level"
        " to overhead",
        "image": "https://example.com/first_frame.jpg",
        "resolution": "720P",
        "duration": 5,
    },
    "lastFrame": {
        "prompt": "Character starts walking, expression changes naturally",
        "image": "https://example.com/person.jpg",
        "last_frame": "https://example.com/person_end.jpg",
        "resolution": "1080P",
        "duration": 10,
        "audio": True,
    },
    "multiShot": {
        "prompt": "Scene transition with smooth camera movement",
        "image": "https://example.com/scene.jpg",
        "resolution": "1080P",
        "duration": 15,
        "prompt_extend": True,
        "multi_shots": "multi",
    },
}


@functools.cache
def _load() -> dict[str, Any]:
    with CONTRACT.open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    assert isinstance(document, dict)
    return document


@pytest.fixture
def contract() -> dict[str, Any]:
    return _load()


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref``s until a node without one."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def _operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation = document["paths"][path][method]
    assert isinstance(operation, dict)
    return operation


def _request_schema(document: dict[str, Any]) -> dict[str, Any]:
    create = _operation(document, CREATE_PATH, "post")
    return _resolve(document, create["requestBody"]["content"]["application/json"]["schema"])


# --- a valid OpenAPI 3.1 document, and the one the fake serves -----------------------------------


def test_contract_is_a_valid_openapi_3_1_document(contract: dict[str, Any]) -> None:
    assert contract["openapi"].startswith("3.1.")
    validate(contract)  # picks the validator from the version
    validate(contract, cls=OpenAPIV31SpecValidator)


def test_the_fake_serves_the_contract(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == _load()


# --- operations ----------------------------------------------------------------------------------


def test_both_operations_exist_with_their_methods_and_paths(contract: dict[str, Any]) -> None:
    operations = {
        (path, method): operation["operationId"]
        for path, item in contract["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert operations == {
        (CREATE_PATH, "post"): "createGenerationTask",
        (GET_PATH, "get"): "getGenerationTask",
    }
    create = _operation(contract, CREATE_PATH, "post")
    assert create["requestBody"]["required"] is True
    assert list(create["requestBody"]["content"]) == ["application/json"]
    (task_id,) = _operation(contract, GET_PATH, "get")["parameters"]
    assert task_id["name"] == "task_id"
    assert task_id["in"] == "path"
    assert task_id["required"] is True
    assert task_id["schema"] == {"type": "string", "format": "uuid"}


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [(CREATE_PATH, "post", "202"), (CREATE_PATH, "post", "200"), (GET_PATH, "get", "200")],
)
def test_success_answers_carry_the_task_envelope(
    contract: dict[str, Any], path: str, method: str, status: str
) -> None:
    response = _resolve(contract, _operation(contract, path, method)["responses"][status])
    schema = response["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/TaskEnvelope"}
    assert "traceparent" in response["headers"]
    envelope = contract["components"]["schemas"]["TaskEnvelope"]
    assert envelope["required"] == ["task_info"]
    assert _resolve(contract, envelope["properties"]["task_info"])["required"] == [
        "id",
        "status",
        "created_at",
        "updated_at",
    ]


# --- the request body ----------------------------------------------------------------------------


def test_request_documents_exactly_the_known_fields(contract: dict[str, Any]) -> None:
    schema = _request_schema(contract)
    assert schema["type"] == "object"
    assert list(schema["properties"]) == list(REQUEST_FIELDS)


def test_request_requires_prompt_and_image(contract: dict[str, Any]) -> None:
    assert sorted(_request_schema(contract)["required"]) == ["image", "prompt"]


@pytest.mark.parametrize(("field", "expected"), REQUEST_FIELDS.items(), ids=list(REQUEST_FIELDS))
def test_request_field(contract: dict[str, Any], field: str, expected: dict[str, Any]) -> None:
    declared = _resolve(contract, _request_schema(contract)["properties"][field])
    rules = {key: value for key, value in declared.items() if key not in ("description", "pattern")}
    assert rules == expected
    if field in ("image", "last_frame", "audio_url"):  # the forms of a reference (tested below)
        assert declared["pattern"].startswith(URL_FORM[: 1 if field == "audio_url" else None])
    assert declared.get("description"), f"{field} has no description"


def test_defaults_are_allowed_values() -> None:
    for field, schema in request_fields().items():  # a oneOf field as its types and values
        if "default" in schema and "enum" in schema:
            assert schema["default"] in schema["enum"], field


# --- responses -----------------------------------------------------------------------------------


def test_status_enum_is_the_union_of_every_documented_spelling(contract: dict[str, Any]) -> None:
    schemas = contract["components"]["schemas"]
    status = schemas["TaskStatus"]
    assert status["type"] == "string"
    assert len(status["enum"]) == len(STATUSES)
    assert set(status["enum"]) == STATUSES
    assert schemas["TaskInfo"]["properties"]["status"] == {
        "$ref": "#/components/schemas/TaskStatus"
    }


def test_bearer_security_applies_to_both_operations(contract: dict[str, Any]) -> None:
    scheme = contract["components"]["securitySchemes"]["bearerAuth"]
    assert {key: value for key, value in scheme.items() if key != "description"} == {
        "type": "http",
        "scheme": "bearer",
    }
    assert contract["security"] == [{"bearerAuth": []}]
    for path, method in ((CREATE_PATH, "post"), (GET_PATH, "get")):
        # An operation may only narrow the global requirement, never drop the bearer scheme.
        security = _operation(contract, path, method).get("security", contract["security"])
        assert security == [{"bearerAuth": []}]


def _error_statuses(contract: dict[str, Any], path: str, method: str) -> set[str]:
    responses = _operation(contract, path, method)["responses"]
    return {status for status in responses if int(status) >= 400}


def test_create_documents_its_error_statuses(contract: dict[str, Any]) -> None:
    assert _error_statuses(contract, CREATE_PATH, "post") == CREATE_ERRORS


def test_get_documents_its_error_statuses(contract: dict[str, Any]) -> None:
    assert _error_statuses(contract, GET_PATH, "get") == GET_ERRORS


@pytest.mark.parametrize(("path", "method"), [(CREATE_PATH, "post"), (GET_PATH, "get")])
def test_every_error_answer_is_json_with_the_error_schema(
    contract: dict[str, Any], path: str, method: str
) -> None:
    responses = _operation(contract, path, method)["responses"]
    for status in _error_statuses(contract, path, method):
        response = _resolve(contract, responses[status])
        content = response["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Error"}, status
        assert "traceparent" in response["headers"], status
        error = {"$ref": "#/components/schemas/Error", "components": contract["components"]}
        assert jsonschema_rs.validator_for(error).is_valid(content["example"]), status
        if status in ("429", "503"):
            assert "Retry-After" in response["headers"], status
        if status == "405":
            assert "Allow" in response["headers"]


def test_create_links_to_get_by_the_task_id(contract: dict[str, Any]) -> None:
    create = _operation(contract, CREATE_PATH, "post")
    for status in ("202", "200"):
        link = create["responses"][status]["links"]["GetTask"]
        assert link["operationId"] == "getGenerationTask"
        assert link["parameters"] == {"task_id": "$response.body#/task_info/id"}
    # The link names a real operation with that parameter, and the pointer exists in the envelope.
    get = _operation(contract, GET_PATH, "get")
    assert get["operationId"] == "getGenerationTask"
    assert [parameter["name"] for parameter in get["parameters"]] == ["task_id"]
    task_info = _resolve(
        contract, contract["components"]["schemas"]["TaskEnvelope"]["properties"]["task_info"]
    )
    assert task_info["properties"]["id"] == {"type": "string", "format": "uuid"}


# --- the vendor examples -------------------------------------------------------------------------


def _examples(contract: dict[str, Any]) -> dict[str, Any]:
    create = _operation(contract, CREATE_PATH, "post")
    examples = create["requestBody"]["content"]["application/json"]["examples"]
    assert isinstance(examples, dict)
    return examples


def test_the_three_vendor_examples_are_present(contract: dict[str, Any]) -> None:
    examples = _examples(contract)
    assert set(examples) == set(VENDOR_EXAMPLES)
    for name, value in VENDOR_EXAMPLES.items():
        assert examples[name]["value"] == value, name
        assert examples[name]["summary"], name


@pytest.mark.parametrize("name", list(VENDOR_EXAMPLES))
def test_vendor_example_matches_the_request_schema(contract: dict[str, Any], name: str) -> None:
    schema = {
        "$ref": "#/components/schemas/GenerationRequest",
        "components": contract["components"],
    }
    errors = [
        error.message
        for error in jsonschema_rs.validator_for(schema).iter_errors(
            _examples(contract)[name]["value"]
        )
    ]
    assert errors == []


@pytest.mark.parametrize("name", list(VENDOR_EXAMPLES))
def test_vendor_example_is_accepted_by_the_fake(client: TestClient, name: str) -> None:
    response = client.post(CREATE_PATH, json=_examples(_load())[name]["value"])
    assert response.status_code == 202, response.text
    task_info = response.json()["task_info"]
    assert task_info["status"] in STATUSES
    polled = client.get(f"{CREATE_PATH}/{task_info['id']}")
    assert polled.status_code == 200
    assert polled.json()["task_info"]["id"] == task_info["id"]


# --- the wheel -----------------------------------------------------------------------------------


def test_the_wheel_ships_the_contract_the_renderer_and_the_type_marker(tmp_path: Path) -> None:
    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {
            "mockserver/contracts/openapi.yaml",
            "mockserver/media/encode.py",
            "mockserver/py.typed",
            "mockserver/server/ui/templates/page.html",  # the dashboard, with its scripts
            "mockserver/server/ui/static/htmx.min.js",
            "mockserver/server/ui/static/NOTICE",
        } <= names
        assert archive.read("mockserver/contracts/openapi.yaml") == CONTRACT.read_bytes()
