"""MockClock (mockserver/domain/clock.py): real and virtual time, advance, freeze, resume,
reset, and the async ``sleep`` that follows the clock.

Real-mode arithmetic is tested with hand-moved wall and monotonic clocks, so it is exact; only
the tests of real sleeping use the real event loop clock, with generous bounds.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockserver import ManualClock, MockClock

T = TypeVar("T")
WALL = 1_800_000_000.0
VIRTUAL_START = 1_767_225_600.0  # the default: 2026-01-01T00:00:00Z
BAD_SECONDS = [-1.0, -1e-9, math.nan, math.inf, -math.inf]


class FakeTime:
    """Wall and monotonic clocks a test moves by hand."""

    def __init__(self, wall: float = WALL, mono: float = 500.0) -> None:
        self.wall = wall
        self.mono = mono

    def clock(self, mode: str = "real", speed: float = 1.0, **kwargs: Any) -> MockClock:
        return MockClock(
            mode, speed=speed, wall=lambda: self.wall, monotonic=lambda: self.mono, **kwargs
        )


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def settle(rounds: int = 10) -> None:
    """Let every ready callback and task run (wake-ups are scheduled with call_soon)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def within(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise AssertionError(f"{what}: still waiting after {seconds} s of wall time") from None


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


# --- sleep under virtual time -------------------------------------------------------------------


def test_virtual_sleep_ends_when_the_clock_reaches_its_deadline_not_before() -> None:
    clock = ManualClock(start=1000.0)

    async def scenario() -> None:
        sleeper = asyncio.create_task(clock.sleep(10))
        await settle()
        assert not sleeper.done(), "a virtual sleep ended without an advance"
        clock.advance(9.5)
        await settle()
        assert not sleeper.done(), "the sleep ended 0.5 s before its deadline"
        clock.advance(0.5)  # exactly the deadline
        await within(sleeper, 1.0, "sleep(10) after advancing 10")
        assert clock.now() == 1010.0

    run(scenario())


def test_virtual_sleep_is_measured_from_when_it_starts() -> None:
    clock = ManualClock(start=0.0)

    async def scenario() -> None:
        clock.advance(100)
        sleeper = asyncio.create_task(clock.sleep(2))
        await settle()
        clock.advance(1.5)
        await settle()
        assert not sleeper.done()
        clock.advance(4)  # past the deadline
        await within(sleeper, 1.0, "sleep(2) after advancing 5.5")

    run(scenario())


def test_virtual_sleep_without_an_advance_never_ends() -> None:
    clock = ManualClock()

    async def scenario() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(clock.sleep(0.001), 0.05)

    run(scenario())


@pytest.mark.parametrize("seconds", [0, 0.0, -1, -math.inf])
def test_a_sleep_of_nothing_returns_at_once(seconds: float) -> None:
    clock = ManualClock()

    async def scenario() -> None:
        await within(clock.sleep(seconds), 0.5, f"sleep({seconds})")

    run(scenario())


def test_sleepers_wake_in_order_as_time_passes() -> None:
    clock = ManualClock(start=0.0)

    async def scenario() -> list[str]:
        woke: list[str] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append(name)

        tasks = [
            asyncio.create_task(sleeper(name, seconds))
            for name, seconds in (("c", 3), ("a", 1), ("b", 2), ("b2", 2))
        ]
        await settle()
        checkpoints = [
            (0.5, []),
            (1.0, ["a"]),
            (1.5, ["a"]),
            (2.0, ["a", "b", "b2"]),
            (2.5, ["a", "b", "b2"]),
            (3.0, ["a", "b", "b2", "c"]),
        ]
        for at, expected in checkpoints:
            clock.advance(0.5)
            await settle()
            assert woke == expected, f"at {at} s: woke {woke}, expected {expected}"
        await within(asyncio.gather(*tasks), 1.0, "sleepers")
        return woke

    assert run(scenario()) == ["a", "b", "b2", "c"]


def test_sleepers_passed_by_one_advance_wake_in_deadline_order() -> None:
    # A real clock would wake the 1 s sleeper before the 3 s one; today one big advance wakes
    # them in the order they started sleeping instead.
    clock = ManualClock(start=0.0)

    async def scenario() -> list[float]:
        woke: list[float] = []

        async def sleeper(seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append(seconds)

        tasks = [asyncio.create_task(sleeper(s)) for s in (3.0, 1.0, 2.0)]
        await settle()
        clock.advance(10)
        await within(asyncio.gather(*tasks), 1.0, "sleepers after advance(10)")
        return woke

    woke = run(scenario())
    assert woke == [1.0, 2.0, 3.0], f"sleep(3), sleep(1), sleep(2) then advance(10) woke {woke}"


def test_virtual_sleep_wakes_after_advances_summing_to_its_length() -> None:
    # sleep(0.3) then advance(0.1) three times: the caller moved the clock by 0.3 s, but at a
    # Unix-time magnitude the float sum lands 0.3 microseconds short of the deadline and the
    # sleeper stays asleep.
    clock = ManualClock()  # starts at 1_790_000_000.0

    async def scenario() -> None:
        sleeper = asyncio.create_task(clock.sleep(0.3))
        await settle()
        for _ in range(3):
            clock.advance(0.1)
        await settle()
        elapsed = clock.now() - 1_790_000_000.0
        done = sleeper.done()
        sleeper.cancel()
        assert done, f"sleep(0.3) still asleep after 3 x advance(0.1) (clock moved {elapsed!r} s)"

    run(scenario())


def test_reset_wakes_every_sleeper() -> None:
    clock = ManualClock()

    async def scenario() -> None:
        sleepers = [asyncio.create_task(clock.sleep(s)) for s in (1, 60, 1e9)]
        await settle()
        clock.reset()
        await within(asyncio.gather(*sleepers), 1.0, "sleepers after reset")

    run(scenario())


def test_a_cancelled_sleeper_does_not_disturb_the_others() -> None:
    clock = ManualClock()

    async def scenario() -> None:
        cancelled = asyncio.create_task(clock.sleep(5))
        kept = asyncio.create_task(clock.sleep(5))
        await settle()
        cancelled.cancel()
        await settle()
        clock.advance(5)
        await within(kept, 1.0, "the sleeper that was not cancelled")
        assert cancelled.cancelled()
        clock.reset()  # nothing left to wake: must not raise

    run(scenario())


def _sleep_on_another_loop(clock: MockClock, seconds: float) -> tuple[threading.Thread, Any]:
    """A thread running its own event loop with one ``clock.sleep``; returns it and the loop."""
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def sleeper() -> None:
        started.set()
        await clock.sleep(seconds)

    thread = threading.Thread(target=loop.run_until_complete, args=(sleeper(),), daemon=True)
    thread.start()
    assert started.wait(2)
    time.sleep(0.05)  # let it reach the wait
    return thread, loop


def test_advance_from_another_thread_wakes_a_sleeper() -> None:
    clock = ManualClock()
    thread, loop = _sleep_on_another_loop(clock, 100)
    clock.advance(100)
    thread.join(2)
    woke = not thread.is_alive()
    if woke:
        loop.close()
    assert woke, "advance() from another thread did not wake the sleeper's loop"


def test_reset_from_another_thread_wakes_a_sleeper() -> None:
    # A test thread resetting a fake whose server loop runs in another thread: advance() wakes
    # sleepers with call_soon_threadsafe, reset() calls future.set_result directly, so the
    # sleeper's loop stays blocked in select() until something else happens to wake it.
    clock = ManualClock()
    thread, loop = _sleep_on_another_loop(clock, 100)
    clock.reset()
    thread.join(1.0)
    woke = not thread.is_alive()
    if not woke:  # unblock the loop so the thread ends either way
        loop.call_soon_threadsafe(lambda: None)
        thread.join(2)
    loop.close()
    assert woke, "reset() from another thread left the sleeper asleep for 1 s and counting"


# --- sleep under real time ----------------------------------------------------------------------


@pytest.mark.parametrize(("speed", "seconds"), [(100.0, 20.0), (1000.0, 150.0)])
def test_real_sleep_takes_seconds_over_speed_of_wall_time(speed: float, seconds: float) -> None:
    clock = MockClock("real", speed=speed)
    wanted = seconds / speed  # 0.2 s and 0.15 s

    async def timed() -> float:
        started = time.perf_counter()
        await within(clock.sleep(seconds), 5.0, f"sleep({seconds}) at speed {speed}")
        return time.perf_counter() - started

    elapsed = run(timed())
    assert wanted * 0.95 <= elapsed < wanted + 0.5, f"{elapsed:.3f} s, wanted {wanted:.3f} s"


def test_sleep_begun_while_frozen_ends_after_resume() -> None:
    # A real clock, frozen, then resumed: time runs again, so a sleep that began while it was
    # frozen must end once its deadline passes. Today nothing checks the waiters after resume()
    # (only advance() does), so the sleep hangs forever: an injected latency fault requested
    # while the clock was frozen never answers.
    clock = MockClock("real", speed=100.0)

    async def scenario() -> None:
        clock.freeze()
        sleeper = asyncio.create_task(clock.sleep(1.0))  # 10 ms of wall time once running
        await settle()
        clock.resume()
        await within(sleeper, 1.0, "sleep(1) at speed 100 begun while frozen, then resumed")

    run(scenario())


def test_a_frozen_real_clock_sleeps_like_a_virtual_one() -> None:
    clock = MockClock("real", speed=1.0)

    async def scenario() -> None:
        clock.freeze()
        sleeper = asyncio.create_task(clock.sleep(3600))
        await asyncio.sleep(0.05)
        assert not sleeper.done()
        clock.advance(3600)
        await within(sleeper, 1.0, "sleep(3600) on a frozen clock after advance(3600)")

    run(scenario())


# --- the event loop keeps running -------------------------------------------------------------


def test_virtual_sleep_does_not_block_the_event_loop() -> None:
    clock = ManualClock()

    async def scenario() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            for _ in range(20):
                ticks += 1
                await asyncio.sleep(0)
            clock.advance(60)  # another task moves time and ends the sleep

        sleeper = asyncio.create_task(clock.sleep(60))
        await asyncio.gather(ticker(), within(sleeper, 1.0, "sleep(60)"))
        return ticks

    assert run(scenario()) == 20


def test_real_sleep_does_not_block_the_event_loop() -> None:
    clock = MockClock("real", speed=50.0)

    async def scenario() -> int:
        ticks = 0
        sleeper = asyncio.create_task(clock.sleep(10))  # 0.2 s of wall time
        while not sleeper.done():
            ticks += 1
            await asyncio.sleep(0.01)
        return ticks

    ticks = run(scenario())
    assert ticks >= 5, f"only {ticks} ticks of 10 ms ran during a 0.2 s sleep"
