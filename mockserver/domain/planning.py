"""Deciding a task's plan at creation: how long it queues, how long it renders, how it ends.

All randomness comes from the ``random.Random`` handed in, so a seeded fake makes the same
plans for the same requests in the same order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mockserver.domain.generation import GenerationRequest
from mockserver.domain.settings import Settings, Timing
from mockserver.domain.tasks import Failure, Plan, Status

# The documented task failure codes. 3001-3005: the upstream model provider could not complete
# the task; 4002 and 4008: MuleRouter itself failed while running it. Titles for 3001 and 3005
# are the ones seen publicly; the rest are written in the same voice.
FAILURES: tuple[Failure, ...] = (
    Failure(3001, "Task Execution Error", "Video generation failed: Invalid image dimensions"),
    Failure(3002, "Task Execution Error", "Video generation failed: the model provider timed out"),
    Failure(
        3003, "Task Execution Error", "Video generation failed: the input image could not be read"
    ),
    Failure(3004, "Task Execution Error", "Video generation failed: the model provider is busy"),
    Failure(
        3005,
        "External service execution failed",
        "The prompt or image did not pass the provider's content inspection",
    ),
    Failure(4002, "Internal Error", "A MuleRouter error occurred while running the task"),
    Failure(4008, "Internal Error", "MuleRouter could not store the task result"),
)

_SUCCESS = (Status.PENDING, Status.RUNNING, Status.SUCCEEDED)
_FAILURE = (Status.PENDING, Status.RUNNING, Status.FAILED)


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


class Planner:
    """Makes plans from the settings and a random source."""

    def __init__(self, settings: Settings, rng: random.Random) -> None:
        self.profile = PROFILES[settings.timing]
        self.failure_rate = settings.failure_rate
        self._rng = rng

    def plan(self, request: GenerationRequest) -> Plan:
        rng, profile = self._rng, self.profile
        queued = rng.uniform(*profile.queue)
        render = rng.uniform(*profile.render[request.duration])
        if request.resolution == "1080P":
            render *= profile.hd_factor
        if request.multi_shot:
            render *= profile.multi_shot_factor
        if request.prompt_extend:
            render += rng.uniform(*profile.prompt_extend)
        # Draw the outcome even when the rate is 0, so that changing the rate does not shift
        # every later task's timings.
        fails = rng.random() < self.failure_rate
        failure = rng.choice(FAILURES)
        gives_up = rng.uniform(0.2, 0.9)  # a failing task gives up part-way through rendering
        if fails:
            return Plan(_FAILURE, (0.0, queued, queued + render * gives_up), failure)
        return Plan(_SUCCESS, (0.0, queued, queued + render))
