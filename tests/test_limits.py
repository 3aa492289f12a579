from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# Properties over random sequences of events

RATES = st.sampled_from([None, 1, 2, 3, 0.5, 2.5])
LIMITS = st.builds(
    Limits,
    submissions_per_second=RATES,
    concurrent_tasks=st.sampled_from([None, 1, 2, 3]),
    polls_per_second=RATES,
)
DELTAS = st.one_of(
    st.just(0.0),
    st.sampled_from([0.1, 0.2, 0.25, 0.4, 0.5, 0.8, 1.0, 2.0]),
    st.floats(0, 3),
)
EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["a", "a", "b"]),
        st.sampled_from(["submit", "submit", "poll", "poll", "finish"]),
        DELTAS,
        st.integers(0, 1000),
    ),
    min_size=10,  # long enough that most runs hit every limit they switch on
    max_size=60,
)
DURATIONS = (None, 0.0, 0.5, 1.0, 2.0, 5.0)
EPSILON = 1e-6  # a few units in the last place at T0


def window(rate: float) -> tuple[int, float]:
    """The documented meaning of a rate: ``burst`` requests in any window of ``span`` s."""
    burst = max(1, math.floor(rate))
    return burst, burst / rate


@dataclass
class Model:
    """The limits stated naively: every accepted request and task kept, counted from scratch."""

    limits: Limits
    submits: dict[str, list[float]] = field(default_factory=dict)
    polls: dict[str, list[float]] = field(default_factory=dict)
    tasks: dict[str, dict[str, float | None]] = field(default_factory=dict)

    @staticmethod
    def room(rate: float | None, times: list[float], now: float) -> bool:
        if rate is None:
            return True
        burst, span = window(rate)
        return sum(now < t + span for t in times) < burst

    def unfinished(self, key: str, now: float) -> list[float | None]:
        ends = self.tasks.get(key, {}).values()
        return [end for end in ends if end is None or now < end]

    def submission(self, key: str, now: float) -> str | None:
        """The limit refusing a submission: when both do, the one that keeps it waiting
        longer (concurrency on a tie)."""
        rate, times = self.limits.submissions_per_second, self.submits.get(key, [])
        rate_wait = 0.0
        if rate is not None and not self.room(rate, times, now):
            burst, span = window(rate)
            inside = sorted(t for t in times if now < t + span)
            rate_wait = inside[-burst] + span - now
        cap = self.limits.concurrent_tasks
        ends = self.unfinished(key, now)
        run_wait = 0.0
        if cap is not None and len(ends) >= cap:
            finite = sorted(end for end in ends if end is not None)
            excess = len(ends) - cap
            run_wait = finite[excess] - now if len(finite) > excess else math.inf
        if run_wait and run_wait >= rate_wait:
            return "concurrent_tasks"
        return "submissions_per_second" if rate_wait else None

    def poll(self, key: str, now: float) -> str | None:
        allowed = self.room(self.limits.polls_per_second, self.polls.get(key, []), now)
        return None if allowed else "polls_per_second"

    def stuck(self, key: str, now: float) -> bool:
        """At the concurrency limit with too few tasks that will ever finish to get under it."""
        cap = self.limits.concurrent_tasks
        ends = self.unfinished(key, now)
        finite = [end for end in ends if end is not None]
        return cap is not None and len(ends) >= cap and len(finite) < len(ends) - cap + 1


def attempt(call: Callable[[], None]) -> LimitExceeded | None:
    try:
        call()
    except LimitExceeded as error:
        return error
    return None


def check_retry(
    limiter: RateLimiter, request: Callable[[RateLimiter, float], None], now: float, r: float
) -> None:
    """Retrying at ``now + r`` and ``now + ceil(r)`` succeeds; just before ``now + r`` fails."""
    assert r > 0
    for later in (now + r, now + math.ceil(r)):
        request(copy.deepcopy(limiter), later)
    early = now + r - EPSILON
    if early > now:
        fork = copy.deepcopy(limiter)
        assert attempt(lambda: request(fork, early)) is not None


def requester(op: str, key: str) -> Callable[[RateLimiter, float], None]:
    if op == "submit":
        return lambda limiter, at: limiter.check_submission(key, at)
    return lambda limiter, at: limiter.check_poll(key, at)


def assert_windows_hold(rate: float | None, logs: dict[str, list[float]]) -> None:
    """In any window of ``span`` s (1 s for a whole rate), at most ``burst`` were accepted."""
    if rate is not None:
        burst, span = window(rate)
        for log in logs.values():
            assert all(sum(t <= u < t + span for u in log) <= burst for t in log)


def run(
    limits: Limits,
    start: float,
    events: list[tuple[str, str, float, int]],
    *,
    skip: frozenset[int] = frozenset(),
    repeat_refused: int = 0,
) -> list[str | None]:
    """Play ``events`` against a limiter and the model, checking retries of every refusal;
    return each played event's outcome (the refusing limit, or None)."""
    limiter, model = RateLimiter(limits), Model(limits)
    now, outcomes, accepted = start, list[str | None](), list[tuple[str, str]]()
    for index, (key, op, delta, arg) in enumerate(events):
        now += delta
        if index in skip:
            continue
        if op == "finish":
            if accepted:
                owner, task_id = accepted[arg % len(accepted)]
                limiter.task_finished(key, task_id, now)  # a wrong key must change nothing
                if key == owner:
                    model.tasks[key].pop(task_id, None)
            outcomes.append(None)
            continue
        request = requester(op, key)
        expected = model.submission(key, now) if op == "submit" else model.poll(key, now)
        error = attempt(partial(request, limiter, now))
        assert (error.limit if error else None) == expected
        outcomes.append(expected)
        if error is not None:
            if op == "submit" and model.stuck(key, now):
                assert error.retry_after >= NEVER_FINISHES_RETRY
            else:
                check_retry(limiter, request, now, error.retry_after)
            for _ in range(repeat_refused):
                assert attempt(partial(request, limiter, now)) is not None
        elif op == "submit":
            duration = DURATIONS[arg % len(DURATIONS)]
            finishes_at = None if duration is None else now + duration
            limiter.record_submission(key, f"t{index}", now, finishes_at)
            model.submits.setdefault(key, []).append(now)
            model.tasks.setdefault(key, {})[f"t{index}"] = finishes_at
            accepted.append((key, f"t{index}"))
            cap = limits.concurrent_tasks
            assert cap is None or len(model.unfinished(key, now)) <= cap
        else:
            model.polls.setdefault(key, []).append(now)
    assert_windows_hold(limits.submissions_per_second, model.submits)
    assert_windows_hold(limits.polls_per_second, model.polls)
    return outcomes


@given(limits=LIMITS, start=st.sampled_from([0.0, T0]), events=EVENTS)
def test_limiter_agrees_with_the_model_and_retries_are_exact(
    limits: Limits, start: float, events: list[tuple[str, str, float, int]]
) -> None:
    run(limits, start, events)


@given(limits=LIMITS, start=st.sampled_from([0.0, T0]), events=EVENTS)
def test_refused_requests_change_no_later_decision(
    limits: Limits, start: float, events: list[tuple[str, str, float, int]]
) -> None:
    outcomes = run(limits, start, events)
    assert run(limits, start, events, repeat_refused=2) == outcomes
    refused = frozenset(i for i, outcome in enumerate(outcomes) if outcome is not None)
    kept = [outcome for i, outcome in enumerate(outcomes) if i not in refused]
    assert run(limits, start, events, skip=refused) == kept
