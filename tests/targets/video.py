"""The one result video every fake task links to: a real, short H.264 MP4."""

from __future__ import annotations

import io
from functools import cache

import av
import numpy as np


@cache
def mp4(seconds: int = 1, size: tuple[int, int] = (320, 240), fps: int = 10) -> bytes:
    """A grey clip of ``seconds``, rendered once per process."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        frame_data = np.full((size[1], size[0], 3), 128, dtype=np.uint8)
        for _ in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(frame_data, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()
