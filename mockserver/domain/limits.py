"""Per-key rate limits: the three documented upstream limits. Every call takes ``now`` (the
fake's clock) so the limits follow a sped-up or manual clock, and nothing runs in the background.

Rates use a sliding-window log, not a token bucket. A bucket with a burst of 5 refilling at 5/s
lets 9 requests through in the first second (5 at once, then one every 0.2 s), which is not what
"5 per second" says; the log allows exactly ``capacity`` requests in any window of ``span``
seconds, for one float per request still inside the window. A rate ``r`` becomes
``capacity = max(1, floor(r))`` requests per ``span = capacity / r`` seconds: 5/s is 5 in any
1 s, 2.5/s is 2 in any 0.8 s, 0.5/s is 1 in any 2 s, so the long-run rate is always ``r``.
A request at ``t`` is inside the window at ``now`` while ``now < t + span``.

``now`` must not move backwards for a key; when the clock is reset, reset the limiter too.
"""

from __future__ import annotations

import abc
import heapq
import math
from collections import deque
from typing import Generic, Protocol, TypeVar

from mockserver.domain.behaviour import Limits

NEVER_FINISHES_RETRY = 60.0
"""``retry_after`` when a key is at its concurrency limit and none of its unfinished tasks will
ever finish on its own (all stuck): there is no true answer, so a polite back-off."""

_SWEEP_MIN = 1024  # idle keys are swept when the table doubles past this: O(1) amortised


class LimitExceeded(Exception):
    """A request over a per-key limit. Not a ``MockError``: the server maps it to a 429."""

    def __init__(self, limit: str, retry_after: float, detail: str) -> None:
        super().__init__(detail)
        self.limit = limit
        self.retry_after = retry_after
        self.detail = detail


def _until(moment: float, now: float) -> float:
    """Seconds from ``now`` to ``moment``, nudged up so that ``now + result >= moment`` holds in
    floating point too: retrying at exactly ``now + retry_after`` must be allowed."""
    wait = moment - now
    while now + wait < moment:
        wait = math.nextafter(wait, math.inf)
    return wait


class Limiter(Protocol):
    """What the backend asks of its rate limits: in memory (:class:`RateLimiter`, per process)
    or shared by every replica (``redis_limits.RedisRateLimiter``)."""

    def reset(self) -> None: ...

    def configure(self, limits: Limits) -> None: ...

    def check_submission(self, key: str, now: float) -> None:
        """Raise :class:`LimitExceeded` if ``key`` may not submit a task now."""

    def record_submission(
        self, key: str, task_id: str, now: float, finishes_at: float | None
    ) -> None:
        """Count an accepted task (a shared limiter decides again, atomically, and may raise
        :class:`LimitExceeded`)."""

    def cancel_submission(self, key: str, task_id: str) -> None: ...

    def task_finished(self, key: str, task_id: str, now: float) -> None: ...

    def check_poll(self, key: str, now: float) -> None: ...


S = TypeVar("S")


class _PerKey(abc.ABC, Generic[S]):
    """One limit's state per key; keys that went idle are swept out now and then, so that a
    stream of one-off keys cannot grow the table forever."""

    name: str
    detail: str

    def __init__(self) -> None:
        self._keys: dict[str, S] = {}
        self._sweep_at = _SWEEP_MIN

    def _new_key(self, key: str, state: S, now: float) -> S:
        if len(self._keys) >= self._sweep_at:
            self._keys = {k: s for k, s in self._keys.items() if not self._prune(s, now)}
            self._sweep_at = max(_SWEEP_MIN, 2 * len(self._keys))
        self._keys[key] = state
        return state

    @abc.abstractmethod
    def _prune(self, state: S, now: float) -> bool:
        """Drop what no longer counts at ``now``; True when nothing is left."""

    def exceeded(self, retry_after: float) -> LimitExceeded:
        return LimitExceeded(self.name, retry_after, self.detail)


class _Window(_PerKey[deque[float]]):
    """A sliding-window log: per key, the moments its recent requests leave the window (kept
    instead of arrival times so that pruning and ``retry_after`` are one comparison each)."""

    def __init__(self, name: str, rate: float, what: str) -> None:
        super().__init__()
        self.name = name
        self.capacity = max(1, math.floor(rate))
        self.span = self.capacity / rate
        self.detail = f"at most {rate:g} {what} per second per key"

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may make one more request; 0.0 if it may now."""
        log = self._keys.get(key)
        if log is None or self._prune(log, now) or len(log) < self.capacity:
            return 0.0
        return _until(log[-self.capacity], now)

    def take(self, key: str, now: float) -> None:
        log = self._keys.get(key)
        if log is None:
            log = self._new_key(key, deque(), now)
        log.append(now + self.span)

    def untake(self, key: str) -> None:
        """Forget the last request taken for ``key``."""
        log = self._keys.get(key)
        if log:
            log.pop()

    def _prune(self, state: deque[float], now: float) -> bool:
        while state and state[0] <= now:
            state.popleft()
        return not state

    def footprint(self) -> int:
        return len(self._keys) + sum(map(len, self._keys.values()))


class _Tasks:
    """A key's unfinished tasks: id to finish time, and a heap of finite finish times (entries
    of tasks finished early stay in it until they come due or the heap is compacted)."""

    __slots__ = ("ends", "heap")

    def __init__(self) -> None:
        self.ends: dict[str, float | None] = {}
        self.heap: list[tuple[float, str]] = []

    def compact(self) -> None:
        # Stale heap entries are bounded: at most as many as live ones (plus slack).
        if len(self.heap) > 2 * len(self.ends) + 8:
            self.heap = [(end, tid) for tid, end in self.ends.items() if end is not None]
            heapq.heapify(self.heap)


class _Running(_PerKey[_Tasks]):
    name = "concurrent_tasks"

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.detail = f"at most {limit} unfinished tasks per key"

    def wait(self, key: str, now: float) -> float:
        """Seconds until enough of ``key``'s tasks finish for one more; 0.0 if none need to."""
        tasks = self._keys.get(key)
        if tasks is None or self._prune(tasks, now):
            return 0.0
        excess = len(tasks.ends) - self.limit  # one more than this many must finish first
        if excess < 0:
            return 0.0
        if excess == 0:  # the usual case: the heap's top is the earliest live finish
            ends = [tasks.heap[0][0]] if tasks.heap else []
        else:
            ends = heapq.nsmallest(excess + 1, (e for e in tasks.ends.values() if e is not None))
        return _until(ends[excess], now) if len(ends) > excess else NEVER_FINISHES_RETRY

    def add(self, key: str, task_id: str, now: float, finishes_at: float | None) -> None:
        if finishes_at is not None and finishes_at <= now:
            return  # already finished: it never counts
        tasks = self._keys.get(key)
        if tasks is None:
            tasks = self._new_key(key, _Tasks(), now)
        tasks.ends[task_id] = finishes_at
        if finishes_at is not None:
            heapq.heappush(tasks.heap, (finishes_at, task_id))
        tasks.compact()

    def finish(self, key: str, task_id: str) -> None:
        tasks = self._keys.get(key)
        if tasks is not None and task_id in tasks.ends:
            del tasks.ends[task_id]
            tasks.compact()

    def _prune(self, state: _Tasks, now: float) -> bool:
        heap, ends = state.heap, state.ends
        # Pop what came due and stale entries, so the top is the earliest live finish after now.
        while heap and (heap[0][0] <= now or ends.get(heap[0][1]) != heap[0][0]):
            end, task_id = heapq.heappop(heap)
            if ends.get(task_id) == end:
                del ends[task_id]
        return not ends

    def footprint(self) -> int:
        return len(self._keys) + sum(len(t.ends) + len(t.heap) for t in self._keys.values())


def _window(name: str, rate: float | None, what: str) -> _Window | None:
    return None if rate is None else _Window(name, rate, what)


class RateLimiter:
    """The three per-key limits. A switched-off limit (``None``) keeps no state and costs one
    comparison per call. Not thread-safe, like the rest of the backend: call it from one thread
    (the event loop), and with no ``await`` between ``check_submission`` and
    ``record_submission``."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.reset()

    def reset(self) -> None:
        """Forget every key's history (with the control plane's reset, and a clock reset)."""
        limits = self.limits
        self._submissions = _window(
            "submissions_per_second", limits.submissions_per_second, "task submissions"
        )
        self._running = (
            None if limits.concurrent_tasks is None else _Running(limits.concurrent_tasks)
        )
        self._polls = _window("polls_per_second", limits.polls_per_second, "status polls")

    def configure(self, limits: Limits) -> None:
        """Switch to ``limits``. A limit whose value did not change keeps its state (changing the
        poll rate must not forget a key's unfinished tasks); one that changed starts empty, as
        nothing was recorded for it while it was off and old windows had another span."""
        old, kept = self.limits, (self._submissions, self._running, self._polls)
        self.limits = limits
        self.reset()
        if limits.submissions_per_second == old.submissions_per_second:
            self._submissions = kept[0]
        if limits.concurrent_tasks == old.concurrent_tasks:
            self._running = kept[1]
        if limits.polls_per_second == old.polls_per_second:
            self._polls = kept[2]

    def check_submission(self, key: str, now: float) -> None:
        """Raise :class:`LimitExceeded` if ``key`` may not submit a task now; records nothing.

        When both limits hold the key back, the one with the longer wait is reported, with
        that wait as ``retry_after``: it is the time until both allow it (each only loosens as
        time passes), and the limit named is the one whose wait it is.
        """
        rate, running = self._submissions, self._running
        if rate is None and running is None:
            return
        rate_wait = 0.0 if rate is None else rate.wait(key, now)
        run_wait = 0.0 if running is None else running.wait(key, now)
        if running is not None and run_wait and run_wait >= rate_wait:
            raise running.exceeded(run_wait)
        if rate is not None and rate_wait:
            raise rate.exceeded(rate_wait)

    def record_submission(
        self, key: str, task_id: str, now: float, finishes_at: float | None
    ) -> None:
        """Count an accepted task: one submission now, unfinished while ``now < finishes_at``
        (``None``: until :meth:`task_finished`)."""
        if self._submissions is not None:
            self._submissions.take(key, now)
        if self._running is not None:
            self._running.add(key, task_id, now, finishes_at)

    def cancel_submission(self, key: str, task_id: str) -> None:
        """Take back the submission just recorded for ``task_id`` (its task was not stored)."""
        if self._submissions is not None:
            self._submissions.untake(key)
        if self._running is not None:
            self._running.finish(key, task_id)

    def task_finished(self, key: str, task_id: str, now: float) -> None:
        """A task finished before its planned time (forced by the control plane)."""
        if self._running is not None:
            self._running.finish(key, task_id)

    def check_poll(self, key: str, now: float) -> None:
        """Raise :class:`LimitExceeded` if ``key`` may not poll now; otherwise count the poll."""
        polls = self._polls
        if polls is None:
            return
        wait = polls.wait(key, now)
        if wait:
            raise polls.exceeded(wait)
        polls.take(key, now)

    def footprint(self) -> int:
        """Keys plus entries held across all limits: what memory tests bound."""
        stores = (self._submissions, self._running, self._polls)
        return sum(store.footprint() for store in stores if store is not None)
