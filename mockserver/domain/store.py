"""Where tasks live. One interface; the in-memory store is the default implementation.

Kept deliberately small (add, get, save, count, iterate both ways, purge, clear, close) so
that a durable or shared store can stand in for it without the backend changing:
``sqlite_store.py`` holds the SQLite one, ``redis_store.py`` the Redis one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from mockserver.domain.tasks import Task


class TaskStore(Protocol):
    """The storage interface the backend depends on."""

    def add(self, task: Task) -> None:
        """Store a new task; its id must not exist yet (raises ``KeyError``). A durable store
        has it on disk when this returns, so the create can be acknowledged."""

    def get(self, task_id: str) -> Task | None:
        """The task with this id, or None."""

    def save(self, task: Task) -> None:
        """Store a task again after its plan changed (``Task.force``)."""

    def __contains__(self, task_id: object) -> bool: ...

    def tasks(self, skipped: list[str] | None = None) -> Iterator[Task]:
        """Every task, oldest first. A durable store skips a row it cannot decode, appending
        its id to ``skipped`` (when given)."""

    def newest(self, skipped: list[str] | None = None) -> Iterator[Task]:
        """Every task, newest first, lazily: taking the first ``n`` costs ``n`` tasks, not
        all of them. Consume it before the store changes."""

    def __len__(self) -> int: ...

    def purge(self, before: float) -> int:
        """Forget tasks that finished (or, never finishing, were created) before ``before``;
        returns how many went."""

    def clear(self) -> None:
        """Forget every task."""

    def close(self) -> None:
        """Release the store (flushes a durable one); it is not used afterwards."""


class ImageShelf(Protocol):
    """Input images kept where every replica finds them (by digest), for replicas that share
    no disk: a task's video can then be drawn by any of them."""

    def keep(self, images: Mapping[str, bytes]) -> None: ...

    def image(self, digest: str) -> bytes | None: ...


def retired_at(task: Task) -> float:
    """When a task's retention starts: when it finishes, or when it was created if it never
    does (a stuck task is kept as long after creation as a finished one after finishing)."""
    duration = task.plan.duration
    return task.created_at + (duration if duration is not None else 0.0)


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

    def save(self, task: Task) -> None:
        # The dict holds the very object that was changed: nothing to write.
        self._tasks[task.id] = task

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._tasks

    def tasks(self, skipped: list[str] | None = None) -> Iterator[Task]:
        return iter(list(self._tasks.values()))  # nothing to skip: every task is an object

    def newest(self, skipped: list[str] | None = None) -> Iterator[Task]:
        return reversed(self._tasks.values())  # a view: no copy of every task

    def __len__(self) -> int:
        return len(self._tasks)

    def purge(self, before: float) -> int:
        # Oldest first (insertion order follows the clock, which a reset rewinds only after
        # clearing): a task created at or after ``before`` cannot have retired before it, so
        # the scan stops there instead of walking every task.
        gone = []
        for task in self._tasks.values():
            if task.created_at >= before:
                break
            if retired_at(task) < before:
                gone.append(task.id)
        for task_id in gone:
            del self._tasks[task_id]
        return len(gone)

    def clear(self) -> None:
        self._tasks.clear()

    def close(self) -> None:
        """Nothing to flush: the tasks go with the process."""
