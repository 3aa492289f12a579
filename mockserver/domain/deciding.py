"""How a new task's scenario is chosen, the first that applies winning: the request's scenario
header, a token in its prompt, the queue of the control plane (this process's, or the one every
process shares, taken from atomically), the settings' rules, then the weighted outcomes."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from mockserver.domain.behaviour import request_facts
from mockserver.domain.errors import InvalidRequest
from mockserver.domain.generation import GenerationRequest
from mockserver.domain.planning import Decision
from mockserver.domain.runtime import Runtime
from mockserver.domain.scenarios import (
    Scenario,
    ScenarioError,
    parse_scenario,
    scenario_in_prompt,
)

MAX_QUEUED = 1_000_000  # tasks one queued scenario may cover


@dataclass(slots=True)
class QueuedScenario:
    """The next ``remaining`` tasks (of any key) get ``scenario``."""

    scenario: Scenario
    remaining: int


def queued(token: str, count: int) -> QueuedScenario:
    """A queue entry from the control plane's input; a bad one is an :class:`InvalidRequest`."""
    if not 1 <= count <= MAX_QUEUED:
        raise InvalidRequest.single("count", "range", f"count: must be 1 to {MAX_QUEUED}")
    try:
        return QueuedScenario(parse_scenario(token), count)
    except ScenarioError as exc:
        raise InvalidRequest.single("scenario", "scenario", f"scenario: {exc}") from None


class Chooser:
    """Chooses each new task's scenario (:meth:`choose`); keeps one :class:`Decision` per
    weighted scenario, since weighted decisions repeat a handful of values."""

    def __init__(self) -> None:
        self._weighted: dict[Scenario, Decision] = {}

    def choose(
        self,
        request: GenerationRequest,
        header: str | None,
        runtime: Runtime,
        queue: deque[QueuedScenario],
        take: Callable[[], str | None] | None,
        *,
        consult: bool = True,
    ) -> Decision | None:
        """The decision for a task of ``request``, or None (it follows its plain plan).

        ``take`` pops the queue every process shares (None: ``queue`` is this process's own);
        without ``consult``, only what the request itself asks for counts (the task is doomed
        for another reason, and must not use up a queued scenario)."""
        if header is not None:
            return Decision(_parse(header, "X-Wan-Mock-Scenario"), "header")
        in_prompt = scenario_in_prompt(request.prompt)
        if in_prompt is not None:
            return Decision(_parse(in_prompt, "prompt"), "prompt")
        if not consult:
            return None
        if queue and take is not None:
            token = take()  # atomic: other processes take from the same queue
            if token is not None:
                return Decision(parse_scenario(token), "queue")
        elif queue:
            head = queue[0]
            head.remaining -= 1
            if head.remaining <= 0:
                queue.popleft()
            return Decision(head.scenario, "queue")
        if runtime.rules:
            facts = request_facts(request)
            for rule, scenario in runtime.rules:
                if rule.matches(facts, request.prompt):
                    return Decision(scenario, "rule")
        weighted = runtime.planner.deck.draw()
        if weighted is None:
            return None
        found = self._weighted.get(weighted)
        if found is None:
            found = self._weighted[weighted] = Decision(weighted, "weights")
        return found


def _parse(token: str, field: str) -> Scenario:
    try:
        return parse_scenario(token)
    except ScenarioError as exc:
        raise InvalidRequest.single(field, "scenario", f"{field}: {exc}") from None
