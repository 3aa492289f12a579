"""What the control plane may do that a client may not: see every owner's tasks, end one now,
and queue scenarios for the next tasks. A part of :class:`~mockserver.domain.backend.Backend`
(it reads the backend's store, clock, webhooks, limiter and queue, and follows shared state the
way the backend does), kept apart so that the backend is the client's side."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from mockserver.domain.clock import MockClock
from mockserver.domain.deciding import QueuedScenario, queued
from mockserver.domain.deliveries import Webhooks
from mockserver.domain.errors import InvalidRequest, TaskNotFound
from mockserver.domain.limits import Limiter
from mockserver.domain.store import TaskStore
from mockserver.domain.tasks import Failure, PlanError, Status, Task, TaskState

if TYPE_CHECKING:
    from mockserver.domain.shared import ControlState, Shared


class ControlPowers:
    """The control plane's calls on the backend's state."""

    store: TaskStore
    clock: MockClock
    webhooks: Webhooks
    limiter: Limiter
    queue: deque[QueuedScenario]
    shared: Shared | None
    _adopt: Callable[[ControlState], None]  # the backend's: take on the shared state

    def tasks(self, skipped: list[str] | None = None) -> Iterator[Task]:
        """Every task of every owner, oldest first; the ids of stored rows that cannot be
        read are appended to ``skipped``."""
        return self.store.tasks(skipped)

    def newest(self, skipped: list[str] | None = None) -> Iterator[Task]:
        """Every task, newest first, lazily (a page of them costs a page)."""
        return self.store.newest(skipped)

    def find(self, task_id: str) -> Task:
        """Any owner's task (the control plane sees everything)."""
        task = self.store.get(task_id.lower())
        if task is None:
            raise TaskNotFound(task_id)
        return task

    def force(self, task_id: str, outcome: Status, failure: Failure | None = None) -> TaskState:
        """End a task now, as succeeded or failed, or (``running``) keep it running forever."""
        task = self.find(task_id)
        now = self.clock.now()
        try:
            task.force(outcome, now, failure)
        except PlanError as exc:
            raise InvalidRequest.single("task", "state", str(exc)) from None
        if self.webhooks.active:
            with self.webhooks.atomic():
                self.store.save(task)
                self.webhooks.task_forced(task, now)
        else:
            self.store.save(task)
        if outcome.terminal:
            self.limiter.task_finished(task.owner, task.id, now)
        return task.state_at(now)

    def enqueue(self, token: str, count: int) -> QueuedScenario:
        """The next ``count`` tasks created (by any key) get the scenario ``token``."""
        item = queued(token, count)
        if self.shared is not None:
            self.shared.push(item.scenario.token, count)
            self._adopt(self.shared.load())
        else:
            self.queue.append(item)
        return item

    def clear_queue(self) -> None:
        """Drop every queued scenario."""
        self.queue.clear()
        if self.shared is not None:
            self.shared.clear_queue()
            self._adopt(self.shared.load())
