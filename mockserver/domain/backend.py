"""The backend: all of the fake's state and behaviour behind a few calls.

HTTP handlers stay thin: they authenticate, parse, call one method here and serialise what it
returns. The backend owns the store, the clock, the planner, the scenario queue and the random
sources; the control plane drives it through the same methods.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, overload

from typing_extensions import TypeVar

from mockserver.domain.clock import MockClock
from mockserver.domain.deciding import Chooser, QueuedScenario
from mockserver.domain.deliveries import Webhooks
from mockserver.domain.errors import (
    ResultExpired,
    ResultNotFound,
    ScenarioRejection,
    TaskNotFound,
    TransientPollError,
    Unauthorized,
)
from mockserver.domain.generation import GenerationRequest
from mockserver.domain.journal import Journal, Journals
from mockserver.domain.limits import Limiter, RateLimiter
from mockserver.domain.links import ResultLinks, new_secret
from mockserver.domain.outbox import MemoryWebhooks
from mockserver.domain.planning import Decision
from mockserver.domain.powers import ControlPowers
from mockserver.domain.randomness import Randomness, uuid4_from
from mockserver.domain.reachability import InputProblem, unreachable_input
from mockserver.domain.runtime import Runtime, RuntimeBuilder
from mockserver.domain.scenarios import (
    FAILURES,
    Scenario,
    parse_scenario,
)
from mockserver.domain.settings import Settings
from mockserver.domain.store import MemoryStore, TaskStore
from mockserver.domain.tasks import Failure, Task, TaskState
from mockserver.domain.webhooks import new_secret as new_webhook_secret

if TYPE_CHECKING:
    from mockserver.domain.shared import ControlState, Shared

# Tasks past their retention are purged every this many creates (and at start), never by a
# timer: one range delete, or a scan of the oldest in-memory tasks, per thousand creates.
PURGE_EVERY = 1000
OWNER_CACHE = 10_000

# Backend on its own makes a plain Runtime; the server passes a builder of its extension.
RT = TypeVar("RT", bound=Runtime, default=Runtime, covariant=True)


class ImageKeeper(Protocol):
    """Where a new task's input images go (the media layer keeps them for its video)."""

    def keep_images(self, images: Mapping[str, bytes]) -> None: ...


class Backend(ControlPowers, Generic[RT]):
    """Creates tasks and answers for them (and, through :class:`ControlPowers`, lets the
    control plane reach every task and the scenario queue)."""

    _runtime: RT

    @overload
    def __init__(
        self: Backend[Runtime],
        settings: Settings,
        clock: MockClock,
        *,
        store: TaskStore | None = None,
        randomness: Randomness | None = None,
        shared: Shared | None = None,
        images: ImageKeeper | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        settings: Settings,
        clock: MockClock,
        *,
        build: RuntimeBuilder[RT],
        store: TaskStore | None = None,
        randomness: Randomness | None = None,
        shared: Shared | None = None,
        images: ImageKeeper | None = None,
    ) -> None: ...

    def __init__(
        self,
        settings: Settings,
        clock: MockClock,
        *,
        build: Any = Runtime.build,
        store: TaskStore | None = None,
        randomness: Randomness | None = None,
        shared: Shared | None = None,
        images: ImageKeeper | None = None,
    ) -> None:
        self.shared: Shared | None = None  # joined below, once everything else is set
        self.clock = clock
        self.store: TaskStore = store if store is not None else MemoryStore()
        self.random = randomness or Randomness(settings.seed)
        self.queue: deque[QueuedScenario] = deque()
        self.journal: Journals = (
            shared.journal(settings.journal_size)
            if shared is not None
            else Journal(settings.journal_size)
        )
        self.limiter: Limiter = (
            shared.limiter(settings.limits) if shared is not None else RateLimiter(settings.limits)
        )
        self._build: RuntimeBuilder[RT] = build
        self._images = images
        self._owners: dict[str, str] = {}
        self._chooser = Chooser()
        self._apply(settings, reseed=False)
        self.initial_settings = self.settings
        self._creates = 0
        self._version = self._epoch = -1
        # Never from the seed: a seed must not let anyone work out another key's links.
        secret = shared.secret("links", new_secret) if shared is not None else new_secret()
        self.links = ResultLinks(secret)
        # The outbox lives with the tasks: in the state file when there is one.
        hook_secret = (
            shared.secret("webhooks", lambda: new_webhook_secret().encode()).decode()
            if shared is not None
            else new_webhook_secret()
        )
        outbox = shared.outbox() if shared is not None else MemoryWebhooks()
        self.webhooks = Webhooks(outbox, self.settings, hook_secret, lambda: self.random.webhooks)
        if shared is not None:
            self.shared = shared
            self.random.unpredictable_ids()  # see _apply
            self._adopt(shared.join(self.initial_settings, clock.snapshot()))
        self.purge()

    @property
    def runtime(self) -> RT:
        """What the current settings make; replaced whole, never changed in place."""
        return self._runtime

    @property
    def settings(self) -> Settings:
        return self._runtime.settings

    def configure(self, settings: Settings) -> None:
        """Apply new settings, all checked before any is applied (raises SettingsError);
        tasks already made keep their plans. A new seed rewinds the random streams to it."""
        self._apply(settings, reseed=settings.seed != self.settings.seed)
        self.publish()

    def reset(self) -> None:
        """Back to the start state: the settings the fake started with, no tasks, no queued
        scenarios, an empty journal, random streams and the virtual clock rewound."""
        self.store.clear()
        self.webhooks.reset()
        self.queue.clear()
        self.journal.clear()
        self.limiter.reset()
        self.clock.reset()
        self._apply(self.initial_settings, reseed=True)
        if self.shared is not None:
            self.shared.reset(self.settings, self.clock.snapshot())
            self._adopt(self.shared.load())

    # The clock, as the control plane moves it: every worker sharing state moves too.

    def advance(self, seconds: float) -> None:
        """Move the clock forward (raises ValueError on a real clock that cannot)."""
        self.clock.advance(seconds)
        self.publish()

    def freeze(self) -> None:
        self.clock.freeze()
        self.publish()

    def resume(self) -> None:
        self.clock.resume()
        self.publish()

    def _apply(self, settings: Settings, *, reseed: bool) -> None:
        """Build the runtime for ``settings`` (everything checked first: raises SettingsError
        or ScenarioError and changes nothing) and swap it in."""
        checked = settings.validated()
        for rule in checked.rules:
            parse_scenario(rule.scenario)
        if reseed:
            self.random.reseed(checked.seed)
            if self.shared is not None:
                # Workers share one seed but not one stream: seeded ids would collide.
                self.random.unpredictable_ids()
        previous = getattr(self, "_runtime", None)  # none yet while the backend is being made
        self._runtime = self._build(checked, self.random, previous)
        self.limiter.configure(checked.limits)
        self.journal.resize(checked.journal_size)
        if hasattr(self, "webhooks"):  # made after the first runtime
            self.webhooks.configure(checked)

    def authenticate(self, key: str) -> str:
        """Return the canonical owner for an API key, or raise :class:`Unauthorized`."""
        keys = self.runtime.keys
        if keys and key not in keys:
            raise Unauthorized("Invalid API key")
        # One shared string per key, so that many tasks do not each hold a copy of it. A stream
        # of one-off keys (a fuzzer, a leaky client) must not grow the table forever: past
        # OWNER_CACHE keys it starts again (tasks keep the strings they already hold).
        owner = self._owners.setdefault(key, key)
        if len(self._owners) > OWNER_CACHE:
            self._owners.clear()
        return owner

    def admit(self, owner: str) -> None:
        """Raise :class:`LimitExceeded` if ``owner`` may not submit a task now (checked again
        by :meth:`create_task`): a refused create must not download its inputs first."""
        self.limiter.check_submission(owner, self.clock.now())

    def create_task(
        self,
        owner: str,
        request: GenerationRequest,
        scenario: str | None = None,
        images: Mapping[str, bytes] | None = None,
        origin: str | None = None,
        problem: InputProblem | None = None,
    ) -> TaskState:
        """Create a task for ``owner``; its whole plan is decided now.

        ``scenario`` is the token the client sent in the scenario header, if any. A ``reject``
        scenario raises :class:`ScenarioRejection` and creates nothing. ``images`` are the
        decoded input images by digest: kept for the task's video once the task exists.
        ``origin`` is the base URL the client called (for result links in webhook events).
        ``problem`` is why an input could not be downloaded (when the caller fetched them).
        A task whose input the real service could not read (that, or a URL it could not
        reach: see domain/reachability.py) is accepted and fails at its planned time.
        """
        now = self.clock.now()
        # Checked before anything random is drawn, so a refused request shifts no seeded
        # stream; raises LimitExceeded (a 429).
        self.limiter.check_submission(owner, now)
        settings = self.settings
        if problem is None and settings.dialect.unreachable_urls == "fail":
            problem = unreachable_input(request, loopback=settings.allow_private_urls)
        # A task doomed by its input takes nothing from the queue, the rules or the weights.
        take = self.shared.take if self.shared is not None else None
        decision = self._chooser.choose(
            request, scenario, self.runtime, self.queue, take, consult=problem is None
        )
        chosen = decision.scenario if decision else None
        if chosen is not None and chosen.kind == "reject":
            assert chosen.status is not None
            raise ScenarioRejection(chosen.status)
        if problem is not None:
            chosen = Scenario("fail", failure=self._input_failure(problem))
            decision = Decision(chosen, "input")
        task_id = self._new_id()
        plan = self.runtime.planner.plan(request, chosen)
        task = Task(task_id, owner, now, request, plan, decision)
        duration = task.plan.duration
        finishes_at = None if duration is None else now + duration
        # Counted before it is stored: a limiter shared by replicas decides again here, in one
        # atomic step, and a task that then fails to be stored is taken back.
        self.limiter.record_submission(owner, task_id, now, finishes_at)
        try:
            if self.webhooks.active:  # the task and the events it owes commit together
                with self.webhooks.atomic():
                    self.store.add(task)
                    self.webhooks.task_created(task, origin)
            else:
                self.store.add(task)
        except BaseException:
            self.limiter.cancel_submission(owner, task_id)
            raise
        if images and self._images is not None:
            self._images.keep_images(images)
        self._creates += 1
        if self._creates >= PURGE_EVERY:
            self.purge()
        return task.state_at(now)

    def get_task(self, owner: str, task_id: str) -> TaskState:
        """The task's state now; another owner's task is reported exactly like a missing one."""
        now = self.clock.now()
        self.limiter.check_poll(owner, now)
        task = self.store.get(task_id.lower())  # UUIDs are case-insensitive (RFC 9562)
        if task is None or task.owner != owner:
            raise TaskNotFound(task_id)
        state = task.state_at(now)
        decision = task.decision
        if (
            isinstance(decision, Decision)
            and decision.scenario.kind == "poll-error"
            and not state.status.terminal
        ):
            assert decision.scenario.status is not None
            raise TransientPollError(decision.scenario.status)
        return state

    def result(self, task_id: str, token: str) -> tuple[Task, TaskState]:
        """A succeeded task whose result link (``token`` included) is still valid; raises
        :class:`ResultNotFound` (a wrong token exactly like an unknown task, so a guess learns
        nothing) or :class:`ResultExpired` (links live ``result_ttl`` seconds of the fake's
        clock from the moment the task succeeded, as the real result URLs are temporary)."""
        if not self.links.valid(task_id, token):
            raise ResultNotFound(f"No result video for task {task_id}")
        task = self.store.get(task_id.lower())
        now = self.clock.now()
        state = task.state_at(now) if task is not None else None
        if task is None or state is None or not state.succeeded:
            raise ResultNotFound(f"No result video for task {task_id}")
        expires = state.updated_at + self.settings.result_ttl
        if now >= expires:
            raise ResultExpired(expires)
        return task, state

    def purge(self) -> int:
        """Forget tasks past their retention (``task_retention`` seconds of the fake's clock
        after they finished); returns how many went."""
        self._creates = 0
        before = self.clock.now() - self.settings.task_retention
        self.webhooks.purge(before)
        return self.store.purge(before)

    # Several processes over one state file (``shared``); all no-ops without one.

    def sync(self) -> None:
        """Adopt what another process changed (settings, clock, queue, a reset) since this one
        last looked: one cheap version read when nothing changed. Called before each request."""
        if self.shared is not None and self.shared.version() != self._version:
            self._adopt(self.shared.load())

    def publish(self) -> None:
        """Make this process's settings and clock every process's (after the control plane
        changed them here)."""
        if self.shared is not None:
            self.shared.publish(self.settings, self.clock.snapshot())
            self._adopt(self.shared.load())

    def _adopt(self, state: ControlState) -> None:
        if state.epoch != self._epoch:
            if self._epoch != -1:  # another process reset: drop what only this one keeps
                self.journal.clear()
                self.webhooks.log.clear()
                self.limiter.reset()
                self.clock.reset()
                self._apply(state.settings, reseed=True)
            self._epoch = state.epoch
        if state.settings != self.settings:
            self._apply(state.settings, reseed=state.settings.seed != self.settings.seed)
        self.clock.restore(state.clock)
        self.webhooks.reload()
        self.queue = deque(
            QueuedScenario(parse_scenario(token), remaining) for token, remaining in state.queue
        )
        self._version = state.version

    def _input_failure(self, problem: InputProblem) -> Failure:
        code = problem.code or self.settings.dialect.unreadable_input
        title = FAILURES[code].title
        return Failure(code, title, f"Video generation failed: {problem.detail}")

    def _new_id(self) -> str:
        while True:
            task_id = uuid4_from(self.random.ids.getrandbits(128))
            # With shared state ids come from the OS generator (122 random bits), and the store
            # refuses a duplicate anyway: no lookup (a round trip to Redis) per create. A seeded
            # stream repeats itself after a restart, so its ids are checked.
            if self.shared is not None or task_id not in self.store:
                return task_id
