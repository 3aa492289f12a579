"""The rules for ``image`` and ``last_frame`` over HTTP: URLs and base64 images (format,
transparency, dimensions, size), each refusal naming the field and the rule."""

from __future__ import annotations

import base64
import functools
import io
import json
import random

import pytest
from PIL import Image
from starlette.testclient import TestClient

from mockserver import Settings
from mockserver.domain.images import MAX_IMAGE_BYTES
from tests.helpers import (
    AUTH,
    CREATE_PATH,
    assert_created,
    assert_invalid,
    b64,
    body,
    data_uri,
    image_bytes,
)

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


def test_the_largest_valid_create_fits_the_default_body_cap(client: TestClient) -> None:
    # Both images at 10 MiB as data URLs, both prompts at their length limit in characters
    # that JSON escapes to 12 bytes each (a surrogate pair), every optional field set.
    image = data_uri(bmp_of_size(MAX_IMAGE_BYTES), "image/bmp")
    payload = body(
        prompt="\U0001f600" * 2000,
        negative_prompt="\U0001f600" * 500,
        image=image,
        last_frame=image,
        resolution="1080P",
        duration=15,
        prompt_extend=True,
        shot_type="multi",
        audio=True,
        audio_url="https://example.com/" + "a" * 2000 + ".mp3",
        seed=2147483647,
        safety_filter=True,
    )
    raw = json.dumps(payload).encode()  # ensure_ascii: every emoji as \ud83d\ude00
    assert len(raw) > 27_900_000
    assert len(raw) < Settings().max_body_bytes
    headers = {"Content-Type": "application/json"}
    assert_created(client.post(CREATE_PATH, content=raw, headers={**AUTH, **headers}))
