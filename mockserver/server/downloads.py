"""The answer to a video download: the whole file, one byte range or several, or only the head.

A task's video is read through from the shared file it was made from, with the task's id
patched in on the way (``media/stamp.py``), so it is not a file on disk of its own and
Starlette's file response cannot serve it. This answers as that response does: ``Accept-Ranges``,
206 with ``Content-Range`` for one range, ``multipart/byteranges`` for several, ``If-Range``
honoured, HEAD without a body. Ranges are checked before (``ranges.py``), so every refusal is
the fake's JSON error.
"""

from __future__ import annotations

import secrets

import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockserver.media.stamp import TaskVideo

CHUNK = 256 * 1024
MEDIA_TYPE = "video/mp4"


class VideoResponse(Response):
    """A task's video, or the ``ranges`` of it (None: all of it). Closes the video once sent."""

    def __init__(
        self, video: TaskVideo, headers: dict[str, str], ranges: list[tuple[int, int]] | None
    ) -> None:
        headers = {**headers, "accept-ranges": "bytes", "content-length": str(video.size)}
        super().__init__(headers=headers, media_type=MEDIA_TYPE)
        self.video = video
        self.ranges = ranges

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._send(scope["method"] == "HEAD", send)
        finally:
            self.video.close()

    async def _send(self, head_only: bool, send: Send) -> None:
        size, ranges = self.video.size, self.ranges
        headers = MutableHeaders(raw=list(self.raw_headers))
        parts: list[tuple[bytes, int, int]] = []  # (text before, start, end)
        if ranges is None:
            status, parts = 200, [(b"", 0, size)]
        elif len(ranges) == 1:
            (start, end) = ranges[0]
            status, parts = 206, [(b"", start, end)]
            headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
            headers["content-length"] = str(end - start)
        else:
            boundary = secrets.token_hex(13)
            status = 206
            for index, (start, end) in enumerate(ranges):
                lead = "\r\n" if index else ""
                part = (
                    f"{lead}--{boundary}\r\nContent-Type: {MEDIA_TYPE}\r\n"
                    f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n"
                )
                parts.append((part.encode("latin-1"), start, end))
            parts.append((f"\r\n--{boundary}--".encode("latin-1"), 0, 0))
            headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
            headers["content-length"] = str(sum(len(t) + end - start for t, start, end in parts))
        await send({"type": "http.response.start", "status": status, "headers": headers.raw})
        if head_only:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        for text, start, end in parts:
            if text:
                await send({"type": "http.response.body", "body": text, "more_body": True})
            while start < end:
                chunk = await anyio.to_thread.run_sync(
                    self.video.read, start, min(CHUNK, end - start)
                )
                if not chunk:
                    raise RuntimeError("the video file is shorter than it was")
                start += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
