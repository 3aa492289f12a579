"""Unit tests of ``mockserver.domain.images``: URL syntax, base64 and data-URI parsing, and the
checks made on a decoded image's header (format, transparency, dimensions, size)."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
from collections.abc import Callable

import pytest
from PIL import Image

from mockserver.domain.errors import InvalidRequest
from mockserver.domain.generation import ImageRef
from mockserver.domain.images import (
    MAX_IMAGE_BYTES,
    MAX_URL_LENGTH,
    check_url,
    inspect_image,
    read_image,
)
from tests.helpers import b64, data_uri, image_bytes

PNG = image_bytes("PNG")
JPEG = image_bytes("JPEG")


def rejection(field: str, value: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        inspect_image(field, value)
    return caught.value


def url_rejection(field: str, value: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        check_url(field, value)
    return caught.value


def png_with_transparency(mode: str, transparency: int | tuple[int, int, int]) -> bytes:
    colour: int | tuple[int, int, int] = 128 if mode in ("P", "L") else (30, 120, 200)
    buffer = io.BytesIO()
    Image.new(mode, (640, 480), colour).save(buffer, format="PNG", transparency=transparency)
    return buffer.getvalue()


@functools.cache
def padded_bmp(total: int) -> bytes:
    """A 640x480 BMP header and pixel data, zero-padded to ``total`` bytes.

    Pillow reads only the header, so the padding makes a file of any size that still opens as
    a 640x480 BMP: a cheap way to probe the size limit byte by byte.
    """
    data = image_bytes("BMP", (640, 480))
    assert len(data) < total
    return data + bytes(total - len(data))


# --- check_url -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://example.com/a.jpg", id="http"),
        pytest.param("https://example.com/a.jpg?sig=abc&x=1#frag", id="https-query"),
        pytest.param("HTTPS://EXAMPLE.COM/A.JPG", id="upper-case-scheme"),
        pytest.param("http://[::1]:8080/a.jpg", id="ipv6-host"),
        pytest.param("https://user:pw@example.com:443/a.jpg", id="userinfo-and-port"),
        pytest.param("https://e.com/" + "a" * (MAX_URL_LENGTH - len("https://e.com/")), id="max"),
    ],
)
def test_check_url_accepts(url: str) -> None:
    assert check_url("image", url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("https://e.com/a b.jpg", "whitespace", id="inner-space"),
        pytest.param("https://e.com/a.jpg\n", "whitespace", id="trailing-newline"),
        pytest.param("https://e.com/a\tb.jpg", "whitespace", id="tab"),
        pytest.param("https:///a.jpg", "absolute http(s) URL", id="no-host"),
        pytest.param("http://", "absolute http(s) URL", id="scheme-only"),
        pytest.param("ftp://e.com/a.jpg", "absolute http(s) URL", id="ftp"),
        pytest.param("oss://bucket/a.jpg", "absolute http(s) URL", id="oss"),
        pytest.param("/relative/a.jpg", "absolute http(s) URL", id="relative"),
        pytest.param("example.com/a.jpg", "absolute http(s) URL", id="no-scheme"),
        pytest.param("http://e.com:99999/a.jpg", "absolute http(s) URL", id="port-out-of-range"),
        pytest.param("http://e.com:port/a.jpg", "absolute http(s) URL", id="port-not-a-number"),
        pytest.param(
            "https://e.com/" + "a" * (MAX_URL_LENGTH + 1 - len("https://e.com/")),
            f"longer than {MAX_URL_LENGTH}",
            id="too-long",
        ),
    ],
)
def test_check_url_rejects(url: str, message: str) -> None:
    error = url_rejection("audio_url", url)
    assert (error.field, error.rule) == ("audio_url", "url")
    assert error.detail.startswith("audio_url: ")
    assert message in error.detail


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://[::1/a.jpg", id="unclosed-ipv6-bracket"),
        pytest.param("http://[not-an-ip]/a.jpg", id="invalid-ipv6-literal"),
    ],
)
def test_check_url_rejects_url_that_urlsplit_cannot_parse(url: str) -> None:
    # urlsplit raises ValueError here; that is a bad URL, not a crash.
    error = url_rejection("image", url)
    assert (error.field, error.rule) == ("image", "url")


# --- inspect_image: URLs and schemes -------------------------------------------------------------


def test_url_image_is_not_fetched_and_keeps_the_url() -> None:
    ref = inspect_image("image", "https://example.com/first_frame.jpg")
    assert ref == ImageRef(source="url", url="https://example.com/first_frame.jpg")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("ftp://e.com/a.jpg", id="ftp"),
        pytest.param("oss://bucket/key.jpg", id="oss"),
        pytest.param("file:///etc/passwd", id="file"),
        pytest.param("s3://bucket/key.png", id="s3"),
    ],
)
def test_other_schemes_are_rejected_as_urls(value: str) -> None:
    error = rejection("last_frame", value)
    assert (error.field, error.rule) == ("last_frame", "url")
    assert "http(s)" in error.detail
    assert error.detail.startswith("last_frame: ")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(" https://e.com/a.jpg", id="leading-space"),
        pytest.param("http:/e.com/a.jpg", id="one-slash"),
        pytest.param("https:", id="scheme-only"),
    ],
)
def test_url_like_values_are_reported_as_bad_urls(value: str) -> None:
    # Values clearly meant as http(s) URLs that do not start exactly with "http(s)://" are
    # reported as bad URLs, not as bad base64.
    error = rejection("image", value)
    assert (error.field, error.rule) == ("image", "url")


# --- inspect_image: base64 and data URIs ---------------------------------------------------------


def test_bare_base64_fills_the_image_facts() -> None:
    ref, data = read_image("image", b64(PNG))
    assert ref == ImageRef(
        source="base64",
        format="PNG",
        width=640,
        height=480,
        size_bytes=len(PNG),
        digest=hashlib.blake2b(PNG, digest_size=16).hexdigest(),
    )
    assert data == PNG  # the bytes come back for the result video; the ref keeps only the digest
    assert inspect_image("image", b64(PNG)) == ref


@pytest.mark.parametrize(
    ("fmt", "size", "mode"),
    [
        pytest.param("JPEG", (640, 480), "RGB", id="jpeg"),
        pytest.param("PNG", (360, 2000), "RGB", id="png-min-width-max-height"),
        pytest.param("PNG", (1024, 768), "L", id="png-greyscale"),
        pytest.param("PNG", (800, 600), "P", id="png-palette-without-transparency"),
        pytest.param("BMP", (2000, 360), "RGB", id="bmp"),
        pytest.param("WEBP", (500, 700), "RGB", id="webp"),
        pytest.param("JPEG", (640, 480), "CMYK", id="jpeg-cmyk"),
    ],
)
def test_accepted_images_report_their_format_and_size(
    fmt: str, size: tuple[int, int], mode: str
) -> None:
    data = image_bytes(fmt, size, mode)
    ref = inspect_image("image", b64(data))
    assert (ref.source, ref.format, ref.width, ref.height) == ("base64", fmt, *size)
    assert ref.size_bytes == len(data)
    assert ref.url is None


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("data:image/png;base64,", id="plain"),
        pytest.param("DATA:IMAGE/PNG;BASE64,", id="upper-case"),
        pytest.param("data:image/jpeg;base64,", id="declared-type-differs-from-bytes"),
        pytest.param("data:image/png;name=a.png;base64,", id="extra-parameter"),
        pytest.param("data:image/png;charset=utf-8;base64,", id="charset-parameter"),
    ],
)
def test_data_uri_is_parsed_and_the_bytes_decide_the_format(prefix: str) -> None:
    ref = inspect_image("image", prefix + b64(PNG))
    assert (ref.format, ref.width, ref.height, ref.size_bytes) == ("PNG", 640, 480, len(PNG))


def _mime_lf(data: bytes) -> str:
    return base64.encodebytes(data).decode()


def _mime_crlf(data: bytes) -> str:
    return base64.encodebytes(data).decode().replace("\n", "\r\n")


def _surrounded(data: bytes) -> str:
    return f"  {b64(data)}\n"


def _spaced(data: bytes) -> str:
    text = b64(data)
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(_mime_lf, id="mime-76-lf"),
        pytest.param(_mime_crlf, id="mime-76-crlf"),
        pytest.param(_surrounded, id="surrounding-whitespace"),
        pytest.param(_spaced, id="space-every-4"),
    ],
)
def test_base64_with_whitespace_is_accepted(wrap: Callable[[bytes], str]) -> None:
    text = wrap(JPEG)
    assert any(ch.isspace() for ch in text)
    ref = inspect_image("image", text)
    assert (ref.format, ref.size_bytes) == ("JPEG", len(JPEG))


def test_data_uri_with_line_wrapped_payload() -> None:
    ref = inspect_image("image", "data:image/jpeg;base64," + base64.encodebytes(JPEG).decode())
    assert (ref.format, ref.width, ref.height) == ("JPEG", 640, 480)


@pytest.mark.parametrize(
    ("value", "rule", "message"),
    [
        pytest.param("!!!notbase64", "base64", "not valid base64", id="punctuation"),
        pytest.param("abc", "base64", "not valid base64", id="wrong-padding"),
        pytest.param("QU=JD", "base64", "not valid base64", id="padding-inside"),
        pytest.param("QUJDRA", "base64", "Incorrect padding", id="missing-padding"),
        pytest.param("ééé", "base64", "non-ASCII", id="non-ascii"),
        pytest.param("  \n ", "base64", "empty", id="only-whitespace"),
        pytest.param("data:image/png;base64,", "base64", "empty", id="empty-data-uri"),
        pytest.param("data:image/png,xxx", "base64", "base64", id="data-uri-not-base64"),
        pytest.param("data:image/png;base64", "base64", "malformed data URI", id="no-comma"),
        pytest.param("data:text/plain;base64,aGVsbG8=", "format", "'text/plain'", id="text"),
        pytest.param("data:;base64,aGVsbG8=", "format", "image/*", id="no-media-type"),
        pytest.param(b64(b"hello, not an image" * 10), "format", "not a readable", id="text"),
        pytest.param(b64(bytes(range(256)) * 8), "format", "not a readable", id="binary"),
    ],
)
def test_undecodable_values(value: str, rule: str, message: str) -> None:
    error = rejection("image", value)
    assert (error.field, error.rule) == ("image", rule)
    assert error.detail.startswith("image: ")
    assert message in error.detail


# --- inspect_image: what the decoded image must be -----------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [
        pytest.param("GIF", "P", id="gif"),
        pytest.param("TIFF", "RGB", id="tiff"),
        pytest.param("ICO", "RGB", id="ico"),
        pytest.param("PPM", "RGB", id="ppm"),
        pytest.param("PCX", "RGB", id="pcx"),
    ],
)
def test_unsupported_formats_are_named_in_the_message(fmt: str, mode: str) -> None:
    size = (256, 256) if fmt == "ICO" else (640, 480)
    error = rejection("last_frame", b64(image_bytes(fmt, size, mode)))
    assert (error.field, error.rule) == ("last_frame", "format")
    assert f"{fmt} images are not supported" in error.detail
    assert "JPEG, PNG (without transparency), BMP or WEBP" in error.detail


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(image_bytes("PNG", mode="RGBA"), id="rgba"),
        pytest.param(image_bytes("PNG", mode="LA"), id="la"),
        pytest.param(png_with_transparency("P", 0), id="palette-trns"),
        pytest.param(png_with_transparency("L", 0), id="greyscale-trns"),
        pytest.param(png_with_transparency("RGB", (1, 2, 3)), id="rgb-trns"),
    ],
)
def test_png_with_transparency_is_rejected(data: bytes) -> None:
    error = rejection("image", data_uri(data))
    assert (error.field, error.rule) == ("image", "transparency")
    assert error.detail == "image: PNG images must not have transparency"


@pytest.mark.parametrize(
    "fmt",
    [pytest.param("WEBP", id="webp-rgba"), pytest.param("BMP", id="bmp-rgba")],
)
def test_transparency_is_only_a_png_rule(fmt: str) -> None:
    ref = inspect_image("image", b64(image_bytes(fmt, mode="RGBA")))
    assert ref.format == fmt


@pytest.mark.parametrize(
    "size",
    [
        pytest.param((359, 640), id="narrow"),
        pytest.param((640, 359), id="short"),
        pytest.param((2001, 800), id="wide"),
        pytest.param((800, 2001), id="tall"),
        pytest.param((1, 1), id="tiny"),
    ],
)
def test_dimensions_out_of_range(size: tuple[int, int]) -> None:
    error = rejection("image", b64(image_bytes("PNG", size, "L")))
    assert (error.field, error.rule) == ("image", "dimensions")
    assert f"{size[0]}x{size[1]} px" in error.detail
    assert "360..2000" in error.detail


@pytest.mark.parametrize(
    "size",
    [pytest.param((360, 360), id="min"), pytest.param((2000, 2000), id="max")],
)
def test_dimension_bounds_are_inclusive(size: tuple[int, int]) -> None:
    ref = inspect_image("image", b64(image_bytes("PNG", size, "L")))
    assert (ref.width, ref.height) == size


# --- inspect_image: the 10 MB limit --------------------------------------------------------------


def test_exactly_ten_megabytes_is_accepted() -> None:
    data = padded_bmp(MAX_IMAGE_BYTES)
    ref = inspect_image("image", b64(data))
    assert (ref.format, ref.width, ref.height, ref.size_bytes) == ("BMP", 640, 480, MAX_IMAGE_BYTES)


def test_one_byte_over_ten_megabytes_is_rejected() -> None:
    error = rejection("image", b64(padded_bmp(MAX_IMAGE_BYTES + 1)))
    assert (error.field, error.rule) == ("image", "size")
    assert "10485761 bytes, over the limit of 10485760 bytes" in error.detail


def test_size_message_says_the_image_is_bigger_than_the_limit() -> None:
    # 10 MiB + 1 byte must not read as if it were within the limit (rounding to "10.0 MB").
    error = rejection("image", b64(padded_bmp(MAX_IMAGE_BYTES + 1)))
    assert "image is 10.0 MB" not in error.detail


def test_line_wrapped_base64_of_a_ten_megabyte_image_is_accepted() -> None:
    # The pre-decode size estimate must not count line breaks: MIME-wrapped base64 of an
    # image exactly at the limit is accepted.
    ref = inspect_image("image", base64.encodebytes(padded_bmp(MAX_IMAGE_BYTES)).decode())
    assert ref.size_bytes == MAX_IMAGE_BYTES


def test_far_too_large_base64_is_rejected_before_decoding() -> None:
    # 16 MiB of "A" is valid base64 (of 12 MiB of zero bytes): rejected on its length alone.
    error = rejection("image", "A" * (16 * 1024 * 1024))
    assert (error.field, error.rule) == ("image", "size")
    assert "about 12582912 bytes" in error.detail


def test_data_uri_over_the_limit_is_rejected() -> None:
    error = rejection("last_frame", data_uri(padded_bmp(MAX_IMAGE_BYTES + 1), "image/bmp"))
    assert (error.field, error.rule) == ("last_frame", "size")
