"""The rate limiter against a model that states the limits naively: random sequences of
submissions, polls and finishes, each decision and each Retry-After compared."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from hypothesis import given
from hypothesis import strategies as st

from mockserver.domain.behaviour import Limits
from mockserver.domain.limits import NEVER_FINISHES_RETRY, LimitExceeded, RateLimiter

T0 = 1_790_000_000.0  # a realistic epoch time, so float spacing is what production sees

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
