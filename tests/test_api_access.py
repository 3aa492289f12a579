"""Who sees what over the API: bearer auth (checked before the body, configured keys) and
isolation between keys, where another key's task looks exactly like an unknown one."""

from __future__ import annotations

import random
import uuid

import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from mockserver import ManualClock, Settings, create_app
from tests.helpers import (
    BASE_URL,
    CREATE_PATH,
    assert_error,
    body,
    create_task,
    task_path,
)


def client_for(app: ASGIApp, key: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {key}"}, base_url=BASE_URL)


# --- auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        pytest.param(None, "Missing Authorization header", id="missing"),
        pytest.param("Basic dXNlcjpwdw==", "expected 'Bearer <key>'", id="basic"),
        pytest.param("Bearer ", "expected 'Bearer <key>'", id="bearer-empty"),
        pytest.param("Bearer    ", "expected 'Bearer <key>'", id="bearer-spaces"),
        pytest.param("Bearer", "expected 'Bearer <key>'", id="bearer-only"),
        pytest.param("test-key", "expected 'Bearer <key>'", id="raw-key"),
        pytest.param("Token test-key", "expected 'Bearer <key>'", id="token-scheme"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_bad_authorization_is_401(
    bare: TestClient, header: str | None, message: str, method: str
) -> None:
    headers = {} if header is None else {"Authorization": header}
    if method == "POST":
        response = bare.post(CREATE_PATH, json=body(), headers=headers)
    else:
        response = bare.get(task_path(str(uuid.uuid4())), headers=headers)
    error = assert_error(response, 401, code=401)
    assert error["title"] == "Unauthorized"
    assert message in error["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_auth_is_checked_before_the_body(bare: TestClient) -> None:
    response = bare.post(CREATE_PATH, content=b"{not json")
    assert_error(response, 401, code=401)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("bearer k", id="lower-case"),
        pytest.param("BEARER k", id="upper-case"),
        pytest.param("Bearer  k ", id="extra-spaces"),
    ],
)
def test_scheme_is_case_insensitive(bare: TestClient, header: str) -> None:
    response = bare.post(CREATE_PATH, json=body(), headers={"Authorization": header})
    assert response.status_code == 202


def test_configured_keys() -> None:
    app = create_app(Settings(seed=1, api_keys=("k1",)), clock=ManualClock())
    good = client_for(app, "k1").post(CREATE_PATH, json=body())
    assert good.status_code == 202
    task_id = good.json()["task_info"]["id"]
    assert client_for(app, "k1").get(task_path(task_id)).status_code == 200
    for response in (
        client_for(app, "k2").post(CREATE_PATH, json=body()),
        client_for(app, "k2").get(task_path(task_id)),
    ):
        error = assert_error(response, 401, code=401)
        assert error["detail"] == "Invalid API key"
        assert response.headers["www-authenticate"] == "Bearer"


# --- isolation and unknown tasks -----------------------------------------------------------------


def test_another_keys_task_looks_exactly_like_an_unknown_one(app: ASGIApp) -> None:
    owner, other = client_for(app, "key-a"), client_for(app, "key-b")
    task_id = create_task(owner)["id"]
    unknown_id = str(uuid.UUID(int=random.Random(9).getrandbits(128), version=4))

    foreign = other.get(task_path(task_id))
    missing = other.get(task_path(unknown_id))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.text.replace(task_id, "<id>") == missing.text.replace(unknown_id, "<id>")
    foreign_headers = {k: v for k, v in foreign.headers.items() if k != "traceparent"}
    missing_headers = {k: v for k, v in missing.headers.items() if k != "traceparent"}
    assert foreign_headers == missing_headers
    assert owner.get(task_path(task_id)).status_code == 200


def test_unknown_task_is_404_2005(client: TestClient) -> None:
    task_id = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
    error = assert_error(client.get(task_path(task_id)), 404, code=2005)
    assert error == {
        "error_code": 2005,
        "title": "Task Not Found",
        "detail": f"Task {task_id} does not exist",
    }


@pytest.mark.parametrize(
    "task_id",
    [
        pytest.param("not-a-uuid", id="words"),
        pytest.param("12345", id="digits"),
        pytest.param("3C90C3CC-0D44-4B50-8888-8DD25736052A", id="upper-case-uuid"),
        pytest.param("%00", id="nul"),
    ],
)
def test_task_id_that_is_not_a_known_uuid_is_404(client: TestClient, task_id: str) -> None:
    error = assert_error(client.get(task_path(task_id)), 404, code=2005)
    assert "does not exist" in error["detail"]
