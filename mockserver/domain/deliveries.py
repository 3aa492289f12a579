"""What the backend knows about webhooks: the endpoints, the deliveries a task owes, when each
attempt is due, and the log of attempts made.

Nothing here sends anything or waits: a task's deliveries are written when it is created (its
plan says when it ends), and a scheduler in the server layer asks :meth:`Webhooks.claim` what
is due on the fake's clock, sends it, and reports with :meth:`Webhooks.record`. A failed
attempt is due again after ``webhook_backoff`` seconds, doubling each time, until
``webhook_attempts`` were made; then the delivery is failed.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import secrets
from collections import deque
from collections.abc import Callable
from typing import Literal

import msgspec

from mockserver.domain.errors import InvalidRequest, WebhookNotFound
from mockserver.domain.outbox import Delivery, WebhookStore
from mockserver.domain.settings import Settings
from mockserver.domain.tasks import Task
from mockserver.domain.webhooks import (
    EVENTS,
    TERMINAL_EVENTS,
    EventType,
    WebhookEndpoint,
    WebhookFaults,
    check_endpoint,
    crowded_entry,
    endpoint_specs,
    event_id,
    new_secret,
)

Outcome = Literal["delivered", "retry", "failed", "dropped", "duplicate", "replayed"]
CLAIM_BATCH = 64
DELAY_S = 60.0  # the delay fault: each event this late (fake seconds)
REPLAY_AFTER_S = 600.0  # the replay fault: the event again this long after its delivery
STALE_S = 600  # the stale fault: the timestamp this much older than the attempt


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery attempt, as the delivery log shows it."""

    delivery_id: str
    event_id: str
    event: EventType
    task_id: str
    endpoint_id: str
    url: str
    attempt: int
    at: float  # the fake's clock when it was sent
    status: int | None  # the receiver's answer; None when there was none
    error: str | None  # why there was no answer (timeout, refused), or a fault's name
    duration_ms: float
    outcome: Outcome
    fault: str | None = None  # the injected fault this attempt carried
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""


class Webhooks:
    """The endpoints (from the settings and registered live), the outbox and the log."""

    def __init__(
        self,
        store: WebhookStore,
        settings: Settings,
        secret: str,
        rng: Callable[[], random.Random] = random.Random,
    ) -> None:
        self.store = store
        self._rng = rng  # the seeded stream the fault rates are drawn from
        self.log: deque[Attempt] = deque(maxlen=settings.webhook_log_size)
        self._secret = secret  # of the endpoints the settings name, when they name none
        self._from_settings: tuple[WebhookEndpoint, ...] = ()
        self._registered: list[WebhookEndpoint] = []
        self.listeners: list[Callable[[], None]] = []  # told when something may be due now
        self.configure(settings)
        self.reload()

    def configure(self, settings: Settings) -> None:
        self._settings = settings
        secret = settings.webhook_secret or self._secret
        self._from_settings = tuple(
            WebhookEndpoint(
                id=f"we_settings_{n}",
                url=spec.url,
                events=tuple(e for e in EVENTS if e in spec.events),
                secret=spec.secret or secret,
                key=spec.key,
                description=spec.description,
                source="settings",
            )
            for n, spec in enumerate(endpoint_specs(settings.webhooks), 1)
        )
        if self.log.maxlen != settings.webhook_log_size:
            self.log = deque(self.log, maxlen=settings.webhook_log_size)

    def reload(self) -> None:
        """Read the registered endpoints again (another worker may have changed them)."""
        self._registered = self.store.endpoints()

    @property
    def active(self) -> bool:
        return bool(self._from_settings or self._registered)

    def endpoints(self) -> list[WebhookEndpoint]:
        return [*self._from_settings, *self._registered]

    def endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        for endpoint in self.endpoints():
            if endpoint.id == endpoint_id:
                return endpoint
        raise WebhookNotFound(f"no webhook endpoint {endpoint_id}")

    def register(
        self,
        url: object,
        events: object = EVENTS,
        key: object = None,
        description: object = "",
        secret: object = None,
    ) -> WebhookEndpoint:
        """A new endpoint (raises InvalidRequest naming each broken rule)."""
        found = check_endpoint(url, events, description, key, secret)
        if found:
            raise InvalidRequest(found)
        assert isinstance(url, str)
        assert isinstance(description, str)
        heard = [e for e in EVENTS if e in events]  # type: ignore[operator]
        endpoint = WebhookEndpoint(
            id="we_" + secrets.token_hex(8),
            url=url,
            events=tuple(heard),
            secret=secret if isinstance(secret, str) else new_secret(),
            key=key if isinstance(key, str) else None,
            description=description,
        )
        self._check_room(endpoint.key)
        self.store.add_endpoint(endpoint)
        self.reload()
        return endpoint

    def remove(self, endpoint_id: str) -> None:
        if endpoint_id.startswith("we_settings_"):
            raise InvalidRequest.single(
                "id", "settings", f"{endpoint_id} comes from the settings (webhooks): change them"
            )
        if not self.store.remove_endpoint(endpoint_id):
            raise WebhookNotFound(f"no webhook endpoint {endpoint_id}")
        self.reload()

    def _check_room(self, key: str | None) -> None:
        held = [e.key for e in self.endpoints()]
        if key is not None:  # another key's endpoints leave this one's room alone
            held = [k for k in held if k is None or k == key]
        crowded = crowded_entry([*held, key])
        if crowded is not None:
            raise InvalidRequest.single("url", "limit", crowded[1])

    # Deliveries.

    def atomic(self) -> contextlib.AbstractContextManager[object]:
        return self.store.atomic()

    def task_created(self, task: Task, origin: str | None) -> None:
        """Owe the task's events: ``task.created`` now, its end when its plan says."""
        events: list[tuple[EventType, float]] = [("task.created", task.created_at)]
        duration = task.plan.duration
        if duration is not None:
            events.append((TERMINAL_EVENTS[task.plan.statuses[-1]], task.created_at + duration))
        self._owe(task, events, origin, self._fault(task))

    def _fault(self, task: Task) -> str | None:
        """The task's delivery fault: its scenario's, else drawn by the rates (seeded)."""
        decision = task.decision
        scenario = getattr(decision, "scenario", None)
        if scenario is not None and scenario.kind == "webhook":
            hook: str | None = scenario.hook
            return hook
        faults = self._settings.webhook_faults
        if faults == NO_FAULTS:
            return None
        return faults.draw(self._rng())

    def task_forced(self, task: Task, now: float, origin: str | None = None) -> None:
        """The task's end moved to ``now``: its unsent terminal deliveries are replaced."""
        self.store.cancel_unsent(task.id)
        final = task.plan.statuses[-1]
        if final in TERMINAL_EVENTS:
            self._owe(task, [(TERMINAL_EVENTS[final], now)], origin)

    def _owe(
        self,
        task: Task,
        events: list[tuple[EventType, float]],
        origin: str | None,
        fault: str | None = None,
    ) -> None:
        last = max(at for _, at in events)
        deliveries = [
            Delivery(
                id=_delivery_id(ident, endpoint.id),
                event_id=ident,
                event=event,
                task_id=task.id,
                endpoint_id=endpoint.id,
                occurred_at=at,
                next_at=_due(event, at, last, fault),
                origin=origin,
                fault=fault,
            )
            for event, at in events
            for ident in (event_id(task.id, event),)
            for endpoint in self.endpoints()
            if endpoint.hears(task.owner, event)
        ]
        if deliveries:
            self.store.add(deliveries)
            self.notify()

    def notify(self) -> None:
        for listener in self.listeners:
            listener()

    def claim(self, now: float, wall: float, limit: int = CLAIM_BATCH) -> list[Delivery]:
        """Deliveries due at ``now``, leased to the caller for the receiver's timeout and a
        margin (wall seconds)."""
        due = self.store.next_due()  # a read: no write lock taken when nothing is due
        if due is None or due > now:
            return []
        lease = wall + self._settings.webhook_timeout + 5.0
        return self.store.claim(now, wall, limit, lease)

    def record(self, delivery: Delivery, attempt: Attempt, now: float) -> Delivery:
        """Keep the attempt in the log and move the delivery on: delivered, due again after
        the backoff, or failed after the last attempt."""
        self.log.append(attempt)
        if attempt.outcome in ("dropped", "replayed"):  # a fault's own end, not an attempt
            delivery.state = "dropped" if attempt.outcome == "dropped" else "delivered"
            delivery.fault = None
            self.store.save(delivery)
            return delivery
        delivery.attempts += 1
        if delivery.fault != "replay":  # the other faults shape the first attempt only
            delivery.fault = None
        if attempt.outcome == "delivered" and delivery.fault == "replay":
            delivery.fault, delivery.next_at = "replaying", now + REPLAY_AFTER_S
        elif attempt.outcome == "delivered":
            delivery.state = "delivered"
        elif attempt.outcome == "failed" or delivery.attempts >= self._settings.webhook_attempts:
            delivery.state = "failed"
        else:
            delivery.next_at = now + self.backoff(delivery.attempts)
        self.store.save(delivery)
        return delivery

    def outcome_of(self, delivery: Delivery, status: int | None) -> Outcome:
        if status is not None and 200 <= status < 300:
            return "delivered"
        last = delivery.attempts + 1 >= self._settings.webhook_attempts
        return "failed" if last else "retry"

    def backoff(self, attempts: int) -> float:
        """Fake seconds after the ``attempts``-th failed attempt until the next one."""
        return float(self._settings.webhook_backoff * 2 ** (attempts - 1))

    def redeliver(self, ident: str, now: float) -> list[Delivery]:
        """Send one event again to every endpoint it went to, now, with a fresh round of
        attempts (the event id stays)."""
        found = self.store.by_event(ident)
        if not found:
            raise WebhookNotFound(f"no webhook event {ident}")
        for delivery in found:
            delivery.state, delivery.next_at, delivery.attempts = "pending", now, 0
            self.store.save(delivery)
        self.notify()
        return found

    def next_due(self) -> float | None:
        return self.store.next_due()

    def purge(self, before: float) -> int:
        return self.store.purge(before)

    def reset(self) -> None:
        self.store.clear()
        self.log.clear()
        self.reload()


NO_FAULTS = WebhookFaults()


def _due(event: EventType, at: float, last: float, fault: str | None) -> float:
    """When an event's first attempt is due: at its moment, unless a fault moves it."""
    if fault == "delay":
        return at + DELAY_S
    if fault == "out-of-order" and event == "task.created":
        return (last if last > at else at + DELAY_S) + 1.0  # after the end (or much later)
    return at


def _delivery_id(ident: str, endpoint_id: str) -> str:
    return "dlv_" + hashlib.sha256(f"{ident}/{endpoint_id}".encode()).hexdigest()[:24]
