"""A hypothesis state machine over the backend: the lifecycle invariants hold for any sequence
of creates, clock moves and polls."""

from __future__ import annotations

from typing import cast

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from mockserver import ManualClock, Settings, Status
from mockserver.domain.backend import Backend
from mockserver.domain.behaviour import Dialect
from mockserver.domain.errors import TaskNotFound
from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.setting_types import Timing
from mockserver.server.dialects import Speaker

RANK = {Status.PENDING: 0, Status.RUNNING: 1, Status.SUCCEEDED: 2, Status.FAILED: 2}

requests = st.builds(
    GenerationRequest,
    prompt=st.text(min_size=1, max_size=20),
    image=st.just(ImageRef(source="url", url="https://example.com/a.jpg")),
    resolution=st.sampled_from(["720P", "1080P"]),
    duration=st.sampled_from([5, 10, 15]),
    prompt_extend=st.booleans(),
    shot_type=st.sampled_from(["single", "multi"]),
)


class Lifecycle(RuleBasedStateMachine):
    tasks = Bundle("tasks")

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.backend = Backend(Settings(seed=0), self.clock)
        self.seen: dict[str, tuple[Status, float]] = {}

    @initialize(
        seed=st.integers(0, 2**32),
        timing=st.sampled_from(["dev", "realistic"]),
        failure_rate=st.sampled_from([0.0, 0.3, 1.0]),
    )
    def configure(self, seed: int, timing: str, failure_rate: float) -> None:
        settings = Settings(seed=seed, timing=cast(Timing, timing), failure_rate=failure_rate)
        self.backend = Backend(settings, self.clock)

    @rule(target=tasks, request=requests, owner=st.sampled_from(["a", "b"]))
    def create(self, request: GenerationRequest, owner: str) -> tuple[str, str]:
        state = self.backend.create_task(owner, request)
        assert state.status is Status.PENDING
        assert state.created_at == state.updated_at == self.clock.now()
        self.seen[state.id] = (state.status, state.updated_at)
        return owner, state.id

    @rule(seconds=st.floats(0, 900, allow_nan=False))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(task=tasks)
    def poll(self, task: tuple[str, str]) -> None:
        owner, task_id = task
        state = self.backend.get_task(owner, task_id)
        before, updated_before = self.seen[task_id]
        # Statuses only move forward, and a terminal status never changes.
        assert RANK[state.status] >= RANK[before]
        if before.terminal:
            assert state.status is before
            assert state.updated_at == updated_before
        # Timestamps are ordered and never in the future.
        assert state.created_at <= state.updated_at <= self.clock.now()
        assert state.updated_at >= updated_before
        if state.status is not before:
            assert state.updated_at > updated_before or state.updated_at == state.created_at
        # `error` exactly when failed, `videos` exactly when succeeded.
        assert (state.failure is not None) == (state.status is Status.FAILED)
        video = "http://fake/v.mp4" if state.succeeded else None
        wire = Speaker(Dialect()).envelope(state, video)
        assert ("videos" in wire) == (state.status is Status.SUCCEEDED)
        assert ("error" in wire["task_info"]) == (state.status is Status.FAILED)
        self.seen[task_id] = (state.status, state.updated_at)

    @rule(task=consumes(tasks))
    def another_owner_gets_not_found(self, task: tuple[str, str]) -> None:
        owner, task_id = task
        with pytest.raises(TaskNotFound):
            self.backend.get_task("b" if owner == "a" else "a", task_id)

    @invariant()
    def time_never_runs_backwards(self) -> None:
        assert all(updated <= self.clock.now() for _, updated in self.seen.values())


TestLifecycle = Lifecycle.TestCase
