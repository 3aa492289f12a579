"""The create endpoint's schema rules over HTTP: each rejected value answers 400 with the
field, the rule and a detail naming the field; each documented value is accepted; audio_url."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import Settings
from mockserver.domain.backend import Backend
from tests.helpers import (
    CREATE_PATH,
    MISSING,
    assert_created,
    assert_invalid,
    body,
    with_field,
)

# --- schema rules --------------------------------------------------------------------------------

SCHEMA_REJECTED = [
    pytest.param("prompt", MISSING, "required", id="prompt-missing"),
    pytest.param("image", MISSING, "required", id="image-missing"),
    pytest.param("prompt", "", "minLength", id="prompt-empty"),
    pytest.param("prompt", "x" * 2001, "maxLength", id="prompt-2001"),
    pytest.param("prompt", 42, "type", id="prompt-integer"),
    pytest.param("prompt", None, "type", id="prompt-null"),
    pytest.param("prompt", ["a"], "type", id="prompt-array"),
    pytest.param("negative_prompt", "x" * 501, "maxLength", id="negative_prompt-501"),
    pytest.param("negative_prompt", 1, "type", id="negative_prompt-integer"),
    pytest.param("resolution", "480P", "enum", id="resolution-480P"),
    pytest.param("resolution", "720p", "enum", id="resolution-lower-case"),
    pytest.param("duration", 7, "enum", id="duration-7"),
    pytest.param("duration", "5", "type", id="duration-string"),
    pytest.param("duration", 5.5, "type", id="duration-float"),
    pytest.param("duration", True, "type", id="duration-boolean"),
    pytest.param("prompt_extend", "true", "type", id="prompt_extend-string"),
    pytest.param("prompt_extend", None, "type", id="prompt_extend-null"),
    pytest.param("shot_type", "double", "enum", id="shot_type-double"),
    pytest.param("multi_shots", "double", "enum", id="multi_shots-double"),
    pytest.param("multi_shots", 1, "type", id="multi_shots-integer"),
    pytest.param("audio", "true", "type", id="audio-string"),
    pytest.param("seed", -1, "minimum", id="seed-negative"),
    pytest.param("seed", 2147483648, "maximum", id="seed-2**31"),
    pytest.param("seed", "1", "type", id="seed-string"),
    pytest.param("seed", 1.5, "type", id="seed-float"),
    pytest.param("safety_filter", "false", "type", id="safety_filter-string"),
    pytest.param("safety_filter", 0, "type", id="safety_filter-integer"),
    pytest.param("audio_url", 5, "type", id="audio_url-integer"),
    pytest.param("image", 5, "type", id="image-integer"),
    pytest.param("image", None, "type", id="image-null"),
    pytest.param("image", "", "minLength", id="image-empty"),
    pytest.param("last_frame", None, "type", id="last_frame-null"),
    pytest.param("last_frame", "", "minLength", id="last_frame-empty"),
]


@pytest.fixture
def mock_settings() -> Settings:
    """These tests read each violation's field and rule: the diagnostics switched on (the
    documented default body is covered in test_error_bodies.py)."""
    return Settings(seed=7, explain_errors=True)


@pytest.mark.parametrize(("field", "value", "rule"), SCHEMA_REJECTED)
def test_schema_rule_rejected(client: TestClient, field: str, value: object, rule: str) -> None:
    assert_invalid(client.post(CREATE_PATH, json=with_field(field, value)), field, rule)


SCHEMA_ACCEPTED = [
    pytest.param("prompt", "x" * 2000, id="prompt-2000"),
    pytest.param("prompt", "é" * 2000, id="prompt-2000-non-ascii"),
    pytest.param("negative_prompt", "x" * 500, id="negative_prompt-500"),
    pytest.param("negative_prompt", "", id="negative_prompt-empty"),
    pytest.param("resolution", "720P", id="resolution-720P"),
    pytest.param("resolution", "1080P", id="resolution-1080P"),
    pytest.param("duration", 5, id="duration-5"),
    pytest.param("duration", 10, id="duration-10"),
    pytest.param("duration", 15, id="duration-15"),
    pytest.param("prompt_extend", False, id="prompt_extend-false"),
    pytest.param("shot_type", "single", id="shot_type-single"),
    pytest.param("shot_type", "multi", id="shot_type-multi"),
    pytest.param("shot_type", None, id="shot_type-null"),
    pytest.param("multi_shots", True, id="multi_shots-true"),
    pytest.param("multi_shots", False, id="multi_shots-false"),
    pytest.param("multi_shots", "single", id="multi_shots-single"),
    pytest.param("multi_shots", "multi", id="multi_shots-multi"),
    pytest.param("audio", False, id="audio-false"),
    pytest.param("audio", None, id="audio-null"),
    pytest.param("seed", 0, id="seed-0"),
    pytest.param("seed", 2147483647, id="seed-max"),
    pytest.param("safety_filter", False, id="safety_filter-false"),
    pytest.param("safety_filter", None, id="safety_filter-null"),
    pytest.param("audio_url", "https://cdn.example.com/a.wav", id="audio_url-wav"),
    pytest.param("audio_url", "https://e.com/Track.MP3?sig=abc&t=1", id="audio_url-MP3-query"),
    pytest.param("audio_url", "http://e.com/a.mp3#t=3", id="audio_url-fragment"),
    pytest.param("audio_url", None, id="audio_url-null"),
]


@pytest.mark.parametrize(("field", "value"), SCHEMA_ACCEPTED)
def test_schema_value_accepted(client: TestClient, field: str, value: object) -> None:
    assert_created(client.post(CREATE_PATH, json=with_field(field, value)))


def test_duration_type_and_enum_are_both_reported(client: TestClient) -> None:
    error = assert_invalid(client.post(CREATE_PATH, json=body(duration="5")), "duration", "type")
    assert error["detail"] == (
        'duration: must be an integer, got a string; duration: must be one of 5, 10, 15; got "5"'
    )
    assert [(e["field"], e["rule"]) for e in error["errors"]] == [
        ("duration", "type"),
        ("duration", "enum"),
    ]


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        pytest.param("prompt", "", "prompt: must not be empty", id="minLength"),
        pytest.param(
            "prompt", "x" * 2001, "prompt: must be at most 2000 characters, got 2001", id="max"
        ),
        pytest.param(
            "resolution",
            "480P",
            'resolution: must be one of "720P", "1080P"; got "480P"',
            id="enum",
        ),
        pytest.param("seed", -1, "seed: must be at least 0, got -1", id="minimum"),
        pytest.param("audio", "true", "audio: must be null or a boolean, got a string", id="type"),
    ],
)
def test_schema_messages(client: TestClient, field: str, value: object, detail: str) -> None:
    response = client.post(CREATE_PATH, json=body(**{field: value}))
    assert response.json()["detail"] == detail


@pytest.mark.parametrize(
    ("fields", "shot_type"),
    [
        pytest.param({}, "single", id="default"),
        pytest.param({"multi_shots": True}, "multi", id="multi_shots-true"),
        pytest.param({"multi_shots": "multi"}, "multi", id="multi_shots-multi"),
        pytest.param({"multi_shots": False}, "single", id="multi_shots-false"),
        pytest.param({"multi_shots": "single"}, "single", id="multi_shots-single"),
        pytest.param({"shot_type": "single", "multi_shots": True}, "single", id="shot_type-wins"),
        pytest.param({"shot_type": None, "multi_shots": True}, "multi", id="null-shot_type"),
    ],
)
def test_multi_shots_is_read_as_shot_type(
    client: TestClient, backend: Backend, fields: dict[str, Any], shot_type: str
) -> None:
    created = client.post(CREATE_PATH, json=body(**fields))
    assert created.status_code == 202
    task = backend.store.get(created.json()["task_info"]["id"])
    assert task is not None
    assert task.request.shot_type == shot_type


# --- audio_url -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        pytest.param("not a url", "url", id="words"),
        pytest.param("track.mp3", "url", id="relative"),
        pytest.param("ftp://e.com/a.mp3", "url", id="ftp"),
        pytest.param("https:///a.mp3", "url", id="no-host"),
        pytest.param("http://e.com/a.ogg", "extension", id="ogg"),
        pytest.param("http://e.com/a.mp3.ogg?x=.mp3", "extension", id="mp3-only-in-query"),
        pytest.param("https://e.com/audio", "extension", id="no-extension"),
    ],
)
def test_audio_url_rejected(client: TestClient, value: str, rule: str) -> None:
    assert_invalid(client.post(CREATE_PATH, json=body(audio_url=value)), "audio_url", rule)


@pytest.mark.parametrize("field", ["image", "last_frame", "audio_url"])
def test_url_that_urlsplit_cannot_parse_is_a_400(client: TestClient, field: str) -> None:
    # urlsplit itself raises on these; that must still be a 400 with rule "url".
    response = client.post(CREATE_PATH, json=body(**{field: "http://[::1/a.mp3"}))
    assert_invalid(response, field, "url")
