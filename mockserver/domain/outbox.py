"""The webhook outbox: every delivery owed, and the registered endpoints, in memory or in the
state file.

A task's events are written when the task is created (its plan already says when it will end),
each as one :class:`Delivery` per endpoint with the fake-clock time it is due. A scheduler
asks for what is due (:meth:`WebhookStore.claim`), makes the attempt and saves the outcome.
Claiming leases a delivery for a while of wall time, so that with several workers on one state
file each attempt is made by exactly one of them, and a worker killed mid-attempt only delays
the delivery until its lease runs out.
"""

from __future__ import annotations

import contextlib
import heapq
import sqlite3
from collections.abc import Iterator
from typing import Literal, Protocol

import msgspec

from mockserver.domain.sqlite_store import transaction
from mockserver.domain.webhooks import EventType, WebhookEndpoint

DeliveryState = Literal["pending", "delivered", "failed", "dropped"]
STATES: tuple[DeliveryState, ...] = ("pending", "delivered", "failed", "dropped")


class Delivery(msgspec.Struct, kw_only=True):
    """One event owed to one endpoint, and how far its delivery has got."""

    id: str
    event_id: str
    event: EventType
    task_id: str
    endpoint_id: str
    occurred_at: float  # the fake-clock moment of the transition
    next_at: float  # when the next attempt is due (fake clock)
    attempts: int = 0
    state: DeliveryState = "pending"
    origin: str | None = None  # the base URL result links in the payload use
    fault: str | None = None  # an injected delivery fault (see scenarios), for its next attempt
    signed_at: int | None = None  # the timestamp of the last genuine attempt (a replay's)


class WebhookStore(Protocol):
    """Where deliveries and registered endpoints live."""

    def atomic(self) -> contextlib.AbstractContextManager[object]:
        """A block whose writes (a task and its deliveries) commit together."""

    def endpoints(self) -> list[WebhookEndpoint]: ...

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    def remove_endpoint(self, endpoint_id: str) -> bool: ...

    def add(self, deliveries: list[Delivery]) -> None: ...

    def cancel_unsent(self, task_id: str) -> int:
        """Drop the task's terminal deliveries not attempted yet (its plan changed)."""

    def claim(self, now: float, wall: float, limit: int, lease_until: float) -> list[Delivery]:
        """Up to ``limit`` pending deliveries due at ``now`` and not leased at ``wall``,
        leased until ``lease_until`` (wall time), earliest first."""

    def save(self, delivery: Delivery) -> None:
        """Store a delivery's new state and release its lease."""

    def next_due(self) -> float | None: ...

    def by_event(self, event_id: str) -> list[Delivery]: ...

    def counts(self) -> dict[str, int]: ...

    def purge(self, before: float) -> int:
        """Forget finished deliveries of events older than ``before``."""

    def clear(self) -> None:
        """Forget every delivery and registered endpoint."""


class MemoryWebhooks:
    """The outbox of one process, in dicts."""

    def __init__(self) -> None:
        self._endpoints: dict[str, WebhookEndpoint] = {}
        self._deliveries: dict[str, Delivery] = {}
        # The pending ones again: the scheduler looks at them often, at the rest never.
        self._pending: dict[str, Delivery] = {}
        self._leases: dict[str, float] = {}

    def atomic(self) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext()

    def endpoints(self) -> list[WebhookEndpoint]:
        return list(self._endpoints.values())

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self._endpoints[endpoint.id] = endpoint

    def remove_endpoint(self, endpoint_id: str) -> bool:
        return self._endpoints.pop(endpoint_id, None) is not None

    def add(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            self._deliveries[delivery.id] = delivery
            self._track(delivery)

    def _track(self, delivery: Delivery) -> None:
        if delivery.state == "pending":
            self._pending[delivery.id] = delivery
        else:
            self._pending.pop(delivery.id, None)

    def cancel_unsent(self, task_id: str) -> int:
        gone = [
            d.id
            for d in self._pending.values()
            if d.task_id == task_id and d.event != "task.created" and d.attempts == 0
        ]
        for ident in gone:
            del self._deliveries[ident]
            del self._pending[ident]
        return len(gone)

    def claim(self, now: float, wall: float, limit: int, lease_until: float) -> list[Delivery]:
        due = heapq.nsmallest(  # sorted()[:limit] without sorting a backlog whole
            limit,
            (
                d
                for d in self._pending.values()
                if d.next_at <= now and self._leases.get(d.id, 0) < wall
            ),
            key=lambda d: d.next_at,
        )
        for delivery in due:
            self._leases[delivery.id] = lease_until
        return [msgspec.structs.replace(d) for d in due]

    def save(self, delivery: Delivery) -> None:
        if delivery.id in self._deliveries:  # a reset in between drops it
            self._deliveries[delivery.id] = delivery
            self._track(delivery)
        self._leases.pop(delivery.id, None)

    def next_due(self) -> float | None:
        return min((d.next_at for d in self._pending.values()), default=None)

    def by_event(self, event_id: str) -> list[Delivery]:
        return [d for d in self._deliveries.values() if d.event_id == event_id]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = dict.fromkeys(STATES, 0)
        for delivery in self._deliveries.values():
            found[delivery.state] += 1
        return found

    def purge(self, before: float) -> int:
        gone = [
            d.id
            for d in self._deliveries.values()
            if d.state != "pending" and d.occurred_at < before
        ]
        for ident in gone:
            del self._deliveries[ident]
        return len(gone)

    def clear(self) -> None:
        self._endpoints.clear()
        self._deliveries.clear()
        self._pending.clear()
        self._leases.clear()


_encode = msgspec.msgpack.Encoder().encode
_delivery = msgspec.msgpack.Decoder(Delivery).decode
_endpoint = msgspec.msgpack.Decoder(WebhookEndpoint).decode


class SQLiteWebhooks:
    """The outbox in the state file's ``webhook_deliveries`` and ``webhook_endpoints``
    tables: it survives ``kill -9`` and is shared by every worker."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._depth = 0

    @contextlib.contextmanager
    def _atomic(self) -> Iterator[object]:
        if self._depth:  # already inside one: its commit covers this too
            yield self.conn
            return
        self._depth += 1
        try:
            with transaction(self.conn) as conn:
                yield conn
        finally:
            self._depth -= 1

    def atomic(self) -> contextlib.AbstractContextManager[object]:
        return self._atomic()

    def endpoints(self) -> list[WebhookEndpoint]:
        rows = self.conn.execute("SELECT data FROM webhook_endpoints ORDER BY rowid")
        return [_endpoint(row[0]) for row in rows]

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        with self._atomic():
            self.conn.execute(
                "INSERT INTO webhook_endpoints VALUES (?, ?)", (endpoint.id, _encode(endpoint))
            )
            self.conn.execute("UPDATE control SET version = version + 1 WHERE id = 1")

    def remove_endpoint(self, endpoint_id: str) -> bool:
        with self._atomic():
            gone = self.conn.execute(
                "DELETE FROM webhook_endpoints WHERE id = ?", (endpoint_id,)
            ).rowcount
            self.conn.execute("UPDATE control SET version = version + 1 WHERE id = 1")
        return gone > 0

    def add(self, deliveries: list[Delivery]) -> None:
        rows = [(d.id, d.event_id, d.task_id, d.state, d.next_at, _encode(d)) for d in deliveries]
        with self._atomic():
            self.conn.executemany(
                "INSERT OR REPLACE INTO webhook_deliveries VALUES (?, ?, ?, ?, ?, 0, ?)", rows
            )

    def cancel_unsent(self, task_id: str) -> int:
        with self._atomic():
            rows = self.conn.execute(
                "SELECT id, data FROM webhook_deliveries WHERE task_id = ?", (task_id,)
            ).fetchall()
            gone = [
                ident
                for ident, data in rows
                if (d := _delivery(data)).event != "task.created" and d.attempts == 0
            ]
            self.conn.executemany(
                "DELETE FROM webhook_deliveries WHERE id = ?", [(ident,) for ident in gone]
            )
        return len(gone)

    def claim(self, now: float, wall: float, limit: int, lease_until: float) -> list[Delivery]:
        with self._atomic():
            rows = self.conn.execute(
                "UPDATE webhook_deliveries SET lease = ? WHERE id IN (SELECT id FROM "
                "webhook_deliveries WHERE state = 'pending' AND next_at <= ? AND lease < ? "
                "ORDER BY next_at LIMIT ?) RETURNING data",
                (lease_until, now, wall, limit),
            ).fetchall()
        found = [_delivery(row[0]) for row in rows]
        return sorted(found, key=lambda d: d.next_at)

    def save(self, delivery: Delivery) -> None:
        self.conn.execute(
            "UPDATE webhook_deliveries SET state = ?, next_at = ?, lease = 0, data = ? "
            "WHERE id = ?",
            (delivery.state, delivery.next_at, _encode(delivery), delivery.id),
        )

    def next_due(self) -> float | None:
        row = self.conn.execute(
            "SELECT min(next_at) FROM webhook_deliveries WHERE state = 'pending'"
        ).fetchone()
        found: float | None = row[0]
        return found

    def by_event(self, event_id: str) -> list[Delivery]:
        rows = self.conn.execute(
            "SELECT data FROM webhook_deliveries WHERE event_id = ?", (event_id,)
        )
        return [_delivery(row[0]) for row in rows]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = dict.fromkeys(STATES, 0)
        rows = self.conn.execute("SELECT state, count(*) FROM webhook_deliveries GROUP BY state")
        found.update(dict(rows))
        return found

    def purge(self, before: float) -> int:
        rows = self.conn.execute(
            "SELECT id, data FROM webhook_deliveries WHERE state != 'pending'"
        ).fetchall()
        gone = [(ident,) for ident, data in rows if _delivery(data).occurred_at < before]
        self.conn.executemany("DELETE FROM webhook_deliveries WHERE id = ?", gone)
        return len(gone)

    def clear(self) -> None:
        with self._atomic():
            self.conn.execute("DELETE FROM webhook_deliveries")
            self.conn.execute("DELETE FROM webhook_endpoints")
