"""Result videos on demand: rendered once per request, off the event loop, kept in a bounded
cache.

Tasks whose requests ask for the same pictures and sound share one file (``shape.py``); each
download reads it through with the task's id written into its metadata (``stamp.py``). The
first download of a video renders it on a render thread (``renders.py``: a bounded, fair
queue); every request that arrives meanwhile waits for that same render instead of starting
another, and a render whose clients have all hung up is dropped. Rendering is imported only
when first needed, so a fake that never serves a video never pays for PyAV and numpy.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from mockserver.domain.store import ImageShelf
from mockserver.domain.tasks import Task
from mockserver.media.cache import CachedFile, MediaCache
from mockserver.media.renders import RenderQueue
from mockserver.media.shape import VideoSpec, video_spec
from mockserver.media.stamp import TaskVideo

T = TypeVar("T")
# spec, first image, last image, where to write, set when nobody waits for the video any more
Render = Callable[[VideoSpec, bytes | None, bytes | None, Path, threading.Event], None]
# How often a video deleted between its render and its opening is looked for again.
OPEN_ATTEMPTS = 3
# Images bigger than this are written on a thread of their own, off the request path.
KEEP_INLINE_BYTES = 256 * 1024


def _renderer() -> Render:
    """The render function, imported on first use: PyAV and numpy are heavy. Imported on the
    caller's thread, not a render thread: under pytest this package's modules are
    assertion-rewritten as they are imported, and CPython 3.11's AST conversion is not safe in
    two threads at once (a parse on the main thread can fail with a SystemError)."""
    from mockserver.media.encode import render

    return render


class Videos:
    """Where a succeeded task's video comes from."""

    def __init__(
        self,
        cache: MediaCache,
        workers: int = 1,
        queue: int = 32,
        queue_per_key: int = 8,
        shelf: ImageShelf | None = None,
    ) -> None:
        self.cache = cache
        self.shelf = shelf  # input images shared with replicas on other machines
        self.renders = 0  # how many videos were actually rendered (a cache miss each)
        self.queue: RenderQueue[tuple[CachedFile, VideoSpec]] = RenderQueue(
            workers, queue, queue_per_key
        )
        self._keeper: ThreadPoolExecutor | None = None
        self._keeping: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def keep_images(self, images: Mapping[str, bytes]) -> None:
        """Keep a new task's base64 input images, which its video will be made from. Small
        ones are written at once; big ones on a writer thread (a render waits for them). With a
        shelf they go there too, before the create is answered, for every replica."""
        if self.shelf is not None and images:
            self.shelf.keep(images)
        for digest, data in images.items():
            if len(data) <= KEEP_INLINE_BYTES:
                self.cache.keep_image(digest, data)
                continue
            with self._lock:
                if self._keeper is None:
                    self._keeper = ThreadPoolExecutor(1, thread_name_prefix="wan-mock-keep")
                future = self._keeper.submit(self.cache.keep_image, digest, data)
                self._keeping[digest] = future
            future.add_done_callback(functools.partial(self._kept, digest))

    def _kept(self, digest: str, done: Future[None]) -> None:
        with self._lock:
            if self._keeping.get(digest) is done:
                del self._keeping[digest]

    async def file(self, task: Task) -> tuple[CachedFile, VideoSpec]:
        """The task's video file (rendering it first if needed) and what it shows.

        Cancelling the call (the client hung up) withdraws this caller from the render; a
        render that nobody waits for any more is dropped or stopped. Raises
        :class:`~mockserver.domain.errors.RenderQueueFull` when the queue is full.
        """
        spec = video_spec(task)
        with self._lock:
            writes = [self._keeping.get(d) for d in (spec.first, spec.last) if d]
        for write in writes:
            if write is not None:
                await _wait(write)
        found = self.cache.video(spec.key)
        if found is None:
            self._fetch(spec)
            spec = self._available(spec)  # to render now: without inputs no longer kept
            found = self.cache.video(spec.key)
        if found is not None:
            return found, spec
        render = _renderer()
        job = self.queue.join(spec.key, task.owner, functools.partial(self._render, spec, render))
        try:
            return await _wait(job.future)
        finally:
            self.queue.leave(job)

    async def opened(self, task: Task) -> TaskVideo:
        """The task's copy of its video, held open (the caller closes it), so that an
        eviction or a replaced name between the render and the answer cannot change or take
        away what is served."""
        for _ in range(OPEN_ATTEMPTS):
            found, spec = await self.file(task)
            fd = self.cache.open(found)
            if fd is not None:
                return TaskVideo(fd, found.stat, spec.key, task.id)
        raise RuntimeError(f"the video of task {task.id} was removed {OPEN_ATTEMPTS} times over")

    def _fetch(self, spec: VideoSpec) -> None:
        """Bring the inputs this replica does not hold from the shelf (kept by the replica that
        took the create), when there is one."""
        if self.shelf is None:
            return
        for digest in (spec.first, spec.last):
            if digest is not None and not self.cache.has_image(digest):
                data = self.shelf.image(digest)
                if data is not None:
                    self.cache.keep_image(digest, data)

    def _available(self, spec: VideoSpec) -> VideoSpec:
        """The spec with inputs the cache no longer holds left out."""
        has_first = spec.first is not None and self.cache.has_image(spec.first)
        has_last = spec.last is not None and self.cache.has_image(spec.last)
        return _without_missing(spec, has_first, has_last)

    def _render(
        self, spec: VideoSpec, render: Render, cancelled: threading.Event
    ) -> tuple[CachedFile, VideoSpec]:
        found = self.cache.video(spec.key)  # rendered by another process sharing the cache
        if found is not None:
            return found, spec
        first = self.cache.image(spec.first) if spec.first else None
        last = self.cache.image(spec.last) if spec.last else None
        # An input evicted since it was looked for: the spec follows what was actually read.
        spec = _without_missing(spec, first is not None, last is not None)
        made = self.cache.add_video(
            spec.key, lambda target: render(spec, first, last, target, cancelled)
        )
        with self._lock:
            self.renders += 1
        return made, spec

    def close(self) -> None:
        """Stop rendering (a render under way finishes) and drop a private cache directory."""
        self.queue.close()
        if self._keeper is not None:
            self._keeper.shutdown(wait=True)
            self._keeper = None
        self.cache.close()


async def _wait(future: Future[T]) -> T:
    """The result of a future other callers may wait for too: cancelling this wait leaves the
    future alone (``asyncio.wrap_future`` alone would cancel it)."""
    return await asyncio.shield(asyncio.wrap_future(future))


def _without_missing(spec: VideoSpec, has_first: bool, has_last: bool) -> VideoSpec:
    """``spec`` without the input images that are not there, so that a video made without
    them has its own key (and entity tag)."""
    first = spec.first if has_first else None
    last = spec.last if has_last else None
    if (first, last) == (spec.first, spec.last):
        return spec
    return dataclasses.replace(spec, first=first, last=last, lost=spec.first != first)
