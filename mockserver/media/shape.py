"""What a task's video must look like: its size, length, sound and inputs, decided from the request.

The real model's output is H.264 at 30 fps, exactly ``duration`` seconds long. Its aspect ratio
follows the input image; the pixel count is scaled to the resolution tier and both sides are
multiples of 16. An image given as a URL was never fetched, so its aspect ratio is unknown and
16:9 stands in for it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from mockserver.domain.generation import ImageRef, Resolution
from mockserver.domain.tasks import Task

FPS = 30
# Total pixels of each tier: what 16:9 at the tier's nominal size holds.
TIER_PIXELS: dict[Resolution, int] = {"720P": 1280 * 720, "1080P": 1920 * 1080}
DEFAULT_ASPECT = (16, 9)
# Bumped whenever rendering changes what bytes a spec produces, so cached files are not reused.
RENDER_VERSION = 2


def output_size(resolution: Resolution, image: ImageRef | None) -> tuple[int, int]:
    """Width and height of the video for this tier and input image.

    Keeps the image's aspect ratio, scales the area to the tier, then rounds each side down to
    a multiple of 16 (a 750x1000 image at 720P gives 816x1104).
    """
    if image is not None and image.width and image.height:
        aspect_w, aspect_h = image.width, image.height
    else:
        aspect_w, aspect_h = DEFAULT_ASPECT
    pixels = TIER_PIXELS[resolution]
    width = math.sqrt(pixels * aspect_w / aspect_h)
    height = math.sqrt(pixels * aspect_h / aspect_w)
    return _down16(width), _down16(height)


def _down16(side: float) -> int:
    return max(16, int(side) // 16 * 16)


@dataclass(frozen=True, slots=True)
class VideoSpec:
    """Everything that decides a result video's pictures and sound (and nothing else: not
    the task, whose id only goes into the file's metadata, see ``stamp.py``).

    ``first`` and ``last`` are digests of base64 input images the fake kept, or None when the
    input was a URL or the image is no longer kept (then a generated card stands in for the
    first frame).
    """

    width: int
    height: int
    duration: int
    audio: bool
    first: str | None
    last: str | None
    prompt: str
    motion: int
    lost: bool = False  # a base64 input image the cache no longer holds (the card stands in)

    @property
    def frames(self) -> int:
        return self.duration * FPS

    @property
    def key(self) -> str:
        """A content address: equal specs render equal bytes, so tasks share their file."""
        fields = (
            RENDER_VERSION,
            self.width,
            self.height,
            self.duration,
            self.audio,
            self.first,
            self.last,
            self.prompt,
            self.motion,
            self.lost,
        )
        return hashlib.sha256(repr(fields).encode()).hexdigest()[:32]


def video_spec(task: Task) -> VideoSpec:
    """The pictures and sound a succeeded task's video shows: the same for every task with
    the same request."""
    request = task.request
    width, height = output_size(request.resolution, request.image)
    last = request.last_frame
    # Which way the camera drifts and which chord sounds: from the request's seed when given,
    # else from its prompt (never from the task id, so equal requests share one video).
    basis = f"seed {request.seed}" if request.seed is not None else f"prompt {request.prompt}"
    motion = int(hashlib.sha256(basis.encode()).hexdigest()[:8], 16)
    return VideoSpec(
        width=width,
        height=height,
        duration=request.duration,
        audio=request.has_audio,
        first=request.image.digest,
        last=last.digest if last is not None else None,
        prompt=request.prompt,
        motion=motion,
    )
