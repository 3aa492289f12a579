"""Rules over a whole create body: JSON that is not an object or not readable, unknown fields
and strict mode, every violation listed at once, and a property test that no body, however
odd, makes the fake answer 5xx."""

from __future__ import annotations

import functools
import json

import pytest
from httpx2 import Response
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mockserver import Settings, create_app
from mockserver.domain.contract import documented_fields
from tests.helpers import (
    AUTH,
    CREATE_PATH,
    assert_created,
    assert_invalid,
    body,
    make_client,
)


@pytest.fixture
def mock_settings() -> Settings:
    """These tests read each violation's field and rule: the diagnostics switched on (the
    documented default body is covered in test_error_bodies.py)."""
    return Settings(seed=7, explain_errors=True)


# --- body-level rules ----------------------------------------------------------------------------

BODY_REJECTED = [
    pytest.param(b'{"prompt": "x",', "json", id="truncated"),
    pytest.param(b"{'prompt': 'x'}", "json", id="single-quotes"),
    pytest.param(b"", "json", id="empty"),
    pytest.param(b" \r\n\t ", "json", id="whitespace-only"),
    pytest.param(b"[]", "type", id="array"),
    pytest.param(b'[{"prompt": "x"}]', "type", id="array-of-object"),
    pytest.param(b'"prompt"', "type", id="string"),
    pytest.param(b"42", "type", id="number"),
    pytest.param(b"true", "type", id="boolean"),
    pytest.param(b"null", "type", id="null"),
    pytest.param(b'{"prompt": "x", "image": "https://e.com/a.jpg", "seed": NaN}', "json", id="NaN"),
    pytest.param(
        b'{"prompt": "x", "image": "https://e.com/a", "seed": Infinity}', "json", id="inf"
    ),
    pytest.param(
        b'{"prompt": "x", "image": "https://e.com/a", "seed": -Infinity}', "json", id="-i"
    ),
    pytest.param(b"[" * 100_000, "json", id="deeply-nested-open"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "json", id="deeply-nested-closed"),
    pytest.param(
        b'{"prompt": "x", "image": "https://e.com/a.jpg", "seed": ' + b"9" * 5000 + b"}",
        "json",
        id="5000-digit-integer",
    ),
    pytest.param(b'{"prompt": "\xff\xfe\xfa", "image": "https://e.com/a.jpg"}', "json", id="utf8"),
    pytest.param(b'{"prompt": "x"} trailing', "json", id="trailing-garbage"),
]


@pytest.mark.parametrize(("content", "rule"), BODY_REJECTED)
def test_body_rejected(client: TestClient, content: bytes, rule: str) -> None:
    response = client.post(
        CREATE_PATH, content=content, headers={"Content-Type": "application/json"}
    )
    error = assert_invalid(response, "body", rule)
    assert error["detail"].startswith("body: ")
    assert len(error["errors"]) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"[]", "must be a JSON object, got an array", id="array"),
        pytest.param(b"null", "must be a JSON object, got null", id="null"),
        pytest.param(b"{", "malformed JSON", id="malformed"),
        pytest.param(b'{"prompt": "\xff"}', "UTF-8", id="utf8"),
    ],
)
def test_body_messages(client: TestClient, content: bytes, message: str) -> None:
    assert message in client.post(CREATE_PATH, content=content).json()["detail"]


def test_number_too_large_for_a_float_is_not_reported_as_null(client: TestClient) -> None:
    # 1e400 is valid JSON grammar but overflows a double. It must be refused (the fake rejects
    # Infinity) without claiming the client sent null (the stdlib decoder made it float('inf'),
    # which the schema library reported as "duration: must be an integer, got null").
    response = client.post(
        CREATE_PATH, content=b'{"prompt": "x", "image": "https://e.com/a.jpg", "duration": 1e400}'
    )
    assert response.status_code == 400
    error = response.json()
    assert error["field"] in ("body", "duration")
    assert "null" not in error["detail"]


@pytest.mark.parametrize("field", ["prompt", "image", "seed", "resolution"])
def test_nesting_deep_enough_to_pass_json_but_not_the_schema_library(
    client: TestClient, field: str
) -> None:
    # 300 levels parse, but the schema library stops at its recursion limit (ValueError).
    payload = body()
    payload[field] = "@@"
    content = json.dumps(payload).replace('"@@"', "[" * 300 + "]" * 300).encode()
    response = client.post(CREATE_PATH, content=content)
    assert_invalid(response, field, "type")


def test_deep_nesting_in_an_unknown_field_in_strict_mode() -> None:
    # The same recursion limit, in a field only strict mode looks at.
    strict = make_client(Settings(seed=1, strict=True, explain_errors=True))
    content = json.dumps(body(extra="@@")).replace('"@@"', "[" * 300 + "]" * 300).encode()
    assert_invalid(strict.post(CREATE_PATH, content=content), "extra", "additionalProperties")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(json.dumps(body()).encode("utf-16"), id="utf-16-with-bom"),
        pytest.param(json.dumps(body()).encode("utf-16-le"), id="utf-16-le"),
        pytest.param(json.dumps(body()).encode("utf-32"), id="utf-32"),
        pytest.param(b"\xef\xbb\xbf" + json.dumps(body()).encode(), id="utf-8-bom"),
        pytest.param(
            b'{"prompt": "a", "prompt": "b", "image": "https://e.com/a.jpg"}', id="duplicate-keys"
        ),
        pytest.param(
            b'{"prompt": "a", "image": "https://e.com/a.jpg", "image": 5}', id="duplicate-bad-last"
        ),
        pytest.param(b'{"prompt": "\\ud800", "image": "https://e.com/a.jpg"}', id="lone-surrogate"),
        pytest.param(b'{"prompt": "\\u0000", "image": "https://e.com/a.jpg"}', id="nul-char"),
    ],
)
def test_odd_encodings_are_never_a_server_error(client: TestClient, content: bytes) -> None:
    response = client.post(CREATE_PATH, content=content)
    assert response.status_code in (202, 400), response.text
    assert response.headers["content-type"] == "application/json"


def test_invalid_content_length_is_a_400(client: TestClient) -> None:
    response = client.post(CREATE_PATH, content=b"{}", headers={"Content-Length": "abc"})
    assert_invalid(response, "Content-Length", "format")


# --- unknown fields and strict mode --------------------------------------------------------------


def test_unknown_fields_are_ignored_by_default(client: TestClient) -> None:
    assert_created(client.post(CREATE_PATH, json=body(model="wan2.6", extra={"a": [1, 2]})))


def test_strict_mode_rejects_an_unknown_field() -> None:
    strict = make_client(Settings(seed=1, strict=True, explain_errors=True))
    error = assert_invalid(
        strict.post(CREATE_PATH, json=body(model="wan2.6")), "model", "additionalProperties"
    )
    assert "model" in error["detail"]


def test_strict_mode_accepts_every_documented_field() -> None:
    strict = make_client(Settings(seed=1, strict=True, explain_errors=True))
    payload = body(
        negative_prompt="blurry",
        resolution="1080P",
        duration=10,
        prompt_extend=True,
        shot_type="multi",
        multi_shots=True,
        audio=True,
        audio_url="https://e.com/a.wav",
        seed=1,
        safety_filter=True,
        last_frame="https://e.com/b.jpg",
    )
    assert set(payload) == set(documented_fields())
    assert_created(strict.post(CREATE_PATH, json=payload))


def test_strict_mode_lists_each_unknown_field() -> None:
    # Each unknown field gets an entry of its own in `errors`.
    strict = make_client(Settings(seed=1, strict=True, explain_errors=True))
    error = assert_invalid(
        strict.post(CREATE_PATH, json=body(alpha=1, beta=2)), "alpha", "additionalProperties"
    )
    assert [(e["field"], e["rule"]) for e in error["errors"]] == [
        ("alpha", "additionalProperties"),
        ("beta", "additionalProperties"),
    ]


# --- several violations at once ------------------------------------------------------------------


def test_every_schema_violation_is_listed(client: TestClient) -> None:
    payload = {"prompt": "", "image": 5, "duration": 7, "seed": -3, "resolution": "4K"}
    error = assert_invalid(client.post(CREATE_PATH, json=payload), "prompt", "minLength")
    assert sorted((e["field"], e["rule"]) for e in error["errors"]) == [
        ("duration", "enum"),
        ("image", "type"),
        ("prompt", "minLength"),
        ("resolution", "enum"),
        ("seed", "minimum"),
    ]


def test_missing_fields_are_each_listed(client: TestClient) -> None:
    error = assert_invalid(client.post(CREATE_PATH, json={}), "prompt", "required")
    assert [(e["field"], e["rule"]) for e in error["errors"]] == [
        ("prompt", "required"),
        ("image", "required"),
    ]


def test_every_content_violation_is_listed(client: TestClient) -> None:
    # The content checks do not stop at the first failure.
    payload = body(image="ftp://e.com/a.jpg", last_frame="!!!", audio_url="https://e.com/a.ogg")
    error = assert_invalid(client.post(CREATE_PATH, json=payload), "image", "url")
    assert [(e["field"], e["rule"]) for e in error["errors"]] == [
        ("image", "url"),
        ("last_frame", "base64"),
        ("audio_url", "extension"),
    ]


def test_schema_and_content_violations_are_listed_together(client: TestClient) -> None:
    # The content checks run even when the schema already failed.
    payload = body(prompt="", image="ftp://e.com/a.jpg")
    error = assert_invalid(client.post(CREATE_PATH, json=payload), "prompt", "minLength")
    assert ("image", "url") in [(e["field"], e["rule"]) for e in error["errors"]]


# --- property: nothing a client sends makes the fake fail ----------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
FIELD_NAMES = st.sampled_from(documented_fields()) | st.text(max_size=12)
NEAR_VALID_BODIES = st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=6).map(
    lambda extra: {**body(), **extra}
)


@functools.cache
def fuzz_client() -> TestClient:
    return TestClient(
        create_app(Settings(seed=5, explain_errors=True)),
        headers=AUTH,
        base_url="http://wan-mock.test",
        raise_server_exceptions=False,
    )


def assert_well_formed_answer(response: Response) -> None:
    assert response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    if response.status_code == 202:
        assert answer["task_info"]["status"] == "pending"
        return
    assert response.status_code == 400
    assert isinstance(answer["detail"], str)
    assert answer["detail"]
    assert answer["field"] in answer["detail"]


@given(value=JSON_VALUES | NEAR_VALID_BODIES)
def test_any_json_value_gets_a_json_answer(value: object) -> None:
    content = json.dumps(value).encode()
    assert_well_formed_answer(fuzz_client().post(CREATE_PATH, content=content))


@given(content=st.binary(max_size=256))
def test_any_bytes_get_a_json_answer(content: bytes) -> None:
    assert_well_formed_answer(fuzz_client().post(CREATE_PATH, content=content))
