"""MockClock's async ``sleep``: under virtual time it ends when the clock reaches its deadline,
under real time after seconds / speed of wall time, and it never blocks the event loop.

The real-time tests use the real event loop clock, with generous bounds."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

import pytest

from mockserver import ManualClock, MockClock

T = TypeVar("T")


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
    # As with real time, one big advance wakes the 1 s sleeper before the 3 s one, whichever
    # started sleeping first.
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
    # frozen must end once its deadline passes (as a latency fault injected while the clock
    # was frozen must still answer).
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
    # A sleep that blocked the loop would let one tick run before it and one after; a busy
    # machine may delay ticks, so twenty are not expected, only more than those two.
    assert ticks >= 3, f"only {ticks} ticks of 10 ms ran during a 0.2 s sleep"
