from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import pytest

from mockserver.domain.behaviour import LIMIT_PRESETS, Limits
from mockserver.domain.limits import NEVER_FINISHES_RETRY, LimitExceeded, RateLimiter

T0 = 1_790_000_000.0  # a realistic epoch time, so float spacing is what production sees
REALISTIC = LIMIT_PRESETS["realistic"]


def rejection(call: Callable[[], None]) -> LimitExceeded:
    with pytest.raises(LimitExceeded) as info:
        call()
    return info.value


def submit(limiter: RateLimiter, key: str, now: float, task: str, ends: float | None) -> None:
    limiter.check_submission(key, now)
    limiter.record_submission(key, task, now, ends)


# Submissions per second


def test_five_submissions_in_a_second_then_the_sixth_is_refused() -> None:
    limiter = RateLimiter(Limits(submissions_per_second=5))
    for i in range(5):
        submit(limiter, "k", T0 + i * 0.1, f"t{i}", None)
    error = rejection(lambda: limiter.check_submission("k", T0 + 0.999))
    assert error.limit == "submissions_per_second"
    assert error.detail == "at most 5 task submissions per second per key"
    assert error.retry_after == pytest.approx(0.001, abs=1e-6)  # float spacing at T0: 2.4e-7


def test_the_window_slides() -> None:
    limiter = RateLimiter(Limits(submissions_per_second=5))
    for i in range(5):
        submit(limiter, "k", T0 + i / 8, f"t{i}", None)  # 0, 1/8 ... 4/8: exact in binary
    assert rejection(lambda: limiter.check_submission("k", T0 + 0.75)).retry_after == 0.25
    submit(limiter, "k", T0 + 1.0, "t5", None)  # the one at 0 left the window (now - 1, now]
    assert rejection(lambda: limiter.check_submission("k", T0 + 1.0)).retry_after == 0.125
    submit(limiter, "k", T0 + 1.125, "t6", None)


def test_retry_after_is_exact() -> None:
    limiter = RateLimiter(Limits(submissions_per_second=5))
    for i in range(5):
        submit(limiter, "k", T0 + 0.3, f"t{i}", None)
    now = T0 + 0.5
    retry = rejection(lambda: limiter.check_submission("k", now)).retry_after
    assert retry == pytest.approx(0.8)
    rejection(lambda: limiter.check_submission("k", math.nextafter(now + retry, 0)))
    limiter.check_submission("k", now + retry)
    limiter.check_submission("k", now + math.ceil(retry))


def test_a_refused_request_uses_no_quota() -> None:
    limiter = RateLimiter(Limits(submissions_per_second=1, polls_per_second=1))
    submit(limiter, "k", T0, "t0", None)
    limiter.check_poll("k", T0)
    for step in range(1, 100):
        rejection(partial(limiter.check_submission, "k", T0 + step / 100))
        rejection(partial(limiter.check_poll, "k", T0 + step / 100))
    limiter.check_submission("k", T0 + 1)
    limiter.check_poll("k", T0 + 1)


@pytest.mark.parametrize(("rate", "burst", "span"), [(2.5, 2, 0.8), (0.5, 1, 2.0), (1, 1, 1.0)])
def test_a_fractional_rate_is_a_burst_over_a_stretched_window(
    rate: float, burst: int, span: float
) -> None:
    limiter = RateLimiter(Limits(submissions_per_second=rate))
    for i in range(burst):
        submit(limiter, "k", T0, f"t{i}", None)
    # At T0, T0 + 0.8 rounds to a multiple of 2.4e-7: the retry is exact for that moment.
    assert rejection(lambda: limiter.check_submission("k", T0)).retry_after == pytest.approx(span)
    limiter.check_submission("k", T0 + span)


# Concurrent tasks


def test_a_key_may_have_five_unfinished_tasks() -> None:
    limiter = RateLimiter(Limits(concurrent_tasks=5))
    for i in range(5):
        submit(limiter, "k", T0, f"t{i}", T0 + 10 + i)
    error = rejection(lambda: limiter.check_submission("k", T0 + 3))
    assert (error.limit, error.retry_after) == ("concurrent_tasks", 7.0)
    assert error.detail == "at most 5 unfinished tasks per key"
    rejection(lambda: limiter.check_submission("k", math.nextafter(T0 + 10, 0)))
    submit(limiter, "k", T0 + 10, "t5", T0 + 20)  # t0 finished at exactly T0 + 10
    assert rejection(lambda: limiter.check_submission("k", T0 + 10)).retry_after == 1.0


def test_a_task_already_finished_when_recorded_never_counts() -> None:
    limiter = RateLimiter(Limits(concurrent_tasks=1))
    submit(limiter, "k", T0, "t0", T0)
    submit(limiter, "k", T0, "t1", T0 + 1)
    assert limiter.footprint() == 3  # the key, t1 and t1's heap entry


def test_stuck_tasks_give_the_fallback_retry_and_count_until_finished() -> None:
    limiter = RateLimiter(Limits(concurrent_tasks=2))
    submit(limiter, "k", T0, "stuck", None)
    submit(limiter, "k", T0, "slow", T0 + 30)
    assert rejection(lambda: limiter.check_submission("k", T0 + 1)).retry_after == 29.0
    submit(limiter, "k", T0 + 30, "stuck-too", None)
    error = rejection(lambda: limiter.check_submission("k", T0 + 10_000))
    assert error.retry_after == NEVER_FINISHES_RETRY
    limiter.task_finished("k", "stuck", T0 + 10_000)
    limiter.check_submission("k", T0 + 10_000)


def test_task_finished_frees_a_slot_early_and_ignores_unknown_tasks() -> None:
    limiter = RateLimiter(Limits(concurrent_tasks=1))
    submit(limiter, "k", T0, "t0", T0 + 100)
    limiter.task_finished("k", "nope", T0 + 1)
    limiter.task_finished("other", "t0", T0 + 1)
    rejection(lambda: limiter.check_submission("k", T0 + 1))
    limiter.task_finished("k", "t0", T0 + 1)
    submit(limiter, "k", T0 + 1, "t1", T0 + 200)
    # The early-finished t0 must not shadow t1 when working out the retry.
    assert rejection(lambda: limiter.check_submission("k", T0 + 2)).retry_after == 198.0


def test_when_both_limits_hold_the_longer_wait_is_reported_with_its_limit() -> None:
    # Proves a 429 names the limit whose wait its Retry-After is: concurrency (3 s) outlasts
    # the rate (1 s), so concurrency is named, and the retry is exactly when both allow it.
    limiter = RateLimiter(REALISTIC)
    for i in range(5):
        submit(limiter, "k", T0, f"t{i}", T0 + 3)
    error = rejection(lambda: limiter.check_submission("k", T0))
    assert (error.limit, error.retry_after) == ("concurrent_tasks", 3.0)
    assert rejection(lambda: limiter.check_submission("k", T0 + 1)).limit == "concurrent_tasks"
    limiter.check_submission("k", T0 + 3)


def test_when_the_rate_waits_longer_the_rate_is_named() -> None:
    # Five tasks that finish at once leave only the rate window: it is named, with its wait.
    limiter = RateLimiter(REALISTIC)
    for i in range(5):
        submit(limiter, "k", T0, f"t{i}", T0 + 0.5)
    error = rejection(lambda: limiter.check_submission("k", T0 + 0.25))
    assert (error.limit, error.retry_after) == ("submissions_per_second", 0.75)
    limiter.check_submission("k", T0 + 1)


# Polls


def test_twenty_polls_per_second_and_each_allowed_poll_counts() -> None:
    limiter = RateLimiter(REALISTIC)
    for i in range(20):
        limiter.check_poll("k", T0 + i * 0.01)
    error = rejection(lambda: limiter.check_poll("k", T0 + 0.5))
    assert error.limit == "polls_per_second"
    assert error.retry_after == 0.5
    assert error.detail == "at most 20 status polls per second per key"
    limiter.check_poll("k", T0 + 1.0)
    rejection(lambda: limiter.check_poll("k", T0 + 1.0))  # the poll at T0 + 0.01 is inside


# Switching, resetting, keys, memory


def test_limits_off_never_refuse_and_hold_nothing() -> None:
    limiter = RateLimiter(LIMIT_PRESETS["off"])
    for i in range(10_000):
        submit(limiter, "k", T0, f"t{i}", None)
        limiter.check_poll("k", T0)
        limiter.task_finished("k", f"t{i}", T0)
    assert limiter.footprint() == 0


def test_keys_are_independent() -> None:
    limiter = RateLimiter(Limits(submissions_per_second=1, concurrent_tasks=1, polls_per_second=1))
    submit(limiter, "a", T0, "a0", None)
    limiter.check_poll("a", T0)
    submit(limiter, "b", T0, "b0", None)
    limiter.check_poll("b", T0)
    rejection(lambda: limiter.check_submission("a", T0))
    rejection(lambda: limiter.check_poll("b", T0))


def test_reset_forgets_everything() -> None:
    limiter = RateLimiter(REALISTIC)
    for i in range(5):
        submit(limiter, "k", T0, f"t{i}", None)
        limiter.check_poll("k", T0)
    limiter.reset()
    assert limiter.footprint() == 0
    submit(limiter, "k", T0, "again", None)


def test_configure_keeps_the_state_of_unchanged_limits_only() -> None:
    limiter = RateLimiter(Limits(submissions_per_second=1, concurrent_tasks=1, polls_per_second=1))
    submit(limiter, "k", T0, "t0", None)
    limiter.check_poll("k", T0)
    limiter.configure(Limits(submissions_per_second=2, concurrent_tasks=1, polls_per_second=1))
    assert limiter.limits.submissions_per_second == 2
    assert rejection(lambda: limiter.check_submission("k", T0)).limit == "concurrent_tasks"
    rejection(lambda: limiter.check_poll("k", T0))
    limiter.configure(Limits(submissions_per_second=2, concurrent_tasks=2))
    submit(limiter, "k", T0, "t1", None)
    limiter.check_poll("k", T0)


def test_idle_keys_do_not_pile_up() -> None:
    limiter = RateLimiter(REALISTIC)
    for i in range(10_000):
        submit(limiter, f"key-{i}", T0 + i, "t", T0 + i + 0.5)
        limiter.check_poll(f"key-{i}", T0 + i)
        assert limiter.footprint() < 8 * 1024  # 70_000 if nothing were swept


def test_tasks_finished_early_do_not_pile_up() -> None:
    limiter = RateLimiter(Limits(concurrent_tasks=5))
    for i in range(10_000):
        submit(limiter, "k", T0 + i, f"t{i}", T0 + 1e6)
        limiter.task_finished("k", f"t{i}", T0 + i)
    assert limiter.footprint() < 20
