"""Every validation rule of the create endpoint, over HTTP: status, ``field``, ``rule``, and a
``detail`` that names the field. Also the body-level checks (JSON, size caps) and a property
test that no body, however odd, makes the fake answer 5xx."""

from __future__ import annotations

import base64
import functools
import io
import json
import random
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from httpx2 import Response
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message

from mockserver import Settings, create_app
from mockserver.domain.backend import Backend
from mockserver.domain.contract import documented_fields
from mockserver.domain.images import MAX_IMAGE_BYTES
from tests.helpers import AUTH, CREATE_PATH, b64, body, data_uri, image_bytes

MISSING = object()


def make_client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), headers=AUTH, base_url="http://wan-mock.test")


def assert_invalid(response: Response, field: str, rule: str) -> dict[str, Any]:
    """A 400 in the documented shape, whose first violation is ``field``/``rule``."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["error_code"] == 2001
    assert error["title"] == "Invalid Request"
    assert (error["field"], error["rule"]) == (field, rule), error
    assert isinstance(error["detail"], str)
    assert field in error["detail"]
    assert error["errors"][0] == {"field": field, "rule": rule, "detail": error["detail"]}
    for entry in error["errors"]:
        assert set(entry) == {"field", "rule", "detail"}
        assert entry["field"] in entry["detail"]
    return dict(error)


def assert_created(response: Response) -> None:
    assert response.status_code == 202, response.text
    assert response.json()["task_info"]["status"] == "pending"


def with_field(name: str, value: object) -> dict[str, Any]:
    payload = body()
    if value is MISSING:
        payload.pop(name, None)
    else:
        payload[name] = value
    return payload


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
    assert error["detail"] == "duration: must be an integer, got a string"
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


# --- image and last_frame ------------------------------------------------------------------------

IMAGE_FIELDS = [pytest.param("image", id="image"), pytest.param("last_frame", id="last_frame")]


def _png_palette_with_transparency() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (640, 480), 3).save(buffer, format="PNG", transparency=3)
    return buffer.getvalue()


def _not_an_image() -> str:
    return b64(random.Random(1).randbytes(4096))


IMAGE_ACCEPTED = [
    pytest.param("http://example.com/a.jpg", id="http-url"),
    pytest.param("https://example.com/path/a.png?token=x%20y", id="https-url-query"),
    pytest.param(b64(image_bytes("JPEG")), id="jpeg-bare"),
    pytest.param(data_uri(image_bytes("JPEG"), "image/jpeg"), id="jpeg-data-uri"),
    pytest.param(b64(image_bytes("PNG")), id="png-bare"),
    pytest.param(data_uri(image_bytes("PNG")), id="png-data-uri"),
    pytest.param(b64(image_bytes("BMP")), id="bmp-bare"),
    pytest.param(data_uri(image_bytes("BMP"), "image/bmp"), id="bmp-data-uri"),
    pytest.param(b64(image_bytes("WEBP")), id="webp-bare"),
    pytest.param(data_uri(image_bytes("WEBP"), "image/webp"), id="webp-data-uri"),
    pytest.param(b64(image_bytes("PNG", (360, 360))), id="360x360"),
    pytest.param(b64(image_bytes("PNG", (2000, 2000), "L")), id="2000x2000"),
    pytest.param(b64(image_bytes("JPEG", (640, 480), "RGB")), id="jpeg-is-never-transparent"),
    pytest.param(base64.encodebytes(image_bytes("JPEG")).decode(), id="line-wrapped-76"),
    pytest.param(
        "data:image/jpeg;base64," + base64.encodebytes(image_bytes("JPEG")).decode(),
        id="data-uri-line-wrapped",
    ),
]


@pytest.mark.parametrize("field", IMAGE_FIELDS)
@pytest.mark.parametrize("value", IMAGE_ACCEPTED)
def test_image_accepted(client: TestClient, field: str, value: str) -> None:
    assert_created(client.post(CREATE_PATH, json=body(**{field: value})))


IMAGE_REJECTED = [
    pytest.param("https://example.com/a b.jpg", "url", id="url-with-space"),
    pytest.param("https:///a.jpg", "url", id="url-without-host"),
    pytest.param("ftp://example.com/a.jpg", "url", id="ftp"),
    pytest.param("oss://bucket/a.jpg", "url", id="oss"),
    pytest.param(b64(image_bytes("GIF", mode="P")), "format", id="gif"),
    pytest.param(b64(image_bytes("TIFF")), "format", id="tiff"),
    pytest.param(b64(image_bytes("PNG", mode="RGBA")), "transparency", id="png-rgba"),
    pytest.param(b64(image_bytes("PNG", mode="LA")), "transparency", id="png-la"),
    pytest.param(b64(_png_palette_with_transparency()), "transparency", id="png-p-trns"),
    pytest.param(b64(image_bytes("PNG", (359, 640))), "dimensions", id="359x640"),
    pytest.param(b64(image_bytes("PNG", (2001, 800), "L")), "dimensions", id="2001x800"),
    pytest.param("!!!notbase64", "base64", id="not-base64"),
    pytest.param(b64(image_bytes("PNG"))[:-1], "base64", id="wrong-padding"),
    pytest.param("data:image/png,xxx", "base64", id="data-uri-not-base64"),
    pytest.param("data:text/plain;base64,aGVsbG8gd29ybGQ=", "format", id="data-uri-text-plain"),
    pytest.param("¡ñø ßäsé64 ☃", "base64", id="non-ascii"),
    pytest.param(_not_an_image(), "format", id="random-bytes"),
]


@pytest.mark.parametrize("field", IMAGE_FIELDS)
@pytest.mark.parametrize(("value", "rule"), IMAGE_REJECTED)
def test_image_rejected(client: TestClient, field: str, value: str, rule: str) -> None:
    assert_invalid(client.post(CREATE_PATH, json=body(**{field: value})), field, rule)


@pytest.mark.parametrize("field", IMAGE_FIELDS)
def test_image_format_is_named(client: TestClient, field: str) -> None:
    response = client.post(CREATE_PATH, json=body(**{field: b64(image_bytes("GIF", mode="P"))}))
    error = assert_invalid(response, field, "format")
    assert "GIF" in error["detail"]
    assert "JPEG, PNG (without transparency), BMP or WEBP" in error["detail"]


@pytest.mark.parametrize("field", IMAGE_FIELDS)
def test_image_dimensions_are_named(client: TestClient, field: str) -> None:
    response = client.post(CREATE_PATH, json=body(**{field: b64(image_bytes("PNG", (359, 640)))}))
    error = assert_invalid(response, field, "dimensions")
    assert "359x640" in error["detail"]


@functools.cache
def bmp_of_size(total: int) -> bytes:
    """A real 640x480 BMP, zero-padded to ``total`` bytes (Pillow reads the header only)."""
    data = image_bytes("BMP")
    return data + bytes(total - len(data))


@pytest.mark.parametrize("field", IMAGE_FIELDS)
def test_image_over_ten_megabytes_is_a_400_not_a_413(client: TestClient, field: str) -> None:
    # 10 MiB + 1 byte decoded: ~13.4 MB of base64, well under the default 32 MiB body cap.
    value = b64(bmp_of_size(MAX_IMAGE_BYTES + 1))
    assert len(value) > 13_900_000
    error = assert_invalid(client.post(CREATE_PATH, json=body(**{field: value})), field, "size")
    assert "10 MB" in error["detail"]


def test_image_of_exactly_ten_megabytes_is_accepted(client: TestClient) -> None:
    assert_created(client.post(CREATE_PATH, json=body(image=b64(bmp_of_size(MAX_IMAGE_BYTES)))))


def test_random_bytes_over_ten_megabytes_are_a_size_error(client: TestClient) -> None:
    value = b64(random.Random(2).randbytes(MAX_IMAGE_BYTES + 512 * 1024))
    assert_invalid(client.post(CREATE_PATH, json=body(image=value)), "image", "size")


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
    strict = make_client(Settings(seed=1, strict=True))
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
    strict = make_client(Settings(seed=1, strict=True))
    error = assert_invalid(
        strict.post(CREATE_PATH, json=body(model="wan2.6")), "model", "additionalProperties"
    )
    assert "model" in error["detail"]


def test_strict_mode_accepts_every_documented_field() -> None:
    strict = make_client(Settings(seed=1, strict=True))
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
    strict = make_client(Settings(seed=1, strict=True))
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


# --- body size cap -------------------------------------------------------------------------------

SMALL_CAP = 2048


@pytest.fixture
def capped() -> TestClient:
    return make_client(Settings(seed=1, max_body_bytes=SMALL_CAP))


def assert_too_large(response: Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["error_code"] == 413
    assert error["title"] == "Payload Too Large"
    assert f"larger than {SMALL_CAP} bytes" in error["detail"]


def sized_body(size: int) -> bytes:
    """A valid create body of exactly ``size`` bytes."""
    content = json.dumps(body(prompt="")).encode()
    return json.dumps(body(prompt="x" * (size - len(content)))).encode()


def test_body_at_the_cap_is_accepted(capped: TestClient) -> None:
    content = sized_body(SMALL_CAP)
    assert len(content) == SMALL_CAP
    assert_created(capped.post(CREATE_PATH, content=content))


def test_body_one_byte_over_the_cap_is_a_413(capped: TestClient) -> None:
    assert_too_large(capped.post(CREATE_PATH, content=sized_body(SMALL_CAP + 1)))


def test_three_kilobyte_body_is_a_413(capped: TestClient) -> None:
    content = json.dumps(body(prompt="x" * 3000)).encode()
    assert 3000 < len(content) < 3100
    assert_too_large(capped.post(CREATE_PATH, content=content))


def test_streamed_body_over_the_cap_is_a_413(capped: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(4):
            yield b"x" * 1024
        yield b'", "image": "https://e.com/a.jpg"}'

    assert_too_large(capped.post(CREATE_PATH, content=chunks()))


def test_streamed_body_under_the_cap_is_accepted(capped: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "'
        yield b"x" * 1024
        yield b'", "image": "https://e.com/a.jpg"}'

    assert_created(capped.post(CREATE_PATH, content=chunks()))


async def asgi_post(
    app: ASGIApp, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]
) -> tuple[int, bytes, int]:
    """POST straight to the ASGI app, feeding the body chunk by chunk.

    Returns the status, the response body and how many body chunks the app asked for, so a test
    can tell whether the app stopped reading early.
    """
    consumed = 0
    pending = next(chunks, None)
    status = 0
    parts: list[bytes] = []

    async def receive() -> Message:
        nonlocal consumed, pending
        if pending is None:
            return {"type": "http.disconnect"}
        chunk, pending = pending, next(chunks, None)
        consumed += 1
        return {"type": "http.request", "body": chunk, "more_body": pending is not None}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": CREATE_PATH,
        "raw_path": CREATE_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"wan-mock.test"), (b"authorization", b"Bearer k"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("wan-mock.test", 80),
    }
    await app(scope, receive, send)
    return status, b"".join(parts), consumed


def test_declared_content_length_over_the_cap_is_refused_without_reading() -> None:
    app = create_app(Settings(seed=1, max_body_bytes=SMALL_CAP))
    endless = iter(lambda: b"x" * 1024, None)
    status, content, consumed = anyio.run(
        asgi_post, app, [(b"content-length", b"1000000000")], endless
    )
    assert status == 413
    assert json.loads(content)["error_code"] == 413
    assert consumed == 0


def test_endless_chunked_body_is_abandoned_at_the_cap() -> None:
    app = create_app(Settings(seed=1, max_body_bytes=SMALL_CAP))
    endless = iter(lambda: b"x" * 1024, None)
    status, content, consumed = anyio.run(
        asgi_post, app, [(b"transfer-encoding", b"chunked")], endless
    )
    assert status == 413
    assert "larger than 2048 bytes" in json.loads(content)["detail"]
    assert consumed == 3  # 3 KiB read: the first chunk that passes 2 KiB


def test_chunked_body_within_the_cap_is_read_in_full() -> None:
    app = create_app(Settings(seed=1, max_body_bytes=SMALL_CAP))
    content = json.dumps(body()).encode()
    pieces = iter([content[i : i + 10] for i in range(0, len(content), 10)])
    status, answer, consumed = anyio.run(asgi_post, app, [], pieces)
    assert status == 202, answer
    assert consumed == -(-len(content) // 10)


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
        create_app(Settings(seed=5)),
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
