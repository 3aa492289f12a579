"""SystemClock (wall time scaled by speed, monotonic underneath) and ManualClock."""

from __future__ import annotations

import math

import pytest

from mockserver import ManualClock, SystemClock
from tests.helpers import FakeTime


def test_system_clock_runs_at_its_speed() -> None:
    t = FakeTime(wall=1000.0, mono=50.0)
    clock = SystemClock(10.0, wall=lambda: t.wall, monotonic=lambda: t.mono)
    assert clock.now() == 1000.0
    t.mono += 2.0
    assert clock.now() == 1020.0


def test_system_clock_ignores_wall_clock_jumps() -> None:
    t = FakeTime(wall=1000.0, mono=50.0)
    clock = SystemClock(wall=lambda: t.wall, monotonic=lambda: t.mono)
    t.wall -= 3600  # an NTP correction must not make tasks go back in time
    t.mono += 1.0
    assert clock.now() == 1001.0


@pytest.mark.parametrize("speed", [0.0, -1.0])
def test_system_clock_needs_a_positive_speed(speed: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        SystemClock(speed)


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(start=10.0)
    assert clock.advance(5) == 15.0
    assert clock.now() == 15.0
    for bad in (-1.0, math.nan):
        with pytest.raises(ValueError, match="forward"):
            clock.advance(bad)
    assert clock.now() == 15.0
