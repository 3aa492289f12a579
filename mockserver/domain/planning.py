"""Deciding a task's plan at creation: which scenario applies, how long it queues, how long it
renders, how it ends.

The scenario comes from, in this order: the request (header or prompt token), the control
plane's queue, the config file's rules, then the seeded weights. All randomness comes from the
``random.Random`` handed in, so a seeded fake makes the same plans for the same requests in
the same order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from mockserver.domain.generation import GenerationRequest
from mockserver.domain.scenarios import FAILURES as FAILURE_CODES
from mockserver.domain.scenarios import SLOW_FACTOR, Scenario
from mockserver.domain.setting_types import Timing
from mockserver.domain.settings import Settings
from mockserver.domain.tasks import Plan, Status

FAILURES = tuple(FAILURE_CODES.values())
# "input": the task fails because its input could not be read (domain/reachability.py).
Source = Literal["header", "prompt", "queue", "rule", "weights", "input"]

_SUCCESS = (Status.PENDING, Status.RUNNING, Status.SUCCEEDED)
_FAILURE = (Status.PENDING, Status.RUNNING, Status.FAILED)
_STUCK = (Status.PENDING, Status.RUNNING)


@dataclass(frozen=True, slots=True)
class Decision:
    """Which scenario a task got, and from where (shown by the control plane)."""

    scenario: Scenario
    source: Source


@dataclass(frozen=True, slots=True)
class TimingProfile:
    """Seconds spent queued, and rendering (by requested duration), before any speed-up."""

    queue: tuple[float, float]
    render: dict[int, tuple[float, float]]
    hd_factor: float  # 1080P renders take this much longer
    multi_shot_factor: float
    prompt_extend: tuple[float, float]  # extra seconds for prompt rewriting


# dev: a task is done within about five seconds. realistic: the documented one to five minutes,
# longer for 10/15 s, 1080P and multi-shot (1080P multi-shot 15 s runs about 6 to 11 minutes).
PROFILES: dict[Timing, TimingProfile] = {
    "dev": TimingProfile(
        queue=(0.2, 0.8),
        render={5: (1.5, 2.5), 10: (2.0, 3.0), 15: (2.5, 3.5)},
        hd_factor=1.1,
        multi_shot_factor=1.05,
        prompt_extend=(0.0, 0.2),
    ),
    "realistic": TimingProfile(
        queue=(2.0, 15.0),
        render={5: (60.0, 170.0), 10: (150.0, 290.0), 15: (180.0, 350.0)},
        hd_factor=1.5,
        multi_shot_factor=1.25,
        prompt_extend=(3.0, 10.0),
    ),
}


class OutcomeDeck:
    """Weighted outcomes dealt from shuffled decks of 100, so that configured rates are met
    closely (the share over any 10,000 tasks is within 0.5 percentage point) while the order
    within each deck stays random. Rounding remainders carry over to the next deck."""

    SIZE = 100

    def __init__(self, rates: dict[Scenario, float], rng: random.Random) -> None:
        if sum(rates.values()) > 1 + 1e-9:
            raise ValueError("the outcome rates add up to more than 1")
        self._rates = rates
        self._rng = rng
        self._carry = dict.fromkeys(rates, 0.0)
        self._deck: list[Scenario | None] = []

    def draw(self) -> Scenario | None:
        """The next weighted scenario, or None for a task that simply succeeds."""
        if not self._rates:
            return None
        if not self._deck:
            self._deal()
        return self._deck.pop()

    def _deal(self) -> None:
        deck: list[Scenario | None] = []
        for scenario, rate in self._rates.items():
            exact = rate * self.SIZE + self._carry[scenario]
            count = int(exact)
            self._carry[scenario] = exact - count
            deck.extend([scenario] * count)
        deck.extend([None] * max(self.SIZE - len(deck), 0))
        self._rng.shuffle(deck)
        self._deck = deck


class Planner:
    """Makes plans from the settings and a random source."""

    def __init__(self, settings: Settings, rng: random.Random) -> None:
        self.profile = PROFILES[settings.timing]
        self._rng = rng
        weights = {
            Scenario("fail"): settings.failure_rate,
            Scenario("slow"): settings.slow_rate,
            Scenario("stuck"): settings.stuck_rate,
        }
        # The deck shuffles with a stream of its own, so that the weights never shift timings.
        deck_rng = random.Random(rng.getrandbits(64))
        self.deck = OutcomeDeck({s: r for s, r in weights.items() if r > 0}, deck_rng)

    def plan(self, request: GenerationRequest, scenario: Scenario | None) -> Plan:
        """The plan for a task with this request and scenario (None: it just succeeds)."""
        rng, profile = self._rng, self.profile
        # Every plan draws the same values in the same order, whatever its scenario, so that
        # one task's scenario never shifts the timings of the tasks after it.
        queued = rng.uniform(*profile.queue)
        render = rng.uniform(*profile.render[request.duration])
        extend = rng.uniform(*profile.prompt_extend)
        failure = rng.choice(FAILURES)
        gives_up = rng.uniform(0.2, 0.9)  # a failing task gives up part-way through rendering
        if request.resolution == "1080P":
            render *= profile.hd_factor
        if request.multi_shot:
            render *= profile.multi_shot_factor
        if request.prompt_extend:
            render += extend
        kind = scenario.kind if scenario is not None else "succeed"
        if kind == "slow":
            queued, render = queued * SLOW_FACTOR, render * SLOW_FACTOR
        if kind == "stuck":
            return Plan(_STUCK, (0.0, queued))
        if kind == "fail":
            assert scenario is not None
            chosen = scenario.failure or failure
            return Plan(_FAILURE, (0.0, queued, queued + render * gives_up), chosen)
        return Plan(_SUCCESS, (0.0, queued, queued + render))
