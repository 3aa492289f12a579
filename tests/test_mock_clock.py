"""MockClock (mockserver/domain/clock.py): real and virtual time, advance, freeze, resume
and reset, measured exactly on hand-moved wall and monotonic clocks."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockserver import ManualClock, MockClock
from tests.helpers import FakeTime

WALL = 1_800_000_000.0
VIRTUAL_START = 1_767_225_600.0  # the default: 2026-01-01T00:00:00Z
BAD_SECONDS = [-1.0, -1e-9, math.nan, math.inf, -math.inf]


# --- construction -------------------------------------------------------------------------------


def test_mode_must_be_real_or_virtual() -> None:
    with pytest.raises(ValueError, match="'real' or 'virtual'"):
        MockClock("manual")


@pytest.mark.parametrize("speed", [0.0, -2.0])
def test_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        MockClock("real", speed=speed)


def test_manual_clock_is_a_virtual_mock_clock() -> None:
    clock = ManualClock(start=42.0)
    assert isinstance(clock, MockClock)
    assert (clock.mode, clock.now(), clock.frozen, clock.speed) == ("virtual", 42.0, True, 1.0)
    assert ManualClock().now() == 1_790_000_000.0


# --- real mode ----------------------------------------------------------------------------------


def test_real_clock_starts_at_wall_time_and_runs_at_its_speed() -> None:
    t = FakeTime()
    clock = t.clock(speed=10.0)
    assert (clock.mode, clock.speed, clock.frozen) == ("real", 10.0, False)
    assert clock.now() == WALL
    t.mono += 2.0
    assert clock.now() == WALL + 20.0
    t.mono += 0.5
    assert clock.now() == WALL + 25.0


def test_real_clock_ignores_wall_clock_jumps() -> None:
    t = FakeTime()
    clock = t.clock(speed=2.0)
    t.wall -= 3600  # an NTP step backwards
    t.mono += 1.0
    assert clock.now() == WALL + 2.0


def test_advance_adds_to_a_running_real_clock() -> None:
    t = FakeTime()
    clock = t.clock(speed=3.0)
    assert clock.advance(100) == WALL + 100
    assert clock.now() == WALL + 100
    assert clock.frozen is False
    t.mono += 1.0
    assert clock.now() == WALL + 103.0  # still running, at its speed
    clock.advance(0.5)
    assert clock.now() == WALL + 103.5


def test_freeze_stops_a_real_clock() -> None:
    t = FakeTime()
    clock = t.clock(speed=4.0)
    t.mono += 1.0
    assert clock.freeze() == WALL + 4.0
    assert clock.frozen is True
    t.mono += 1000.0
    assert clock.now() == WALL + 4.0
    assert clock.freeze() == WALL + 4.0, "freezing twice moved time"


def test_advance_while_frozen_moves_the_frozen_instant() -> None:
    t = FakeTime()
    clock = t.clock()
    clock.freeze()
    assert clock.advance(30) == WALL + 30
    t.mono += 10
    assert clock.now() == WALL + 30
    assert clock.frozen is True


def test_resume_continues_from_the_frozen_instant() -> None:
    t = FakeTime()
    clock = t.clock(speed=2.0)
    t.mono += 5.0
    frozen_at = clock.freeze()
    assert frozen_at == WALL + 10.0
    t.mono += 60.0  # a minute of wall time while frozen
    assert clock.resume() == frozen_at, "resume jumped instead of continuing"
    assert clock.frozen is False
    assert clock.now() == frozen_at
    t.mono += 1.0
    assert clock.now() == frozen_at + 2.0


def test_resume_of_a_running_clock_changes_nothing() -> None:
    t = FakeTime()
    clock = t.clock()
    clock.advance(7)
    t.mono += 1
    assert clock.resume() == WALL + 8
    t.mono += 1
    assert clock.now() == WALL + 9


# Operations on a real clock: ("tick", wall seconds), ("advance", s), ("freeze",), ("resume",).
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.floats(0, 100)),
        st.tuples(st.just("advance"), st.floats(0, 1000)),
        st.tuples(st.just("freeze"), st.just(0.0)),
        st.tuples(st.just("resume"), st.just(0.0)),
    ),
    max_size=30,
)


@given(operations=OPERATIONS, speed=st.sampled_from([0.5, 1.0, 7.0, 1000.0]))
def test_real_clock_accounting(operations: list[tuple[str, float]], speed: float) -> None:
    """now = start + speed x (wall time while running) + every advance; never backwards."""
    t = FakeTime()
    clock = t.clock(speed=speed)
    expected, frozen, last = WALL, False, clock.now()
    for name, amount in operations:
        if name == "tick":
            t.mono += amount
            if not frozen:
                expected += amount * speed
        elif name == "advance":
            clock.advance(amount)
            expected += amount
        elif name == "freeze":
            clock.freeze()
            frozen = True
        else:
            clock.resume()
            frozen = False
        now = clock.now()
        assert clock.frozen is frozen
        assert math.isclose(now, expected, rel_tol=0, abs_tol=1e-3), (name, now, expected)
        assert now >= last - 1e-6, f"time went backwards after {name}: {last} -> {now}"
        last = now


# --- virtual mode -------------------------------------------------------------------------------


def test_virtual_clock_starts_at_virtual_start_and_only_advance_moves_it() -> None:
    t = FakeTime()
    clock = t.clock("virtual", speed=50.0)
    assert (clock.mode, clock.frozen) == ("virtual", True)
    assert clock.now() == VIRTUAL_START
    t.mono += 3600
    t.wall += 3600
    assert clock.now() == VIRTUAL_START
    assert clock.advance(90) == VIRTUAL_START + 90
    t.mono += 10
    assert clock.now() == VIRTUAL_START + 90


def test_virtual_clock_has_a_configurable_start() -> None:
    assert MockClock("virtual", virtual_start=12.5).now() == 12.5


def test_freeze_and_resume_leave_a_virtual_clock_where_it_is() -> None:
    t = FakeTime()
    clock = t.clock("virtual")
    clock.advance(5)
    assert clock.freeze() == VIRTUAL_START + 5
    assert clock.resume() == VIRTUAL_START + 5
    assert clock.frozen is True
    t.mono += 100
    assert clock.now() == VIRTUAL_START + 5


# --- reset --------------------------------------------------------------------------------------


def test_reset_returns_a_virtual_clock_to_its_start() -> None:
    clock = MockClock("virtual", virtual_start=1000.0)
    clock.advance(500)
    clock.resume()
    clock.reset()
    assert (clock.now(), clock.frozen) == (1000.0, True)
    assert clock.advance(1) == 1001.0


def test_reset_returns_a_real_clock_to_running_wall_time() -> None:
    t = FakeTime()
    clock = t.clock(speed=5.0)
    clock.advance(10_000)
    t.mono += 2
    clock.freeze()
    clock.reset()
    assert clock.frozen is False
    assert clock.now() == WALL + 10.0  # 2 s of wall time at speed 5, advances forgotten
    t.mono += 1
    assert clock.now() == WALL + 15.0


# --- advance rejects what is not a step forward -------------------------------------------------


@pytest.mark.parametrize("mode", ["real", "virtual"])
@pytest.mark.parametrize("seconds", BAD_SECONDS, ids=repr)
def test_advance_rejects_negative_nan_and_infinite_steps(mode: str, seconds: float) -> None:
    t = FakeTime()
    clock = t.clock(mode)
    clock.advance(1)
    before = clock.now()
    with pytest.raises(ValueError, match="forward"):
        clock.advance(seconds)
    assert clock.now() == before
    clock.freeze()
    with pytest.raises(ValueError, match="forward"):
        clock.advance(seconds)
    assert clock.now() == before


def test_advance_by_zero_is_allowed() -> None:
    clock = ManualClock(start=5.0)
    assert clock.advance(0) == 5.0
