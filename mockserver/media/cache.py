"""A bounded directory of rendered videos and the input images they are made from.

Files are named by content address (a video by its spec's key, an image by its digest), written
to a temporary name and renamed into place, so a reader never sees half a file and two processes
sharing the directory at worst render the same bytes twice. When the files pass the size bound,
the least recently used videos are deleted, then (only if still needed) the least recently used
images; a deleted video is simply rendered again when asked for.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

VIDEO_SUFFIX = ".mp4"
IMAGE_SUFFIX = ".img"


class MediaCache:
    """Least-recently-used files under one directory, at most ``max_bytes`` in all.

    With no directory, a private temporary one is made on first use and removed when the cache
    is closed (or at exit). Safe to use from several threads.
    """

    def __init__(self, directory: Path | str | None, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._given = Path(directory) if directory else None
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self._root: Path | None = None
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, int] = OrderedDict()  # file name -> size, oldest first
        self._total = 0

    @property
    def root(self) -> Path:
        """The directory (created on first use; existing files are adopted, oldest first)."""
        if self._root is None:
            with self._lock:
                if self._root is None:
                    self._root = self._open()
        return self._root

    def _open(self) -> Path:
        if self._given is None:
            self._temporary = tempfile.TemporaryDirectory(
                prefix="wan-mock-media-", ignore_cleanup_errors=True
            )
            return Path(self._temporary.name)
        self._given.mkdir(parents=True, exist_ok=True)
        found = []
        for entry in os.scandir(self._given):
            if entry.is_file() and entry.name.endswith((VIDEO_SUFFIX, IMAGE_SUFFIX)):
                stat = entry.stat()
                found.append((stat.st_mtime, entry.name, stat.st_size))
        for _, name, size in sorted(found):
            self._entries[name] = size
            self._total += size
        return self._given

    @property
    def total_bytes(self) -> int:
        return self._total

    def video(self, key: str) -> Path | None:
        """The rendered video with this key, or None (never rendered, or evicted)."""
        return self._hit(key + VIDEO_SUFFIX)

    def add_video(self, key: str, write: Callable[[Path], None]) -> Path:
        """Run ``write`` on a temporary path, then publish the file under ``key``."""
        return self._add(key + VIDEO_SUFFIX, write)

    def has_image(self, digest: str) -> bool:
        return self._hit(digest + IMAGE_SUFFIX) is not None

    def image(self, digest: str) -> bytes | None:
        """The bytes of a kept input image, or None."""
        path = self._hit(digest + IMAGE_SUFFIX)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except FileNotFoundError:  # evicted by another process sharing the directory
            return None

    def keep_image(self, digest: str, data: bytes) -> None:
        """Keep an input image's bytes under its digest (once: the name says what it holds)."""
        if self._hit(digest + IMAGE_SUFFIX) is None:
            self._add(digest + IMAGE_SUFFIX, lambda path: _write(path, data))

    def close(self) -> None:
        """Remove the directory if it was a private temporary one."""
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None
            self._root = None
            self._entries.clear()
            self._total = 0

    def _hit(self, name: str) -> Path | None:
        path = self.root / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = None
        with self._lock:
            known = self._entries.pop(name, None)
            if size is None:  # never made, or removed behind our back
                self._total -= known or 0
                return None
            # Known, or written by another process sharing the directory: ours from now on.
            self._entries[name] = size
            self._total += size - (known or 0)
        with contextlib.suppress(OSError):
            os.utime(path)  # the order survives a restart
        return path

    def _add(self, name: str, write: Callable[[Path], None]) -> Path:
        root = self.root
        fd, temporary = tempfile.mkstemp(dir=root, prefix=".partial-", suffix=name)
        os.close(fd)
        try:
            write(Path(temporary))
            size = os.path.getsize(temporary)
            final = root / name
            os.replace(temporary, final)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        with self._lock:
            self._total += size - self._entries.pop(name, 0)
            self._entries[name] = size
            self._evict(keep=name)
        return final

    def _evict(self, keep: str) -> None:
        # Videos first: any of them can be rendered again exactly while its images are kept.
        for suffix in (VIDEO_SUFFIX, IMAGE_SUFFIX):
            for name in [n for n in self._entries if n.endswith(suffix) and n != keep]:
                if self._total <= self.max_bytes:
                    return
                self._total -= self._entries.pop(name)
                (self.root / name).unlink(missing_ok=True)


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)
