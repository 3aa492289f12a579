"""``Control``: a typed Python client for the fake's control plane (``/_mock/``).

Tests and the pytest plugin use it to move the clock, force outcomes, queue scenarios, change
settings and read the journal of a running fake, over HTTP or any httpx transport::

    with Control("http://127.0.0.1:8000") as mock:
        mock.reset()
        mock.queue("fail:3002", count=3)
        mock.advance(300)
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

import httpx
import msgspec

from mockserver.domain.paths import CONTROL_PREFIX

ADMIN_HEADER = "X-Wan-Mock-Admin-Token"
T = TypeVar("T")


class ClockState(msgspec.Struct, frozen=True):
    mode: str
    now: str
    unix: float
    frozen: bool
    speed: float


class TaskSummary(msgspec.Struct, frozen=True):
    id: str
    owner: str
    status: str
    created_at: str
    updated_at: str
    scenario: str | None
    scenario_source: str | None
    prompt: str


class PlanStep(msgspec.Struct, frozen=True):
    status: str
    at: str


class TaskPlan(msgspec.Struct, frozen=True):
    steps: list[PlanStep]
    failure: dict[str, Any] | None
    finishes: bool


class TaskDetail(TaskSummary, frozen=True):
    request: dict[str, Any]
    plan: TaskPlan
    history: list[PlanStep]


class QueuedScenario(msgspec.Struct, frozen=True):
    scenario: str
    remaining: int


class JournalEntry(msgspec.Struct, frozen=True):
    at: str
    method: str
    path: str
    status: int
    duration_ms: float
    owner: str | None
    headers: tuple[tuple[str, str], ...] = ()  # as received: bounded, credentials redacted
    request_body: str | None = None  # long strings (images) shortened; None: none read
    response_body: str | None = None  # a JSON answer's, shortened the same way


class WebhookEndpoint(msgspec.Struct, frozen=True):
    id: str
    url: str
    events: list[str]
    secret: str  # whole only in the answer that created it; masked in listings
    key: str | None  # the API key's fingerprint, or None for every key
    description: str
    source: str  # "settings" (--webhook) or "control"


class WebhookAttempt(msgspec.Struct, frozen=True):
    """One delivery attempt from the delivery log: the request sent and what came back."""

    delivery_id: str
    event_id: str
    event: str
    task_id: str
    endpoint_id: str
    url: str
    attempt: int
    at: str
    status: int | None
    error: str | None
    duration_ms: float
    # delivered, retry (due again after the backoff), failed (the last), or a fault's own:
    # dropped (never sent), duplicate (the second copy), replayed
    outcome: str
    headers: list[tuple[str, str]]
    body: str
    fault: str | None = None  # the injected fault it carried


class ControlError(RuntimeError):
    """The control plane refused a call; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: Any, call: str) -> None:
        detail = body.get("detail") if isinstance(body, dict) else body
        super().__init__(f"{call} -> HTTP {status}: {detail}")
        self.status = status
        self.body = body


class _Clock(msgspec.Struct):
    clock: ClockState


class _Tasks(msgspec.Struct):
    count: int
    tasks: list[TaskSummary]


class _Queue(msgspec.Struct):
    queue: list[QueuedScenario]


class _Webhooks(msgspec.Struct):
    endpoints: list[WebhookEndpoint]
    deliveries: dict[str, int]


class _Attempts(msgspec.Struct):
    count: int
    attempts: list[WebhookAttempt]


class _Journal(msgspec.Struct):
    count: int
    entries: list[JournalEntry]


class Control:
    """The control plane of one fake, at ``base_url`` (or behind ``transport``)."""

    def __init__(
        self,
        base_url: str,
        *,
        admin_token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        headers = {ADMIN_HEADER: admin_token} if admin_token else {}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + CONTROL_PREFIX,
            headers=headers,
            transport=transport,
            timeout=timeout,
        )

    def __enter__(self) -> Control:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # Health and reset.

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health", dict[str, Any])

    def reset(self) -> ClockState:
        """Back to the start state: no tasks, queue or journal; seeds and virtual clock
        rewound (so ids repeat from the start)."""
        return self._call("POST", "/reset", _Clock).clock

    # Time.

    def clock(self) -> ClockState:
        return self._call("GET", "/clock", _Clock).clock

    def advance(self, seconds: float) -> ClockState:
        """Move the fake's clock forward by ``seconds``."""
        return self._call("POST", "/clock/advance", _Clock, {"seconds": seconds}).clock

    def freeze(self) -> ClockState:
        return self._call("POST", "/clock/freeze", _Clock).clock

    def resume(self) -> ClockState:
        return self._call("POST", "/clock/resume", _Clock).clock

    # Tasks.

    def tasks(
        self, *, status: str | None = None, key: str | None = None, limit: int | None = None
    ) -> list[TaskSummary]:
        """Tasks of every key, oldest first; filter by status or by the creating key."""
        params = {
            name: value
            for name, value in (("status", status), ("key", key), ("limit", limit))
            if value is not None
        }
        return self._call("GET", "/tasks", _Tasks, params=params).tasks

    def task(self, task_id: str) -> TaskDetail:
        """One task with its parsed request, plan and history."""
        return self._call("GET", f"/tasks/{task_id}", TaskDetail)

    def succeed(self, task_id: str) -> str:
        """End the task now as succeeded; returns its new status."""
        return str(self._call("POST", f"/tasks/{task_id}/succeed", dict[str, Any])["status"])

    def fail(self, task_id: str, code: int | str | None = None) -> str:
        """End the task now as failed (with a documented ``code``, or ``"safety"``)."""
        body = {} if code is None else {"code": code}
        return str(self._call("POST", f"/tasks/{task_id}/fail", dict[str, Any], body)["status"])

    def stick(self, task_id: str) -> str:
        """Keep the task running from now on, never finishing; returns its new status."""
        return str(self._call("POST", f"/tasks/{task_id}/stick", dict[str, Any], {})["status"])

    # Scenarios.

    def queue(self, scenario: str, count: int = 1) -> list[QueuedScenario]:
        """The next ``count`` tasks created get ``scenario`` (e.g. ``"fail:3002"``)."""
        body = {"scenario": scenario, "count": count}
        return self._call("POST", "/scenarios", _Queue, body).queue

    def scenarios(self) -> list[QueuedScenario]:
        return self._call("GET", "/scenarios", _Queue).queue

    def clear_scenarios(self) -> None:
        self._call("DELETE", "/scenarios", _Queue)

    # Settings and traffic.

    def settings(self) -> dict[str, Any]:
        return self._call("GET", "/settings", dict[str, Any])

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        """Change settings live (e.g. ``failure_rate=0.5``, ``dialect="legacy"``)."""
        return self._call("PATCH", "/settings", dict[str, Any], changes)

    def journal(self, limit: int | None = None, *, webhooks: bool = False) -> list[JournalEntry]:
        """Recent requests, oldest first; with ``webhooks``, the webhook attempts too (method
        ``WEBHOOK``, the receiver's URL as path)."""
        params: dict[str, Any] = {} if limit is None else {"limit": limit}
        if webhooks:
            params["webhooks"] = 1
        return self._call("GET", "/journal", _Journal, params=params).entries

    # Webhooks.

    def webhooks(self) -> list[WebhookEndpoint]:
        """Every webhook endpoint (secrets masked)."""
        return self._call("GET", "/webhooks", _Webhooks).endpoints

    def add_webhook(
        self,
        url: str,
        events: list[str] | None = None,
        *,
        key: str | None = None,
        description: str = "",
        secret: str | None = None,
    ) -> WebhookEndpoint:
        """Register an endpoint (for every key's tasks, or ``key``'s); the answer holds its
        secret, made up unless given, in full: the only time it is shown."""
        body: dict[str, Any] = {"url": url, "description": description}
        for name, value in (("events", events), ("key", key), ("secret", secret)):
            if value is not None:
                body[name] = value
        return self._call("POST", "/webhooks", WebhookEndpoint, body)

    def delete_webhook(self, endpoint_id: str) -> None:
        self._call("DELETE", f"/webhooks/{endpoint_id}", dict[str, Any])

    def deliveries(
        self, *, event_id: str | None = None, limit: int | None = None
    ) -> list[WebhookAttempt]:
        """The delivery log, oldest first: every attempt, with the request it sent."""
        params = {
            name: value
            for name, value in (("event_id", event_id), ("limit", limit))
            if value is not None
        }
        return self._call("GET", "/webhooks/deliveries", _Attempts, params=params).attempts

    def redeliver(self, event_id: str) -> int:
        """Send one event again, now, to every endpoint it went to; returns the attempts made."""
        found = self._call("POST", f"/webhooks/events/{event_id}/redeliver", dict[str, Any])
        return int(found["attempts"])

    def deliver_due(self) -> int:
        """Make every webhook attempt due now (the clock's ``advance`` does it on its way);
        returns how many were made."""
        return int(self._call("POST", "/webhooks/flush", dict[str, Any])["attempts"])

    def _call(
        self,
        method: str,
        path: str,
        kind: type[T],
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> T:
        if body is None and method != "GET":
            body = {}  # the control plane takes state-changing calls only as JSON
        response = self._http.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            try:
                detail: Any = response.json()
            except ValueError:
                detail = response.text
            raise ControlError(response.status_code, detail, f"{method} {CONTROL_PREFIX}{path}")
        return msgspec.json.decode(response.content, type=kind)
