"""The webhook outbox in Redis, shared by every replica (see domain/outbox.py for what it does).

Keys under the prefix's ``hooks:``: ``deliveries`` (a hash, id to msgpack), ``pending`` (the
pending ones by due time, a sorted set), ``leases`` (id to the wall time its lease ends),
``task:<id>`` and ``event:<id>`` (sets of delivery ids), and the registered endpoints
(``endpoints``, a hash, with ``endpoint-order``, a list). Claiming is one Lua script, so each
attempt is made by one replica; a replica killed mid-attempt only delays the delivery until
its lease runs out. Registering or removing an endpoint bumps the control version, so other
replicas reload the endpoints before their next answer.

A task and the events it owes are two writes here (the task first): a replica killed between
them never acknowledged the create, and leaves a task its client never heard of, without
events.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import msgspec

from mockserver.domain.outbox import STATES, Delivery
from mockserver.domain.redis_store import PAGE, RedisLink, blob, matching, text
from mockserver.domain.webhooks import WebhookEndpoint

_encode = msgspec.msgpack.Encoder().encode
_delivery = msgspec.msgpack.Decoder(Delivery).decode
_endpoint = msgspec.msgpack.Decoder(WebhookEndpoint).decode

# KEYS: pending, leases, deliveries. ARGV: now, wall, limit, lease_until.
_CLAIM = """
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE')
local found = {}
for _, id in ipairs(due) do
  if #found >= tonumber(ARGV[3]) then break end
  local lease = tonumber(redis.call('HGET', KEYS[2], id) or '0')
  if lease < tonumber(ARGV[2]) then
    redis.call('HSET', KEYS[2], id, ARGV[4])
    local data = redis.call('HGET', KEYS[3], id)
    if data then table.insert(found, data) end
  end
end
return found
"""

# KEYS: deliveries, pending, leases. ARGV: id, data, next_at ('' when no longer pending).
_SAVE = """
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '' then redis.call('ZREM', KEYS[2], ARGV[1])
else redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) end
return 1
"""


class RedisWebhooks:
    """The :class:`~mockserver.domain.outbox.WebhookStore` in Redis."""

    def __init__(self, link: RedisLink, prefix: str, control: str) -> None:
        self.link = link
        self.client = link.client
        self.prefix = f"{prefix}hooks:"
        self.control = control
        self.deliveries = f"{self.prefix}deliveries"
        self.pending = f"{self.prefix}pending"
        self.leases = f"{self.prefix}leases"
        self.hooks = f"{self.prefix}endpoints"
        self.order = f"{self.prefix}endpoint-order"
        self._claim = link.client.register_script(_CLAIM)
        self._save = link.client.register_script(_SAVE)

    def atomic(self) -> contextlib.AbstractContextManager[object]:
        # Each write below is atomic on its own (a MULTI or a script); see the module.
        return contextlib.nullcontext()

    def endpoints(self) -> list[WebhookEndpoint]:
        with self.link.reachable():
            ids = self.client.lrange(self.order, 0, -1)
            found = self.client.hmget(self.hooks, ids) if ids else []
        return [_endpoint(blob(data)) for data in found if data is not None]

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        with self.link.reachable():
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self.hooks, endpoint.id, _encode(endpoint))
            pipe.rpush(self.order, endpoint.id)
            pipe.hincrby(self.control, "version", 1)
            pipe.execute()

    def remove_endpoint(self, endpoint_id: str) -> bool:
        with self.link.reachable():
            pipe = self.client.pipeline(transaction=True)
            pipe.hdel(self.hooks, endpoint_id)
            pipe.lrem(self.order, 0, endpoint_id)
            pipe.hincrby(self.control, "version", 1)
            gone = pipe.execute()[0]
        return bool(gone)

    def _task(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    def _event(self, event_id: str) -> str:
        return f"{self.prefix}event:{event_id}"

    def add(self, deliveries: list[Delivery]) -> None:
        if not deliveries:
            return
        with self.link.reachable():
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self.deliveries, mapping={d.id: _encode(d) for d in deliveries})
            pending = {d.id: d.next_at for d in deliveries if d.state == "pending"}
            if pending:
                pipe.zadd(self.pending, pending)
            for d in deliveries:
                pipe.sadd(self._task(d.task_id), d.id)
                pipe.sadd(self._event(d.event_id), d.id)
            pipe.execute()

    def _load(self, ids: list[str]) -> list[Delivery]:
        if not ids:
            return []
        with self.link.reachable():
            found = self.client.hmget(self.deliveries, ids)
        return [_delivery(blob(data)) for data in found if data is not None]

    def _members(self, key: str) -> list[str]:
        with self.link.reachable():
            return sorted(text(member) for member in self.client.smembers(key))

    def _forget(self, deliveries: list[Delivery]) -> None:
        if not deliveries:
            return
        with self.link.reachable():
            pipe = self.client.pipeline(transaction=True)
            ids = [d.id for d in deliveries]
            pipe.hdel(self.deliveries, *ids)
            pipe.zrem(self.pending, *ids)
            pipe.hdel(self.leases, *ids)
            for d in deliveries:
                pipe.srem(self._task(d.task_id), d.id)
                pipe.srem(self._event(d.event_id), d.id)
            pipe.execute()

    def cancel_unsent(self, task_id: str) -> int:
        owned = self._load(self._members(self._task(task_id)))
        gone = [d for d in owned if d.event != "task.created" and d.attempts == 0]
        self._forget(gone)
        return len(gone)

    def claim(self, now: float, wall: float, limit: int, lease_until: float) -> list[Delivery]:
        keys = [self.pending, self.leases, self.deliveries]
        with self.link.reachable():
            found = self._claim(keys=keys, args=[repr(now), repr(wall), limit, repr(lease_until)])
        return sorted((_delivery(blob(data)) for data in found), key=lambda d: d.next_at)

    def save(self, delivery: Delivery) -> None:
        due = repr(delivery.next_at) if delivery.state == "pending" else ""
        keys = [self.deliveries, self.pending, self.leases]
        with self.link.reachable():
            self._save(keys=keys, args=[delivery.id, _encode(delivery), due])

    def next_due(self) -> float | None:
        with self.link.reachable():
            first = self.client.zrange(self.pending, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def by_event(self, event_id: str) -> list[Delivery]:
        return self._load(self._members(self._event(event_id)))

    def _every(self) -> Iterator[Delivery]:
        with self.link.reachable():
            for _, data in self.client.hscan_iter(self.deliveries, count=PAGE):
                yield _delivery(blob(data))

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = dict.fromkeys(STATES, 0)
        for delivery in self._every():
            found[delivery.state] += 1
        return found

    def purge(self, before: float) -> int:
        gone = [d for d in self._every() if d.state != "pending" and d.occurred_at < before]
        for start in range(0, len(gone), PAGE):
            self._forget(gone[start : start + PAGE])
        return len(gone)

    def clear(self) -> None:
        with self.link.reachable():
            names = list(self.client.scan_iter(match=matching(self.prefix), count=PAGE))
            for start in range(0, len(names), PAGE):
                self.client.unlink(*names[start : start + PAGE])
