from __future__ import annotations

import pytest

from mockserver import Failure, Plan, Status
from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.tasks import TRANSITIONS, PlanError, Task

REQUEST = GenerationRequest(prompt="p", image=ImageRef(source="url", url="https://e.com/a.jpg"))
BOOM = Failure(3001, "Task Execution Error", "boom")
SUCCESS = (Status.PENDING, Status.RUNNING, Status.SUCCEEDED)


def test_transition_table_moves_forward_only() -> None:
    assert TRANSITIONS[Status.PENDING] == {Status.RUNNING, Status.FAILED}
    assert TRANSITIONS[Status.RUNNING] == {Status.SUCCEEDED, Status.FAILED}
    assert Status.SUCCEEDED.terminal
    assert Status.FAILED.terminal
    assert not Status.PENDING.terminal


@pytest.mark.parametrize(
    ("statuses", "offsets", "failure", "message"),
    [
        ((Status.RUNNING,), (0.0,), None, "starts pending"),
        ((Status.PENDING, Status.SUCCEEDED), (0.0, 1.0), None, "cannot move"),
        (SUCCESS, (0.0, 2.0, 1.0), None, "must not decrease"),
        (SUCCESS, (0.0, 1.0, 2.0), BOOM, "failure exactly when"),
        ((Status.PENDING, Status.FAILED), (0.0, 1.0), None, "failure exactly when"),
        (SUCCESS, (0.0, 1.0), None, "one offset per status"),
        ((Status.PENDING,), (1.0,), None, "starts pending"),
    ],
)
def test_plans_outside_the_table_are_refused(
    statuses: tuple[Status, ...],
    offsets: tuple[float, ...],
    failure: Failure | None,
    message: str,
) -> None:
    with pytest.raises(PlanError, match=message):
        Plan(statuses, offsets, failure)


def test_state_is_computed_from_the_clock() -> None:
    task = Task("t", "owner", 100.0, REQUEST, Plan(SUCCESS, (0.0, 2.0, 5.0)))
    assert task.state_at(100.0).status is Status.PENDING
    assert task.state_at(101.999).status is Status.PENDING
    running = task.state_at(102.0)
    assert (running.status, running.updated_at) == (Status.RUNNING, 102.0)
    done = task.state_at(1e9)
    assert (done.status, done.updated_at, done.created_at) == (Status.SUCCEEDED, 105.0, 100.0)
    assert done.succeeded
    assert done.failure is None


def test_a_state_before_creation_reads_as_just_created() -> None:
    task = Task("t", "owner", 100.0, REQUEST, Plan(SUCCESS, (0.0, 2.0, 5.0)))
    state = task.state_at(50.0)
    assert (state.status, state.updated_at) == (Status.PENDING, 100.0)


def test_failure_is_reported_only_once_failed() -> None:
    plan = Plan((Status.PENDING, Status.RUNNING, Status.FAILED), (0.0, 1.0, 3.0), BOOM)
    task = Task("t", "owner", 0.0, REQUEST, plan)
    assert task.state_at(2.0).failure is None
    assert task.state_at(3.0).failure == BOOM


def test_a_plan_without_terminal_status_never_finishes() -> None:
    plan = Plan((Status.PENDING, Status.RUNNING), (0.0, 1.0))
    assert not plan.finishes
    assert plan.duration is None
    assert Task("t", "o", 0.0, REQUEST, plan).state_at(1e12).status is Status.RUNNING
