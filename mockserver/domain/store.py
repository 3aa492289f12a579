"""Where tasks live. One interface; the in-memory store is the default implementation.

Kept deliberately small (add, get, count, clear) so that a durable or shared store can stand in
for it without the backend changing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from mockserver.domain.tasks import Task


class TaskStore(Protocol):
    """The storage interface the backend depends on."""

    def add(self, task: Task) -> None:
        """Store a new task; its id must not exist yet."""

    def get(self, task_id: str) -> Task | None:
        """The task with this id, or None."""

    def __contains__(self, task_id: object) -> bool: ...

    def tasks(self) -> Iterator[Task]:
        """Every task, oldest first."""

    def __len__(self) -> int: ...

    def clear(self) -> None:
        """Forget every task."""


class MemoryStore:
    """Tasks in a dict, for a single process."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def add(self, task: Task) -> None:
        if task.id in self._tasks:
            raise KeyError(f"task {task.id} already exists")
        self._tasks[task.id] = task

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._tasks

    def tasks(self) -> Iterator[Task]:
        return iter(list(self._tasks.values()))

    def __len__(self) -> int:
        return len(self._tasks)

    def clear(self) -> None:
        self._tasks.clear()
