from __future__ import annotations

import random

import pytest

from mockserver import Settings, Status
from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.planning import FAILURES, Planner

IMAGE = ImageRef(source="url", url="https://example.com/a.jpg")


def request(**fields: object) -> GenerationRequest:
    return GenerationRequest(prompt="p", image=IMAGE, **fields)  # type: ignore[arg-type]


def plans(settings: Settings, req: GenerationRequest, n: int, seed: int = 1) -> list[float]:
    planner = Planner(settings, random.Random(seed))
    durations = [planner.plan(req, planner.deck.draw()).duration for _ in range(n)]
    assert all(d is not None for d in durations)
    return [d for d in durations if d is not None]


def test_dev_profile_finishes_within_a_few_seconds() -> None:
    worst = request(resolution="1080P", duration=15, shot_type="multi")
    assert max(plans(Settings(), worst, 500)) < 5.0
    assert min(plans(Settings(), request(), 500)) > 1.0


def test_realistic_profile_follows_the_documented_minutes() -> None:
    realistic = Settings(timing="realistic")
    short = plans(realistic, request(prompt_extend=False), 500)
    assert min(short) >= 60
    assert max(short) <= 5 * 60 + 15
    long = plans(realistic, request(resolution="1080P", duration=15, shot_type="multi"), 500)
    assert min(long) > max(short) / 2
    assert max(long) > 8 * 60
    assert sum(long) / len(long) > 2 * sum(short) / len(short)


def test_multi_shot_only_counts_with_prompt_extend() -> None:
    realistic = Settings(timing="realistic")
    ignored = request(shot_type="multi", prompt_extend=False)
    plain = request(prompt_extend=False)
    assert plans(realistic, ignored, 50) == plans(realistic, plain, 50)


@pytest.mark.parametrize("rate", [0.0, 0.25, 1.0])
def test_failure_rate_is_met(rate: float) -> None:
    planner = Planner(Settings(failure_rate=rate), random.Random(4))
    outcomes = [planner.plan(request(), planner.deck.draw()) for _ in range(4000)]
    failed = [p for p in outcomes if p.statuses[-1] is Status.FAILED]
    assert abs(len(failed) / len(outcomes) - rate) < 0.025
    assert all(p.failure in FAILURES for p in failed)
    if rate:
        assert {p.failure.code for p in failed if p.failure} == {
            3001,
            3002,
            3003,
            3004,
            3005,
            4002,
            4008,
        }


def test_failure_codes_are_the_documented_ones() -> None:
    assert [f.code for f in FAILURES] == [3001, 3002, 3003, 3004, 3005, 4002, 4008]
    assert all(f.title and f.detail for f in FAILURES)


def test_a_seed_makes_plans_reproducible() -> None:
    first = Planner(Settings(), random.Random(9))
    second = Planner(Settings(), random.Random(9))
    assert [first.plan(request(), None) for _ in range(20)] == [
        second.plan(request(), None) for _ in range(20)
    ]


def test_changing_the_failure_rate_keeps_the_timings() -> None:
    never = Planner(Settings(failure_rate=0.0), random.Random(2))
    always = Planner(Settings(failure_rate=1.0), random.Random(2))
    for _ in range(20):
        ok = never.plan(request(), never.deck.draw())
        bad = always.plan(request(), always.deck.draw())
        assert ok.offsets[:2] == bad.offsets[:2]
        assert bad.offsets[2] < ok.offsets[2]
