"""What the journal keeps of a body: all of a small one, the start and the end of a big one,
with long runs of base64 (images) cut to their start and length.

A body arrives in chunks and may be as big as the fake accepts (tens of megabytes, or a hostile
document of tiny nested lists). An :class:`Excerpt` keeps at most :data:`HEAD_BYTES` from its
start and :data:`TAIL_BYTES` from its end as the chunks go by, so recording costs a bounded
copy whatever was sent; a small body (every ordinary create and answer) is kept as the very
bytes received. Shortening works on the bytes with one linear regular expression, never by
parsing them, so a fragment or a body that is not JSON is shortened the same way.
"""

from __future__ import annotations

import re

MAX_BODY_BYTES = 8192  # a body up to this size is kept exactly as it came
HEAD_BYTES = 65_536  # of a bigger one, the start looked at ...
TAIL_BYTES = 2048  # ... and the end
LONG_RUN = 96  # a run of base64 characters longer than this is cut to its start and length
KEPT_RUN = 48
_RUN = re.compile(rb"[A-Za-z0-9+/=_-]{%d,}" % LONG_RUN)


class Excerpt:
    """The start and the end of a body seen chunk by chunk (``size``: every byte seen)."""

    __slots__ = ("_head", "_tail", "size")

    def __init__(self) -> None:
        self._head: list[bytes] = []
        self._tail = b""
        self.size = 0

    def add(self, chunk: bytes) -> None:
        room = HEAD_BYTES - self.size
        self.size += len(chunk)
        if len(chunk) <= room:
            self._head.append(chunk)  # a reference, not a copy
            return
        if room > 0:
            self._head.append(chunk[:room])
            chunk = chunk[room:]
        self._tail = (self._tail + chunk[-TAIL_BYTES:])[-TAIL_BYTES:]

    def kept(self) -> bytes:
        """What the journal keeps: the body itself when small, else :func:`bounded`."""
        head = self._head[0] if len(self._head) == 1 else b"".join(self._head)
        if self.size <= MAX_BODY_BYTES:
            return head
        return bounded(head, self._tail, self.size)


def bounded(head: bytes, tail: bytes, size: int) -> bytes:
    """A big body of ``size`` bytes, from its start ``head`` and its end ``tail``: both
    shortened, the start cut at :data:`MAX_BODY_BYTES`, the middle left out (and said so)."""
    start = _RUN.sub(_cut, head)
    shown = len(head) + len(tail)
    if len(start) > MAX_BODY_BYTES or size > shown:
        gap = f"...({size:,} bytes in all; the middle is left out)...".encode()
        return start[:MAX_BODY_BYTES] + gap + _RUN.sub(_cut, tail)[-TAIL_BYTES:]
    return start + _RUN.sub(_cut, tail)


def shortened(body: bytes) -> str:
    """A kept body as text for people: long base64 runs cut to their start and length (no
    change to a body without one), then decoded as UTF-8."""
    return _RUN.sub(_cut, body).decode("utf-8", "replace")


def _cut(run: re.Match[bytes]) -> bytes:
    found = run.group()
    return found[:KEPT_RUN] + b"...(%d characters)" % len(found)
