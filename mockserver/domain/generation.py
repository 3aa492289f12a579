"""What a validated create request means: the parsed request the rest of the fake works with.

It keeps what the API needs to answer and to shape the result, never the image bytes: a base64
image is reduced to its format, size, dimensions and a digest (the bytes themselves are handed to
the result renderer separately).
"""

from __future__ import annotations

from typing import Literal

import msgspec

Resolution = Literal["720P", "1080P"]
ShotType = Literal["single", "multi"]


class ImageRef(msgspec.Struct, frozen=True):
    """An input image: a URL the fake did not fetch, or a decoded base64 image's facts."""

    source: Literal["url", "base64"]
    url: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    digest: str | None = None
    """For a base64 image, a digest of its bytes: the name under which the fake keeps them for
    rendering the result video."""


class GenerationRequest(msgspec.Struct, frozen=True):
    """A create request after validation, with every default applied."""

    prompt: str
    image: ImageRef
    negative_prompt: str | None = None
    resolution: Resolution = "720P"
    duration: int = 5
    prompt_extend: bool = True
    shot_type: ShotType = "single"
    audio: bool = True
    audio_url: str | None = None
    seed: int | None = None
    safety_filter: bool = True
    last_frame: ImageRef | None = None

    @property
    def multi_shot(self) -> bool:
        """Multi-shot output happens only when prompt rewriting is on (as documented)."""
        return self.shot_type == "multi" and self.prompt_extend

    @property
    def has_audio(self) -> bool:
        """A custom sound track overrides the ``audio`` switch."""
        return self.audio_url is not None or self.audio
