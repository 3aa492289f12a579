"""Shared test data: real images made with Pillow, and request bodies."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

CREATE_PATH = "/vendors/alibaba/v1/wan2.6-i2v/generation"
AUTH = {"Authorization": "Bearer test-key"}


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (640, 480), mode: str = "RGB") -> bytes:
    """A real image file in ``fmt`` (a flat colour, so it stays small)."""
    colour: Any = (30, 120, 200, 255)[: len(mode)] if mode not in ("L", "P", "1") else 128
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{b64(data)}"


def body(**fields: Any) -> dict[str, Any]:
    """A valid create body, with ``fields`` added or replaced."""
    base: dict[str, Any] = {
        "prompt": "A black cat looks curiously at the sky",
        "image": "https://example.com/first_frame.jpg",
    }
    base.update(fields)
    return base
