"""Clocks: the only source of "now" for the domain.

The lifecycle never sleeps or schedules anything: a task's status is computed from its plan and
``clock.now()``. A scaled system clock runs the fake faster than real time; a manual clock moves
only when told, so a five-minute render can be tested without waiting.
"""

from __future__ import annotations

import asyncio
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


class MockClock:
    """The fake's controllable clock: real time scaled by ``speed``, or virtual time that moves
    only when told. Either can be advanced and frozen, and waiting on it (``sleep``) follows
    it: under virtual time a sleep ends when someone advances the clock past it.
    """

    def __init__(
        self,
        mode: str = "real",
        *,
        speed: float = 1.0,
        virtual_start: float = 1_767_225_600.0,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in ("real", "virtual"):
            raise ValueError(f"clock mode must be 'real' or 'virtual', got {mode!r}")
        self.mode = mode
        self._system = SystemClock(speed, wall=wall, monotonic=monotonic)
        self._virtual_start = virtual_start
        self._offset = 0.0
        self._frozen_at: float | None = virtual_start if mode == "virtual" else None
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    @property
    def speed(self) -> float:
        return self._system.speed

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now(self) -> float:
        if self._frozen_at is not None:
            return self._frozen_at
        return self._system.now() + self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward (never backward); sleepers whose time has come wake up."""
        if not 0 <= seconds < float("inf"):  # also rejects NaN
            raise ValueError(f"a clock can only move forward, got {seconds!r} seconds")
        if self._frozen_at is not None:
            self._frozen_at += seconds
        else:
            self._offset += seconds
        self._wake()
        return self.now()

    def freeze(self) -> float:
        """Stop time where it is (a virtual clock is always frozen between advances)."""
        self._frozen_at = self.now()
        return self._frozen_at

    def resume(self) -> float:
        """Let a frozen real clock run again from where it stopped (virtual clocks stay put)."""
        if self.mode == "real" and self._frozen_at is not None:
            self._offset = self._frozen_at - self._system.now()
            self._frozen_at = None
        return self.now()

    def reset(self) -> None:
        """Back to the start state: a virtual clock returns to its start, a real one resumes
        wall time; pending sleeps end."""
        self._offset = 0.0
        self._frozen_at = self._virtual_start if self.mode == "virtual" else None
        for _, future in self._waiters:
            if not future.done():
                future.set_result(None)
        self._waiters.clear()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time without blocking the event loop."""
        if seconds <= 0:
            return
        if self._frozen_at is None:
            # Running time: wall seconds are fake seconds divided by the speed. An advance
            # meanwhile ends the sleep early only under frozen/virtual time, by design.
            await asyncio.sleep(seconds / self.speed)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self.now() + seconds, future))
        await future

    def _wake(self) -> None:
        now = self.now()
        keep = []
        for deadline, future in self._waiters:
            if future.done():
                continue
            if deadline <= now:
                future.get_loop().call_soon_threadsafe(_resolve, future)
            else:
                keep.append((deadline, future))
        self._waiters = keep


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ManualClock(MockClock):
    """A virtual clock for tests: it moves only when told to."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        super().__init__("virtual", virtual_start=start)
