"""Tasks and their lifecycle: a transition table, a plan decided at creation, and the state at
any moment computed from the clock.

There are no timers. A task's whole future is fixed when it is created (its :class:`Plan`);
asking for its state at time ``t`` just finds the last step at or before ``t``.
"""

from __future__ import annotations

import bisect
import operator
from dataclasses import dataclass
from enum import StrEnum

import msgspec

from mockserver.domain.generation import GenerationRequest


class Status(StrEnum):
    """The fake's canonical status vocabulary (the wire spelling is chosen by the server)."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    # Hashed as the string it equals (Enum hashes its name, in Python, on every set and dict
    # lookup: plans check their path against ALLOWED_PATHS on each create).
    __hash__ = str.__hash__

    @property
    def terminal(self) -> bool:
        return not TRANSITIONS[self]


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.RUNNING, Status.FAILED}),
    Status.RUNNING: frozenset({Status.SUCCEEDED, Status.FAILED}),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
}


def _paths(start: Status) -> frozenset[tuple[Status, ...]]:
    """Every status sequence the table allows from ``start`` (it has no cycles)."""
    found: set[tuple[Status, ...]] = {(start,)}
    for after in TRANSITIONS[start]:
        found |= {(start, *rest) for rest in _paths(after)}
    return frozenset(found)


# Checked against once per plan, instead of walking the table each time.
ALLOWED_PATHS = _paths(Status.PENDING)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a task failed, as the API reports it in ``task_info.error``."""

    code: int
    title: str
    detail: str


class PlanError(ValueError):
    """A plan that the transition table does not allow."""


class Plan(msgspec.Struct, frozen=True):
    """A task's whole future: each status and the offset (seconds after creation) it starts at.

    The first step is always ``pending`` at 0. A plan that does not end in a terminal status
    never finishes (a stuck task). ``failure`` is set exactly when the plan ends in ``failed``.
    """

    statuses: tuple[Status, ...]
    offsets: tuple[float, ...]
    failure: Failure | None = None

    def __post_init__(self) -> None:
        if len(self.statuses) != len(self.offsets) or not self.statuses:
            raise PlanError("a plan needs one offset per status")
        if self.statuses[0] is not Status.PENDING or self.offsets[0] != 0:
            raise PlanError("a plan starts pending at offset 0")
        if self.statuses not in ALLOWED_PATHS:
            steps = " -> ".join(self.statuses)
            raise PlanError(f"{steps}: a status cannot move that way (see TRANSITIONS)")
        if not all(map(operator.le, self.offsets, self.offsets[1:])):
            raise PlanError("offsets must not decrease")
        if (self.statuses[-1] is Status.FAILED) != (self.failure is not None):
            raise PlanError("a plan has a failure exactly when it ends failed")

    @property
    def finishes(self) -> bool:
        return self.statuses[-1].terminal

    @property
    def duration(self) -> float | None:
        """Seconds from creation to the terminal status, or None for a task that never ends."""
        return self.offsets[-1] if self.finishes else None


class TaskState(msgspec.Struct, frozen=True):
    """What a task looks like at one moment: the domain's answer to a poll."""

    id: str
    status: Status
    created_at: float
    updated_at: float
    failure: Failure | None

    @property
    def succeeded(self) -> bool:
        return self.status is Status.SUCCEEDED


class Task(msgspec.Struct):
    """A created task: who owns it, what was asked, its plan and how that was decided.

    ``decision`` is opaque here (the planner's record of the scenario and its source); it is
    None for a task that simply follows the defaults.
    """

    id: str
    owner: str
    created_at: float
    request: GenerationRequest
    plan: Plan
    decision: object | None = None

    def history(self, now: float) -> list[tuple[Status, float]]:
        """Every status the task has had up to ``now``, with the time it started."""
        return [
            (status, self.created_at + offset)
            for status, offset in zip(self.plan.statuses, self.plan.offsets, strict=True)
            if self.created_at + offset <= now or offset == 0
        ]

    def force(self, outcome: Status, now: float, failure: Failure | None = None) -> None:
        """End the task now with ``outcome`` (succeeded or failed), or with ``running`` make
        it run from now on and never finish (stuck), through the transition table: a pending
        task starts running first when asked to succeed."""
        current = self.state_at(now)
        if current.status.terminal:
            raise PlanError(f"task {self.id} has already {current.status.value}")
        past = self.history(now)
        statuses = [status for status, _ in past]
        offsets = [at - self.created_at for _, at in past]
        elapsed = max(now - self.created_at, offsets[-1])
        if outcome is not Status.FAILED and statuses[-1] is Status.PENDING:
            statuses.append(Status.RUNNING)
            offsets.append(elapsed)
        if outcome is not Status.RUNNING:
            statuses.append(outcome)
            offsets.append(elapsed)
        self.plan = Plan(tuple(statuses), tuple(offsets), failure)

    def state_at(self, now: float) -> TaskState:
        """The task's state at ``now``; before creation it is reported as just created."""
        offsets = self.plan.offsets
        index = max(bisect.bisect_right(offsets, now - self.created_at) - 1, 0)
        status = self.plan.statuses[index]
        return TaskState(
            id=self.id,
            status=status,
            created_at=self.created_at,
            updated_at=self.created_at + offsets[index],
            failure=self.plan.failure if status is Status.FAILED else None,
        )
