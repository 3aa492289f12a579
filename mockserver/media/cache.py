"""A bounded directory of rendered videos and the input images they are made from.

The files live in a subdirectory the cache makes for itself (``wan-mock-cache`` inside the
configured directory), so nothing else in that directory is ever counted or deleted. Both are
made 0700 when new, and adopted when they exist only if they belong to this user and nobody
else may write them; anything else is a :class:`CacheDirectoryError` naming the setting.

Files are named by content address (a video by its spec's key, an image by its digest), written
to a temporary name and renamed into place, so a reader never sees half a file. Publishing
takes a file lock (fcntl) that every process sharing the directory takes: under it the cache
adds up what the directory holds and deletes the least recently used files (videos first, then
images) until the new one fits, then renames it in. So the size bound holds however many
workers share the directory; a deleted video is simply rendered again when asked for. A hit
touches the file's modification time, the order of use, which survives a restart.

Cached files are opened without following symbolic links and must be regular files: anything
else under a cache name is a miss, never served, and the next render replaces it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIX = ".mp4"
IMAGE_SUFFIX = ".img"
SUBDIRECTORY = "wan-mock-cache"
SETTING = "render_cache_dir"
_LOCK_NAME = ".lock"
_PARTIAL = ".partial-"
# A partial file older than this was left by a process that died mid-render.
_STALE_PARTIAL_S = 3600.0
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # a FIFO must not block the open


class CacheDirectoryError(Exception):
    """The cache directory cannot be used safely; the message names the setting."""


@dataclass(frozen=True, slots=True)
class CachedFile:
    """A file in the cache, as checked when it was opened (a regular file, not a link)."""

    path: Path
    stat: os.stat_result


def prepare_directory(directory: Path | str) -> Path:
    """Make or adopt ``directory`` and the cache's own subdirectory in it; returns the latter.

    Raises :class:`CacheDirectoryError` for a directory that is not a directory, belongs to
    another user, or may be written by group or others.
    """
    directory = Path(directory)
    _own(directory, follow=True)  # the configured path may be a link to another disk
    root = directory / SUBDIRECTORY
    _own(root, follow=False)
    return root


def _own(path: Path, follow: bool) -> None:
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise CacheDirectoryError(f"{SETTING}: cannot create {path}: {exc.strerror}") from None
    else:
        os.chmod(path, 0o700)  # exactly, whatever the umask
        return
    try:
        found = os.stat(path, follow_symlinks=follow)
    except OSError as exc:
        raise CacheDirectoryError(f"{SETTING}: cannot use {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(found.st_mode):
        raise CacheDirectoryError(f"{SETTING}: {path} is not a directory")
    if found.st_uid != os.geteuid():
        raise CacheDirectoryError(
            f"{SETTING}: {path} belongs to another user (uid {found.st_uid}); "
            "give a directory of your own"
        )
    if found.st_mode & 0o022:
        mode = stat.S_IMODE(found.st_mode)
        raise CacheDirectoryError(
            f"{SETTING}: {path} may be written by group or others (mode {mode:04o}); "
            f"run chmod go-w {path}, or give another directory"
        )


class MediaCache:
    """Least-recently-used files under one directory, at most ``max_bytes`` in all.

    With no directory, a private temporary one is made on first use and removed when the cache
    is closed (or at exit). Safe to use from several threads and several processes.
    """

    def __init__(self, directory: Path | str | None, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self._root = prepare_directory(directory) if directory else None
        self._lock = threading.Lock()  # the lazy temporary directory
        self._publishing = threading.Lock()  # this process's threads, before the file lock

    @property
    def root(self) -> Path:
        """The directory the files are in."""
        if self._root is None:
            with self._lock:
                if self._root is None:
                    self._temporary = tempfile.TemporaryDirectory(
                        prefix="wan-mock-media-", ignore_cleanup_errors=True
                    )
                    self._root = Path(self._temporary.name)
        return self._root

    @property
    def total_bytes(self) -> int:
        """The bytes the cache's files take, as the directory holds them now."""
        return sum(size for _, _, size in self._files())

    def video(self, key: str) -> CachedFile | None:
        """The rendered video with this key, or None (never rendered, evicted, or refused)."""
        return self._hit(key + VIDEO_SUFFIX)

    def add_video(self, key: str, write: Callable[[Path], None]) -> CachedFile:
        """Run ``write`` on a temporary path, then publish the file under ``key``."""
        return self._add(key + VIDEO_SUFFIX, write)

    def has_image(self, digest: str) -> bool:
        return self._hit(digest + IMAGE_SUFFIX) is not None

    def image(self, digest: str) -> bytes | None:
        """The bytes of a kept input image, or None."""
        fd = self._open(digest + IMAGE_SUFFIX)
        if fd is None:
            return None
        with open(fd, "rb") as handle:
            return handle.read()

    def open(self, found: CachedFile) -> int | None:
        """A descriptor of ``found``, if its name still holds that very file (not evicted,
        replaced or turned into a link since it was found); the caller closes it. Serving
        from it, nothing done to the name afterwards changes what is sent."""
        fd = self._open(found.path.name)
        if fd is None:
            return None
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (found.stat.st_dev, found.stat.st_ino):
            os.close(fd)
            return None
        return fd

    def keep_image(self, digest: str, data: bytes) -> None:
        """Keep an input image's bytes under its digest (once: the name says what it holds)."""
        if self._hit(digest + IMAGE_SUFFIX) is None:
            self._add(digest + IMAGE_SUFFIX, functools.partial(_write, data=data))

    def close(self) -> None:
        """Remove the directory if it was a private temporary one."""
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None
            self._root = None

    def _open(self, name: str) -> int | None:
        """A descriptor of the regular file ``name`` (touched: used now), or None."""
        try:
            fd = os.open(self.root / name, _OPEN_FLAGS)
        except OSError:  # missing, a symbolic link (ELOOP), unreadable: a miss
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        with contextlib.suppress(OSError):
            os.utime(fd)  # the order of use, shared by every process and kept over a restart
        return fd

    def _hit(self, name: str) -> CachedFile | None:
        fd = self._open(name)
        if fd is None:
            return None
        try:
            return CachedFile(self.root / name, os.fstat(fd))
        finally:
            os.close(fd)

    def _add(self, name: str, write: Callable[[Path], None]) -> CachedFile:
        root = self.root
        fd, temporary = tempfile.mkstemp(dir=root, prefix=_PARTIAL, suffix=name)
        os.close(fd)
        try:
            write(Path(temporary))
            written = os.stat(temporary, follow_symlinks=False)
            with self._locked(root) as lock:
                self._make_room(lock, written.st_size, name)
                os.replace(temporary, root / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return CachedFile(root / name, written)

    @contextlib.contextmanager
    def _locked(self, root: Path) -> Iterator[int]:
        """The lock file's descriptor, held by one thread of one process at a time across
        every process sharing ``root``."""
        with self._publishing:
            fd = os.open(root / _LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield fd
            finally:
                os.close(fd)  # releases the lock

    def _make_room(self, lock: int, size: int, name: str) -> None:
        """Delete the least recently used files until ``size`` more bytes fit. Run under the
        lock, whose file keeps a running total: never below the truth (every file is added
        under the lock), so while it leaves room no scan is needed; otherwise the directory
        is added up afresh (``name``, about to be replaced, not counted)."""
        known = _read_total(lock)
        if known is not None and known + size <= self.max_bytes:
            _write_total(lock, known + size)
            return
        files = [entry for entry in self._files(clean=True) if entry[1] != name]
        total = sum(entry[2] for entry in files)
        # Videos first: any of them can be rendered again exactly while its images are kept.
        for suffix in (VIDEO_SUFFIX, IMAGE_SUFFIX):
            for _, victim, victim_size in files:
                if total + size <= self.max_bytes:
                    break
                if victim.endswith(suffix):
                    (self.root / victim).unlink(missing_ok=True)
                    total -= victim_size
        _write_total(lock, total + size)

    def _files(self, clean: bool = False) -> list[tuple[int, str, int]]:
        """(modified ns, name, size) of every file the cache published, oldest first; with
        ``clean``, partial files left by a dead process are deleted on the way."""
        found = []
        now = time.time()
        with os.scandir(self.root) as entries:
            for entry in entries:
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # deleted by another process meanwhile
                    continue
                if entry.name.startswith(_PARTIAL):
                    if clean and now - info.st_mtime > _STALE_PARTIAL_S:
                        Path(entry.path).unlink(missing_ok=True)
                elif entry.name.endswith((VIDEO_SUFFIX, IMAGE_SUFFIX)):
                    found.append((info.st_mtime_ns, entry.name, info.st_size))
        found.sort()
        return found


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _read_total(lock: int) -> int | None:
    text = os.pread(lock, 32, 0).strip()
    return int(text) if text.isdigit() else None


def _write_total(lock: int, total: int) -> None:
    os.ftruncate(lock, 0)
    os.pwrite(lock, str(total).encode(), 0)
