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
RENDER_VERSION = 1


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
    """Everything that decides a result video's bytes (and nothing else).

    ``first`` and ``last`` are digests of base64 input images the fake kept, or None when the
    input was a URL or the image is no longer kept (then a generated card stands in for the
    first frame).
    """

    task_id: str
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
        """A content address: equal specs render equal bytes, so their files can be shared."""
        fields = (
            RENDER_VERSION,
            self.task_id,
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
    """The video a succeeded task yields. Same task and request, same spec, same bytes."""
    request = task.request
    width, height = output_size(request.resolution, request.image)
    last = request.last_frame
    # Which way the camera drifts: from the request's seed when given, else from the task id.
    basis = str(request.seed) if request.seed is not None else task.id
    motion = int(hashlib.sha256(basis.encode()).hexdigest()[:8], 16)
    return VideoSpec(
        task_id=task.id,
        width=width,
        height=height,
        duration=request.duration,
        audio=request.has_audio,
        first=request.image.digest,
        last=last.digest if last is not None else None,
        prompt=request.prompt,
        motion=motion,
    )
