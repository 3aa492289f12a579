"""The pictures of a result video: the input image under a camera that sways in a one-second
loop, a crossfade to the last frame, and a label that marks the video as a mock.

Frames are produced in YUV 4:2:0, the encoder's own format, so each one costs a crop and one
scale (FFmpeg's swscale, through PyAV) instead of an RGB conversion. The camera moves at half
the frame rate (each picture is shown twice), and comes back the way it went, so one loop needs
only a quarter as many pictures as frames.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Iterator
from typing import Any, cast

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from mockserver.media.shape import FPS, VideoSpec

ZOOM = 1.12  # the canvas: the first image at this much more than the output size
SWAY = 0.5  # at the loop's middle the camera is this share of the way to ZOOM times closer
LOOP = FPS  # frames in one loop of the camera's sway (one second)
FADE = FPS // 2  # frames over which a last frame fades in
HOLD = 2  # each picture of the camera's sway is shown this many times
Planes = list[np.ndarray[Any, np.dtype[np.uint8]]]
Mask = np.ndarray[Any, np.dtype[np.uint16]]


def open_image(data: bytes | None) -> Image.Image | None:
    """An input image as RGB, turned as its EXIF orientation says; None if unusable."""
    if data is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return ImageOps.exif_transpose(image).convert("RGB")
    except Exception:  # a kept image is one the validator accepted; this is belt and braces
        return None


def card(width: int, height: int, spec: VideoSpec) -> Image.Image:
    """A stand-in first frame for an input the fake never saw (an image URL)."""
    # A smooth gradient: made small and scaled up, which looks the same and costs far less.
    small_h, small_w = 18, 32
    y = np.linspace(0.0, 1.0, small_h, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, small_w, dtype=np.float32)[None, :]
    hue = spec.motion % 3
    channels = [40 + 60 * x, 30 + 50 * y, 90 + 80 * (1 - x) * (1 - y)]
    channels = channels[hue:] + channels[:hue]
    rgb = np.stack(np.broadcast_arrays(*channels), axis=-1).astype(np.uint8)
    image = Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    big = ImageFont.load_default(size=max(24, height // 12))
    step = max(14, height // 30)
    small = ImageFont.load_default(size=step)
    draw.text(
        (width // 2, height * 2 // 5), "wan-mock", fill=(240, 240, 240), font=big, anchor="mm"
    )
    why = "input image no longer in the render cache" if spec.lost else "input image given by URL"
    lines = [why, *textwrap.wrap(spec.prompt, 60)[:3]]
    for row, line in enumerate(lines):
        at = (width // 2, height // 2 + row * step * 3 // 2)
        draw.text(at, line, fill=(225, 225, 225), font=small, anchor="mm")
    return image


def to_planes(image: Image.Image) -> Planes:
    """Y, U and V planes (BT.709, limited range) of an RGB image with even sides."""
    rgb = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
    frame = rgb.reformat(format="yuv420p", dst_colorspace="ITU709")
    return [np.ascontiguousarray(view) for view in _views(frame, image.width, image.height)]


def label(text: str, width: int, height: int) -> Mask:
    """White-on-clear text as an 8-bit coverage mask with even sides (for 4:2:0 chroma), sized
    from the frame's short side and never wider than the frame."""
    short = min(width, height)
    font = ImageFont.load_default(size=max(12, short // 40))
    left, top, right, bottom = font.getbbox(text)
    pad = max(4, short // 120)
    mask_w = min((int(right - left) + 2 * pad + 1) // 2 * 2, width - 2 * pad // 2 * 2)
    mask_h = (int(bottom - top) + 2 * pad + 1) // 2 * 2
    mask = Image.new("L", (mask_w, mask_h), 0)
    ImageDraw.Draw(mask).text((pad - left, pad - top), text, fill=255, font=font)
    return np.asarray(mask, dtype=np.uint16)


def _views(frame: av.VideoFrame, width: int, height: int) -> Planes:
    """Writable views of a yuv420p frame's planes, without the row padding."""
    return [
        np.frombuffer(cast(Any, plane), np.uint8).reshape(-1, plane.line_size)[: height // s, :w]
        for plane, s, w in zip(
            frame.planes, (1, 2, 2), (width, width // 2, width // 2), strict=True
        )
    ]


def _sway(phase: int) -> float:
    """How far the camera has pushed in at this frame of the loop: 0 at its start and end, 1
    at its middle, smooth throughout (so the loop has no seam)."""
    return (1 - math.cos(2 * math.pi * phase / LOOP)) / 2


def _held(phase: int) -> int:
    """The phase whose picture is shown at this one (each is held ``HOLD`` frames)."""
    return phase - phase % HOLD


class Pictures:
    """The frames of one video, by their place in the loop. ``canvas`` is the first image at
    ``ZOOM`` times the output size; ``end`` the last frame at the output size, or None."""

    def __init__(self, spec: VideoSpec, canvas: Planes, end: Planes | None, mark: Mask) -> None:
        self.spec, self.canvas, self.end, self.mark = spec, canvas, end, mark
        width, height = spec.width, spec.height
        mark_h, mark_w = mark.shape
        margin = min(width - mark_w, min(width, height) // 60) // 2 * 2
        self._corner = (width - mark_w - margin, height - mark_h - margin)

    def loop(self) -> Iterator[av.VideoFrame]:
        """One loop of the camera's sway (``LOOP`` frames), starting on the whole first image.
        The camera comes back the way it went, so the second half repeats the first's
        pictures."""
        made: dict[int, av.VideoFrame] = {}
        for phase in range(LOOP):
            shown = _held(phase)
            shown = min(shown, (LOOP - shown) % LOOP)
            if shown not in made:
                made[shown] = self._picture(shown)
                self._stamp(made[shown])
            yield made[shown]

    def ending(self, start: int) -> Iterator[av.VideoFrame]:
        """The last ``FADE`` frames (the loop going on from frame ``start`` of it) with the
        last frame fading in; the final one is the last frame itself."""
        assert self.end is not None
        width, height = self.spec.width, self.spec.height
        for step in range(FADE):
            frame = self._picture(_held(start + step))
            alpha = (step + 1) / FADE
            views = _views(frame, width, height)
            for view, target in zip(views, self.end, strict=True):
                blended = Image.blend(
                    Image.fromarray(np.ascontiguousarray(view)), Image.fromarray(target), alpha
                )
                view[:] = np.asarray(blended)
            self._stamp(frame)
            yield frame

    def _picture(self, phase: int) -> av.VideoFrame:
        """The canvas cropped where the camera is at this frame of the loop, scaled to size."""
        width, height, canvas = self.spec.width, self.spec.height, self.canvas
        canvas_h, canvas_w = canvas[0].shape
        scale = min(canvas_w / width, canvas_h / height)
        drift_x = 0.6 if self.spec.motion & 1 else -0.6
        drift_y = 0.4 if self.spec.motion & 2 else -0.4
        progress = SWAY * _sway(phase % LOOP)
        k = scale + (1 - scale) * progress
        box_w, box_h = width * k, height * k
        centre_x = canvas_w / 2 + (canvas_w - box_w) / 2 * drift_x * progress
        centre_y = canvas_h / 2 + (canvas_h - box_h) / 2 * drift_y * progress
        x0 = max(0, int(centre_x - box_w / 2) // 2 * 2)
        y0 = max(0, int(centre_y - box_h / 2) // 2 * 2)
        crop_w = min(round(box_w / 2) * 2, canvas_w - x0)
        crop_h = min(round(box_h / 2) * 2, canvas_h - y0)
        crop = av.VideoFrame(crop_w, crop_h, "yuv420p")
        for view, plane, s in zip(_views(crop, crop_w, crop_h), canvas, (1, 2, 2), strict=True):
            view[:] = plane[y0 // s : (y0 + crop_h) // s, x0 // s : (x0 + crop_w) // s]
        return crop.reformat(width, height, interpolation="BILINEAR")

    def _stamp(self, frame: av.VideoFrame) -> None:
        _stamp(_views(frame, self.spec.width, self.spec.height), self.mark, *self._corner)


def _stamp(views: Planes, mark: Mask, left: int, top: int) -> None:
    """Darken a box and write the label into it, in grey (neutral chroma)."""
    mark_h, mark_w = mark.shape
    luma = views[0][top : top + mark_h, left : left + mark_w]
    luma[:] = (luma.astype(np.uint16) * 2 // 5 * (255 - mark) + 235 * mark) // 255
    for chroma in views[1:]:
        chroma[top // 2 : (top + mark_h) // 2, left // 2 : (left + mark_w) // 2] = 128
