"""The API's routes and requests: JSON 404s and 405s for unknown routes and methods, the
served contract and its vendor examples, big bodies, content types, trailing slashes."""

from __future__ import annotations

import io
import json
import random
import re
import uuid
from typing import Any

import pytest
from PIL import Image
from starlette.testclient import TestClient

from mockserver.domain.backend import Backend
from mockserver.domain.contract import load_contract
from tests.helpers import (
    CREATE_PATH,
    assert_error,
    b64,
    body,
    task_path,
)

# --- routing errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/", id="root"),
        pytest.param("/nope", id="nope"),
        pytest.param("/vendors/alibaba/v1/wan2.5-i2v/generation", id="other-model"),
        pytest.param(CREATE_PATH + "/a/b", id="too-deep"),
    ],
)
def test_unknown_route_is_404_json(client: TestClient, path: str) -> None:
    error = assert_error(client.get(path), 404, code=404)
    assert error["title"] == "Not Found"
    assert path in error["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        pytest.param("PUT", CREATE_PATH, {"POST"}, id="put-create"),
        pytest.param("DELETE", CREATE_PATH, {"POST"}, id="delete-create"),
        pytest.param("PATCH", CREATE_PATH, {"POST"}, id="patch-create"),
        pytest.param("GET", CREATE_PATH, {"POST"}, id="get-create"),
        pytest.param("POST", task_path(str(uuid.UUID(int=1))), {"GET", "HEAD"}, id="post-task"),
        pytest.param("DELETE", task_path(str(uuid.UUID(int=1))), {"GET", "HEAD"}, id="delete-task"),
        pytest.param("POST", "/files/x/y/result_000.mp4", {"GET", "HEAD"}, id="post-file"),
    ],
)
def test_wrong_method_is_405_json_with_allow(
    client: TestClient, method: str, path: str, allowed: set[str]
) -> None:
    response = client.request(method, path)
    error = assert_error(response, 405, code=405)
    assert error["title"] == "Method Not Allowed"
    assert method in error["detail"]
    assert {part.strip() for part in response.headers["allow"].split(",")} == allowed


# --- contract and examples -----------------------------------------------------------------------


def test_openapi_document_is_served(bare: TestClient) -> None:
    response = bare.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert CREATE_PATH in document["paths"]
    assert document == load_contract()


def _vendor_examples() -> dict[str, dict[str, Any]]:
    operation = load_contract()["paths"][CREATE_PATH]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    return {name: example["value"] for name, example in examples.items()}


VENDOR_EXAMPLES = _vendor_examples()


def test_the_contract_has_the_three_vendor_examples() -> None:
    assert set(VENDOR_EXAMPLES) == {"basic", "lastFrame", "multiShot"}


@pytest.mark.parametrize("name", sorted(VENDOR_EXAMPLES))
def test_vendor_example_is_accepted(client: TestClient, backend: Backend, name: str) -> None:
    example = VENDOR_EXAMPLES[name]
    response = client.post(CREATE_PATH, json=example)
    assert response.status_code == 202, response.text
    task = backend.store.get(response.json()["task_info"]["id"])
    assert task is not None
    assert task.request.prompt == example["prompt"]
    assert task.request.duration == example.get("duration", 5)
    assert task.request.resolution == example.get("resolution", "720P")
    assert (task.request.last_frame is not None) == ("last_frame" in example)
    assert task.request.multi_shot == (example.get("multi_shots") == "multi")


# --- big bodies ----------------------------------------------------------------------------------


def test_one_megabyte_base64_image_is_accepted(client: TestClient, backend: Backend) -> None:
    # Above bodies.OFFLOAD_BYTES (256 KiB): decoded and checked on a worker thread.
    pixels = random.Random(3).randbytes(640 * 480 * 3)  # noise: the PNG stays ~0.9 MB
    buffer = io.BytesIO()
    Image.frombytes("RGB", (640, 480), pixels).save(buffer, format="PNG")
    value = b64(buffer.getvalue())
    assert len(value) > 1_000_000
    response = client.post(CREATE_PATH, json=body(image=value, last_frame=value))
    assert response.status_code == 202, response.text
    task = backend.store.get(response.json()["task_info"]["id"])
    assert task is not None
    assert (task.request.image.format, task.request.image.width) == ("PNG", 640)
    assert task.request.image.size_bytes == len(buffer.getvalue())


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_declared_non_json_content_type_is_rejected(
    client: TestClient, content_type: str
) -> None:
    response = client.post(
        CREATE_PATH, content=json.dumps(body()), headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    error = response.json()
    assert set(error) == {"error_code", "title", "detail"}
    assert error["detail"].startswith("Content-Type: ")
    assert content_type.split(";")[0] in error["detail"]


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
)
def test_json_or_absent_content_type_is_accepted(
    client: TestClient, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post(CREATE_PATH, content=json.dumps(body()).encode(), headers=headers)
    assert response.status_code == 202


@pytest.mark.parametrize("path", [CREATE_PATH + "/", CREATE_PATH + "/{id}/"])
def test_trailing_slashes_are_json_404s_not_redirects(client: TestClient, path: str) -> None:
    task_id = client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
    response = client.get(path.format(id=task_id), follow_redirects=False)
    assert response.status_code == 404
    assert response.json()["error_code"] == 404


def test_task_ids_are_case_insensitive(client: TestClient) -> None:
    task_id = client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
    response = client.get(f"{CREATE_PATH}/{task_id.upper()}")
    assert response.status_code == 200
    assert response.json()["task_info"]["id"] == task_id
