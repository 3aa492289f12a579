"""The backend: all of the fake's state and behaviour behind three calls.

HTTP handlers stay thin: they authenticate, parse, call one method here and serialise what it
returns. The backend owns the store, the clock, the planner and the random sources.
"""

from __future__ import annotations

import random

from mockserver.domain.clock import Clock
from mockserver.domain.errors import TaskNotFound, Unauthorized
from mockserver.domain.generation import GenerationRequest
from mockserver.domain.planning import Planner
from mockserver.domain.settings import Settings
from mockserver.domain.store import MemoryStore, TaskStore
from mockserver.domain.tasks import Task, TaskState


class Randomness:
    """Independent random streams, so that (say) tracing never shifts the next task id.

    With a seed every stream is reproducible run to run; without one, ids and trace ids come
    from the operating system's generator.
    """

    def __init__(self, seed: int | None) -> None:
        if seed is None:
            self.ids: random.Random = random.SystemRandom()
            self.plans = random.Random()
            self.traces: random.Random = random.SystemRandom()
        else:
            self.ids = random.Random(f"{seed}/ids")
            self.plans = random.Random(f"{seed}/plans")
            self.traces = random.Random(f"{seed}/traces")


class Backend:
    """Creates tasks and answers for them."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        *,
        store: TaskStore | None = None,
        randomness: Randomness | None = None,
    ) -> None:
        self.settings = settings.validated()
        self.clock = clock
        self.store: TaskStore = store if store is not None else MemoryStore()
        self.random = randomness or Randomness(settings.seed)
        self.planner = Planner(settings, self.random.plans)
        self._keys = frozenset(settings.api_keys)
        self._owners: dict[str, str] = {}

    def authenticate(self, key: str) -> str:
        """Return the canonical owner for an API key, or raise :class:`Unauthorized`."""
        if self._keys and key not in self._keys:
            raise Unauthorized("Invalid API key")
        # One shared string per key, so that many tasks do not each hold a copy of it.
        return self._owners.setdefault(key, key)

    def create_task(self, owner: str, request: GenerationRequest) -> TaskState:
        """Create a task for ``owner``; its whole plan is decided now."""
        task_id = self._new_id()
        now = self.clock.now()
        task = Task(task_id, owner, now, request, self.planner.plan(request))
        self.store.add(task)
        return task.state_at(now)

    def get_task(self, owner: str, task_id: str) -> TaskState:
        """The task's state now; another owner's task is reported exactly like a missing one."""
        task = self.store.get(task_id.lower())  # UUIDs are case-insensitive (RFC 9562)
        if task is None or task.owner != owner:
            raise TaskNotFound(task_id)
        return task.state_at(self.clock.now())

    def result_available(self, task_id: str) -> bool:
        """Whether the task exists and has succeeded, so its video may be downloaded."""
        task = self.store.get(task_id.lower())
        return task is not None and task.state_at(self.clock.now()).succeeded

    def _new_id(self) -> str:
        while True:
            task_id = uuid4_from(self.random.ids.getrandbits(128))
            if task_id not in self.store:
                return task_id


_VERSION_MASK = ~((0xF << 76) | (0xC << 60))
_VERSION_BITS = (0x4 << 76) | (0x8 << 60)


def uuid4_from(bits: int) -> str:
    """A version-4 UUID string from 128 random bits (what ``uuid.UUID(int=..., version=4)``
    gives, without building the object)."""
    h = "%032x" % ((bits & _VERSION_MASK) | _VERSION_BITS)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
