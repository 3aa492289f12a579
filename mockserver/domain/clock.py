"""Clocks: the only source of "now" for the domain.

The lifecycle never sleeps or schedules anything: a task's status is computed from its plan and
``clock.now()``. A scaled system clock runs the fake faster than real time; a manual clock moves
only when told, so a five-minute render can be tested without waiting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ClockSnapshot:
    """Everything that decides a :class:`MockClock`'s time, so that several processes (or a
    restarted one) can run the same clock. The monotonic origin is shared too: CLOCK_MONOTONIC
    is one clock for every process on a machine, so a sped-up clock agrees across workers."""

    mode: str
    speed: float
    offset: float
    frozen: bool
    base: float
    elapsed: float
    origin_wall: float
    origin_mono: float


# Past this (9999-12-31T23:59:59Z) a timestamp can no longer be written.
LATEST = 253_402_300_799.0


class MockClock:
    """The fake's controllable clock: real time scaled by ``speed``, or virtual time that moves
    only when told. Either can be advanced and frozen, and waiting on it (``sleep``) follows
    it: under frozen or virtual time a sleep ends when the clock is advanced past it.

    Frozen time is kept as a large ``base`` plus a small ``elapsed`` sum of advances, and
    sleepers wait on ``elapsed`` deadlines, so advances of 0.1 s add up exactly enough to
    wake a 0.3 s sleep however far the clock is from the epoch.
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
        self._offset = 0.0  # advances made while real time runs
        self._frozen = mode == "virtual"
        self._base = virtual_start
        self._elapsed = 0.0
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []  # (elapsed deadline, ...)

    @property
    def speed(self) -> float:
        return self._system.speed

    @property
    def frozen(self) -> bool:
        return self._frozen

    def now(self) -> float:
        if self._frozen:
            return self._base + self._elapsed
        return self._system.now() + self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward (never backward); sleepers whose time has come wake up."""
        if not 0 <= seconds < float("inf"):  # also rejects NaN
            raise ValueError(f"a clock can only move forward, got {seconds!r} seconds")
        if self.now() + seconds > LATEST:
            raise ValueError(f"advancing {seconds:g} seconds would pass the year 9999")
        if self._frozen:
            self._elapsed += seconds
            self._wake()
        else:
            self._offset += seconds
        return self.now()

    def freeze(self) -> float:
        """Stop time where it is (a virtual clock is always frozen between advances)."""
        if not self._frozen:
            self._base, self._elapsed, self._frozen = self.now(), 0.0, True
        return self.now()

    def resume(self) -> float:
        """Let a frozen real clock run again from where it stopped (virtual clocks stay put).
        Sleepers still waiting carry on in running time."""
        if self.mode == "real" and self._frozen:
            now = self.now()
            self._offset = now - self._system.now()
            self._frozen = False
            self._run_waiters()
        return self.now()

    def _run_waiters(self) -> None:
        """Sleepers still waiting on frozen time carry on in running time."""
        for deadline, future in self._waiters:
            wall = max(deadline - self._elapsed, 0.0) / self.speed
            loop = future.get_loop()
            loop.call_soon_threadsafe(loop.call_later, wall, _resolve, future)
        self._waiters = []

    def snapshot(self) -> ClockSnapshot:
        """This clock's state, for another process to :meth:`restore`."""
        system = self._system
        return ClockSnapshot(
            self.mode,
            self.speed,
            self._offset,
            self._frozen,
            self._base,
            self._elapsed,
            system._origin_wall,
            system._origin_mono,
        )

    def restore(self, state: ClockSnapshot) -> None:
        """Run the clock another process described (a worker adopting a change made on
        another worker, or a restart carrying on where the last run stopped). A state of
        another mode is ignored. Sleepers follow, as after an advance or a resume."""
        if state.mode != self.mode:
            return
        system = self._system
        mono = system._monotonic()
        # A monotonic origin in the future means the machine rebooted since: that origin is
        # meaningless now, so this clock keeps its own (a real clock is wall time anyway).
        if state.origin_mono <= mono:
            system._origin_wall, system._origin_mono = state.origin_wall, state.origin_mono
            if state.speed != self.speed:
                # A restart with another speed: carry on from the time the old speed reached,
                # at the new speed, instead of replaying all the time since the origin.
                system._origin_wall += (mono - state.origin_mono) * state.speed
                system._origin_mono = mono
        was_frozen = self._frozen
        self._offset, self._frozen = state.offset, state.frozen
        self._base, self._elapsed = state.base, state.elapsed
        if self._frozen:
            self._wake()
        elif was_frozen:
            self._run_waiters()

    def reset(self) -> None:
        """Back to the start state: a virtual clock returns to its start, a real one resumes
        wall time; pending sleeps end."""
        self._offset = 0.0
        self._frozen = self.mode == "virtual"
        self._base, self._elapsed = self._virtual_start, 0.0
        for _, future in self._waiters:
            future.get_loop().call_soon_threadsafe(_resolve, future)
        self._waiters = []

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time without blocking the event loop."""
        if seconds <= 0:
            return
        if not self._frozen:
            # Running time: wall seconds are fake seconds divided by the speed.
            await asyncio.sleep(seconds / self.speed)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._elapsed + seconds, future))
        await future

    def _wake(self) -> None:
        due = sorted(
            ((d, f) for d, f in self._waiters if d <= self._elapsed), key=lambda item: item[0]
        )
        self._waiters = [(d, f) for d, f in self._waiters if d > self._elapsed]
        for _, future in due:  # earliest deadline first
            future.get_loop().call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ManualClock(MockClock):
    """A virtual clock for tests: it moves only when told to."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        super().__init__("virtual", virtual_start=start)


def carried_over(
    state: ClockSnapshot,
    *,
    wall: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> ClockSnapshot:
    """``state`` as set on another machine, for this one: its monotonic origin re-anchored on
    this machine's monotonic clock from its wall-clock origin (machines keep their wall clocks
    synchronised; their monotonic clocks have nothing in common)."""
    origin_mono = monotonic() - (wall() - state.origin_wall)
    return dataclasses.replace(state, origin_mono=origin_mono)
