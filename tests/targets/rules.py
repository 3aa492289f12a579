"""The create body's rules, written from the spec: strict JSON types, enums, ranges, and images
checked from their decoded bytes. Each broken rule is one message naming its field."""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

RESOLUTIONS = ("720P", "1080P")
DURATIONS = (5, 10, 15)
SEED_MAX = 2_147_483_647
IMAGE_FORMATS = {"JPEG", "PNG", "BMP", "WEBP"}
IMAGE_SIDES = (360, 2000)
IMAGE_BYTES = 10 * 1024 * 1024
DATA_URI = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,(?P<payload>.*)", re.DOTALL)
AUDIO_SUFFIXES = (".wav", ".mp3")


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value


def image_problem(field: str, value: str) -> str | None:
    """Why ``value`` is not an acceptable image, or None: a URL (syntax only, it cannot be fetched
    offline) or base64, bare or as a data URI, of a real image within the limits."""
    if value.startswith(("http://", "https://")):
        return None if is_http_url(value) else f"{field} is not a valid http(s) URL"
    match = DATA_URI.fullmatch(value)
    payload = match.group("payload") if match else value
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return f"{field} must be an http(s) URL or base64 image data"
    if not data:
        return f"{field} must be an http(s) URL or base64 image data"
    if len(data) > IMAGE_BYTES:
        return f"{field} is larger than 10 MB"
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    except (UnidentifiedImageError, OSError, ValueError):
        return f"{field} is not a readable image"
    if kind not in IMAGE_FORMATS:
        return f"{field} must be JPEG, PNG, BMP or WEBP, not {kind}"
    if kind == "PNG" and transparent:
        return f"{field} is a PNG with transparency"
    low, high = IMAGE_SIDES
    if not (low <= width <= high and low <= height <= high):
        return f"{field} is {width}x{height} px; each side must be {low} to {high}"
    return None


def _string(limit: tuple[int, int]) -> Callable[[str, Any], str | None]:
    def check(field: str, value: Any) -> str | None:
        if not isinstance(value, str):
            return f"{field} must be a string"
        low, high = limit
        if not low <= len(value) <= high:
            return f"{field} must be {low} to {high} characters long"
        return None

    return check


def _boolean(nullable: bool) -> Callable[[str, Any], str | None]:
    def check(field: str, value: Any) -> str | None:
        if value is None and nullable:
            return None
        return None if isinstance(value, bool) else f"{field} must be true or false"

    return check


def _image(field: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return f"{field} must be a non-empty string"
    return image_problem(field, value)


def _shot_type(field: str, value: Any) -> str | None:
    ok = value is None or value in ("single", "multi")
    return None if ok else f"{field} must be single or multi"


def _multi_shots(field: str, value: Any) -> str | None:
    ok = isinstance(value, bool) or value in ("single", "multi")
    return None if ok else f"{field} must be a boolean, single or multi"


def _audio_url(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not is_http_url(value):
        return f"{field} must be an http(s) URL"
    if not urlsplit(value).path.lower().endswith(AUDIO_SUFFIXES):
        return f"{field} must point to a wav or mp3 file"
    return None


def _seed(field: str, value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{field} must be an integer"
    return None if 0 <= value <= SEED_MAX else f"{field} must be 0 to {SEED_MAX}"


class Rules:
    """The checks of one create body; ``resolutions`` and ``durations`` are what it accepts."""

    def __init__(
        self,
        resolutions: tuple[str, ...] = RESOLUTIONS,
        durations: tuple[int, ...] = DURATIONS,
    ) -> None:
        self.resolutions = resolutions
        self.durations = durations
        self.checks: dict[str, Callable[[str, Any], str | None]] = {
            "prompt": _string((1, 2000)),
            "image": _image,
            "negative_prompt": _string((0, 500)),
            "resolution": self._resolution,
            "duration": self._duration,
            "prompt_extend": _boolean(nullable=False),
            "shot_type": _shot_type,
            "multi_shots": _multi_shots,
            "audio": _boolean(nullable=True),
            "audio_url": _audio_url,
            "seed": _seed,
            "safety_filter": _boolean(nullable=True),
            "last_frame": _image,
        }

    def _resolution(self, field: str, value: Any) -> str | None:
        if isinstance(value, str) and value in self.resolutions:
            return None
        return f"{field} must be one of {', '.join(self.resolutions)}"

    def _duration(self, field: str, value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and value in self.durations:
            return None
        return f"{field} must be one of {', '.join(map(str, self.durations))}"

    def problems(self, body: dict[str, Any]) -> list[str]:
        """Every broken rule of ``body``, empty when it is valid; unknown fields are ignored."""
        found = [f"{name} is required" for name in ("prompt", "image") if name not in body]
        for name, check in self.checks.items():
            if name in body and (problem := check(name, body[name])) is not None:
                found.append(problem)
        return found
