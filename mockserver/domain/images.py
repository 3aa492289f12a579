"""Checks for image inputs: http(s) URLs by syntax, base64 images by their decoded header.

Only the header is parsed (Pillow reads it lazily); the pixels are never decoded. The decoded
bytes are returned beside the facts (see :func:`read_image`) so that the caller can keep them
for the result video; the task itself holds only their digest.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import re
from typing import NoReturn
from urllib.parse import urlsplit

from mockserver.domain.errors import InvalidRequest
from mockserver.domain.generation import ImageRef

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_SIDE, MAX_SIDE = 360, 2000
MAX_URL_LENGTH = 2048
ALLOWED_FORMATS = ("JPEG", "PNG", "BMP", "WEBP")
_ALLOWED_TEXT = "JPEG, PNG (without transparency), BMP or WEBP"
_WHITESPACE = re.compile(rb"\s+")
_SPACE = re.compile(r"\s")
# scheme://host[/path][?query][#fragment] with an ASCII host name, no port and no user info;
# anything else goes through urlsplit.
_PLAIN_URL = re.compile(
    r"[hH][tT][tT][pP][sS]?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?:[/?#][^\s]*)?"
)
_SCHEME = re.compile(r"\s*([a-z][a-z0-9+.-]*):", re.IGNORECASE)
_DATA_URI = re.compile(r"data:([^,;]*)((?:;[^,;]*)*),", re.IGNORECASE)


def check_url(field: str, value: str) -> str:
    """Return ``value`` if it is an absolute http(s) URL, else raise a 400 naming ``field``."""
    if len(value) > MAX_URL_LENGTH:
        raise InvalidRequest.single(
            field, "url", f"{field}: URL is longer than {MAX_URL_LENGTH} characters"
        )
    if _PLAIN_URL.fullmatch(value):  # the common case, without urlsplit's cost
        return value
    if _SPACE.search(value):
        raise InvalidRequest.single(field, "url", f"{field}: URL must not contain whitespace")
    try:
        parts = urlsplit(value)
        valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:  # e.g. an unclosed IPv6 bracket or a port that is not a number
        valid = False
    if not valid:
        raise InvalidRequest.single(
            field, "url", f"{field}: must be an absolute http(s) URL, got {_preview(value)}"
        )
    return value


def inspect_image(field: str, value: str) -> ImageRef:
    """Classify and check an image input: a URL, a data URI or bare base64."""
    return read_image(field, value)[0]


def read_image(field: str, value: str) -> tuple[ImageRef, bytes | None]:
    """Like :func:`inspect_image`, also returning a base64 image's decoded bytes (None for a
    URL)."""
    head = value[:8].lower()
    if head.startswith(("http://", "https://")):
        return ImageRef(source="url", url=check_url(field, value)), None
    if head.startswith("data:"):
        return check_image_bytes(field, _decode_base64(field, _data_uri_payload(field, value)))
    # Base64 never contains ':', so anything that starts like "scheme:" was meant as a URL
    # (including near misses such as "http:/host" or " https://host").
    scheme = _SCHEME.match(value)
    if scheme:
        if scheme.group(1).lower() in ("http", "https"):
            check_url(field, value)  # raises with the precise complaint
        raise InvalidRequest.single(
            field,
            "url",
            f"{field}: only http(s) URLs or base64 images are accepted, got {_preview(value)}",
        )
    return check_image_bytes(field, _decode_base64(field, value))


def _data_uri_payload(field: str, value: str) -> str:
    match = _DATA_URI.match(value)
    if match is None:
        raise InvalidRequest.single(
            field, "base64", f"{field}: malformed data URI (expected data:image/<type>;base64,...)"
        )
    media_type, params = match.group(1).lower(), match.group(2).lower()
    if not media_type.startswith("image/"):
        raise InvalidRequest.single(
            field, "format", f"{field}: data URI media type must be image/*, got {media_type!r}"
        )
    if ";base64" not in params:
        raise InvalidRequest.single(
            field, "base64", f"{field}: data URI must be base64-encoded (';base64,')"
        )
    return value[match.end() :]


def _decode_base64(field: str, text: str) -> bytes:
    # Reject clearly oversized input before allocating the decoded bytes. The margin leaves
    # room for line breaks (MIME wraps every 76 characters); the exact check follows decoding.
    if len(text) * 3 // 4 > MAX_IMAGE_BYTES * 1.05:
        _too_big(field, len(text) * 3 // 4, estimated=True)
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidRequest.single(
            field, "base64", f"{field}: not valid base64 (non-ASCII characters)"
        ) from None
    try:
        return binascii.a2b_base64(raw, strict_mode=True)
    except binascii.Error:
        pass
    # Line-wrapped (MIME-style) base64 is common; accept it once the line breaks are gone.
    try:
        return binascii.a2b_base64(_WHITESPACE.sub(b"", raw), strict_mode=True)
    except binascii.Error as exc:
        raise InvalidRequest.single(field, "base64", f"{field}: not valid base64 ({exc})") from None


def check_image_bytes(field: str, data: bytes) -> tuple[ImageRef, bytes]:
    if not data:
        raise InvalidRequest.single(field, "base64", f"{field}: the base64 data is empty")
    if len(data) > MAX_IMAGE_BYTES:
        _too_big(field, len(data))
    from PIL import Image  # deferred: URL-only traffic never pays Pillow's import

    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height), mode = image.format or "unknown", image.size, image.mode
            transparent = "transparency" in image.info or "A" in mode or mode.endswith("a")
    except Exception:  # Pillow raises many types for hostile input; all mean "not an image"
        raise InvalidRequest.single(
            field, "format", f"{field}: not a readable image; use {_ALLOWED_TEXT}"
        ) from None
    if fmt not in ALLOWED_FORMATS:
        raise InvalidRequest.single(
            field, "format", f"{field}: {fmt} images are not supported; use {_ALLOWED_TEXT}"
        )
    if fmt == "PNG" and transparent:
        raise InvalidRequest.single(
            field, "transparency", f"{field}: PNG images must not have transparency"
        )
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidRequest.single(
            field,
            "dimensions",
            f"{field}: {width}x{height} px is outside {MIN_SIDE}..{MAX_SIDE} px per side",
        )
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    ref = ImageRef("base64", None, fmt, width, height, len(data), digest)
    return ref, data


def _too_big(field: str, size: int, *, estimated: bool = False) -> NoReturn:
    about = "about " if estimated else ""
    raise InvalidRequest.single(
        field,
        "size",
        f"{field}: image is {about}{size} bytes, over the limit of {MAX_IMAGE_BYTES} bytes (10 MB)",
    )


def _preview(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")
