"""Clocks: the only source of "now" for the domain.

The lifecycle never sleeps or schedules anything: a task's status is computed from its plan and
``clock.now()``. A scaled system clock runs the fake faster than real time; a manual clock moves
only when told, so a five-minute render can be tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the fake's current time, in seconds since the Unix epoch."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time, optionally running ``speed`` times faster from the moment it is made."""

    def __init__(
        self,
        speed: float = 1.0,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._monotonic = monotonic
        self._origin_wall = wall()
        self._origin_mono = monotonic()

    def now(self) -> float:
        # Measure elapsed time on the monotonic clock so that a wall-clock jump (NTP) can never
        # make a task's status move backwards.
        return self._origin_wall + (self._monotonic() - self._origin_mono) * self.speed


class ManualClock:
    """A clock that moves only when told to; used by tests and the virtual-clock mode."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward (never backward) and return the new time."""
        if not seconds >= 0:  # also rejects NaN
            raise ValueError(f"a clock can only move forward, got {seconds!r} seconds")
        self._now += seconds
        return self._now
