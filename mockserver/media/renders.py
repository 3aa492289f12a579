"""The render queue: bounded, fair between API keys, and rid of renders nobody waits for.

A render is a job keyed by its video's content address; every download of that video while it
is queued or under way joins the same job. A job counts its waiters: when the last one leaves
(its client hung up), a queued job is dropped and a running one is told to stop (its
``cancelled`` event, which the renderer checks between frames). Waiting jobs are kept per owner
(the API key of the task) and taken in turn, one owner after another, so a key with many
videos waiting delays another key's video by at most one render per key ahead of it. Past
``limit`` waiting jobs, or ``per_owner`` for one key, a new job is refused with
:class:`~mockserver.domain.errors.RenderQueueFull`, which says when to try again.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mockserver.domain.errors import RenderQueueFull

T = TypeVar("T")

# Seconds a render is assumed to take before one has been timed (for Retry-After).
FIRST_GUESS_S = 2.0
MAX_RETRY_AFTER_S = 120


class RenderCancelled(Exception):
    """No client waits for this render any more."""


@dataclass(eq=False)
class Job(Generic[T]):
    """One render, and how many downloads wait for it."""

    key: str
    owner: str
    work: Callable[[threading.Event], T]
    future: Future[T] = field(default_factory=Future)
    cancelled: threading.Event = field(default_factory=threading.Event)
    waiters: int = 0
    started: bool = False


class RenderQueue(Generic[T]):
    """At most ``workers`` renders at once on threads of their own; the rest wait in turn."""

    def __init__(self, workers: int, limit: int, per_owner: int) -> None:
        self.workers = workers
        self.limit = limit
        self.per_owner = per_owner
        self.dropped = 0  # jobs dropped or stopped because nobody waited any more
        self._jobs: dict[str, Job[T]] = {}  # queued or running, by key
        self._waiting: OrderedDict[str, deque[Job[T]]] = OrderedDict()  # by owner, in turn
        self._queued = 0
        self._threads = 0
        self._closing = False
        self._seconds = FIRST_GUESS_S  # a moving average of render times
        self._lock = threading.Lock()

    @property
    def queued(self) -> int:
        """Jobs waiting for a render thread."""
        return self._queued

    def join(self, key: str, owner: str, work: Callable[[threading.Event], T]) -> Job[T]:
        """The job rendering ``key`` (a new one running ``work`` if there is none), with one
        more waiter; every call must be matched by :meth:`leave`."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                job = self._new(key, owner, work)
            job.waiters += 1
            return job

    def leave(self, job: Job[T]) -> None:
        """One waiter is gone; the last one takes the job with it, unless it is done."""
        with self._lock:
            job.waiters -= 1
            if job.waiters > 0 or job.future.done():
                return
            self.dropped += 1
            if self._jobs.get(job.key) is job:
                del self._jobs[job.key]  # a new download starts afresh
            if job.started:
                job.cancelled.set()
                return
            waiting = self._waiting[job.owner]
            waiting.remove(job)
            if not waiting:
                del self._waiting[job.owner]
            self._queued -= 1
        job.future.cancel()

    def close(self) -> None:
        """Drop every queued job; renders under way finish."""
        with self._lock:
            self._closing = True
            dropped = [job for waiting in self._waiting.values() for job in waiting]
            self._waiting.clear()
            self._jobs.clear()
            self._queued = 0
        for job in dropped:
            job.future.cancel()

    def _new(self, key: str, owner: str, work: Callable[[threading.Event], T]) -> Job[T]:
        mine = len(self._waiting.get(owner, ()))
        if self._queued >= self.limit or mine >= self.per_owner:
            full = (
                f"{self._queued} videos are waiting to be rendered (render_queue)"
                if self._queued >= self.limit
                else f"{mine} videos of this API key are waiting to be rendered "
                "(render_queue_per_key)"
            )
            wait = math.ceil(self._seconds * (self._queued + 1) / self.workers)
            wait = max(1, min(wait, MAX_RETRY_AFTER_S))
            raise RenderQueueFull(f"{full}; retry after {wait} s", wait)
        job: Job[T] = Job(key, owner, work)
        self._jobs[key] = job
        self._waiting.setdefault(owner, deque()).append(job)
        self._queued += 1
        if self._threads < self.workers and not self._closing:
            self._threads += 1
            threading.Thread(target=self._run, name=f"wan-mock-render-{key[:8]}").start()
        return job

    def _next(self) -> Job[T] | None:
        """The next job in turn (the first owner's oldest, that owner then going last)."""
        with self._lock:
            if not self._waiting or self._closing:
                self._threads -= 1  # nothing to do: this thread ends
                return None
            owner, waiting = next(iter(self._waiting.items()))
            job = waiting.popleft()
            if waiting:
                self._waiting.move_to_end(owner)
            else:
                del self._waiting[owner]
            self._queued -= 1
            job.started = True
            return job

    def _run(self) -> None:
        while (job := self._next()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue
            started = time.monotonic()
            try:
                result = job.work(job.cancelled)
            except BaseException as exc:  # handed to the waiters (RenderCancelled: to none)
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
                with self._lock:
                    self._seconds = 0.7 * self._seconds + 0.3 * (time.monotonic() - started)
            with self._lock:
                if self._jobs.get(job.key) is job:
                    del self._jobs[job.key]
