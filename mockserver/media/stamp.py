"""A task's own copy of a shared video: the encode's bytes, with the task's id in its metadata.

Tasks whose requests ask for the same pictures and sound share one encode. The encoder writes a
placeholder of fixed length into the file's ``comment`` tag (inside ``moov``, at the start of the
file); a task's copy is that file with the placeholder replaced by the task's id. The text keeps
its length, so no offset in the file moves, and the copy is never written anywhere: it is read
through from the shared file, the first bytes patched on the way.
"""

from __future__ import annotations

import hashlib
import os
import struct

STAMP_TAG = "comment"
_PREFIX = "MOCK video made by wan-mock for task "
ID_LENGTH = 36  # a task id is a UUID
PLACEHOLDER = _PREFIX + "0" * ID_LENGTH
# Only the boxes before the media data are searched: ``ftyp`` and ``moov`` (which goes first).
_MAX_HEAD = 8 * 1024 * 1024


def stamp_text(task_id: str) -> str:
    """The comment a task's copy carries (ids are UUIDs; anything else is fitted to size)."""
    return _PREFIX + task_id[:ID_LENGTH].ljust(ID_LENGTH)


class TaskVideo:
    """One task's copy of a shared video file, held open from when it was checked (an eviction
    or a replaced name afterwards changes nothing that is read). The caller closes it."""

    def __init__(self, fd: int, stat: os.stat_result, key: str, task_id: str) -> None:
        self.fd = fd
        self.size = stat.st_size
        self.task_id = task_id
        # The bytes differ from task to task only in the stamp: the tag follows both.
        self.tag = hashlib.sha256(f"{key}/{task_id}".encode()).hexdigest()[:32]
        self._head: bytes | None = None

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes (fewer at the end) from ``offset`` of the task's copy."""
        head = self.head()
        if offset >= len(head):
            return os.pread(self.fd, length, offset)
        start = head[offset : offset + length]
        if len(start) == length:
            return start
        return start + os.pread(self.fd, length - len(start), offset + len(start))

    def head(self) -> bytes:
        """The copy's first bytes, up to and including its stamp."""
        if self._head is None:
            self._head = _stamped_head(self.fd, self.task_id)
        return self._head

    def close(self) -> None:
        os.close(self.fd)


def _stamped_head(fd: int, task_id: str) -> bytes:
    """The file's boxes before the media data, the placeholder replaced; empty when there is
    none (then the file is read as it is)."""
    head = os.pread(fd, min(_head_length(fd), _MAX_HEAD), 0)
    at = head.find(PLACEHOLDER.encode())
    if at < 0:
        return b""
    return head[:at] + stamp_text(task_id).encode()


def _head_length(fd: int) -> int:
    """Bytes up to the end of the ``moov`` box (or of the boxes before the first that is not
    ``ftyp``, ``free`` or ``moov``)."""
    offset = 0
    while True:
        header = os.pread(fd, 8, offset)
        if len(header) < 8:
            return offset
        size: int
        kind: bytes
        size, kind = struct.unpack(">I4s", header)
        if size < 8 or kind not in (b"ftyp", b"moov", b"free"):
            return offset
        offset += size
        if kind == b"moov":
            return offset
