"""Control state in Redis, shared by replicas on several machines: settings changed live, the
clock, the scenario queue, resets, secrets, the webhook outbox, the rate limits and the
journal.

The same design as the SQLite file's (domain/shared.py): one hash ``control`` holds a version
that every change bumps, so a replica reads one field per request and reloads only when it
moved; ``epoch`` counts resets. Taking from the scenario queue is one Lua script, so replicas
never hand out more than were queued.

The clock: a running real clock is an origin on the wall clock and one on the monotonic clock
of the machine that set it. A replica on another machine (another boot id) cannot use that
monotonic origin, so it re-anchors it on its own monotonic clock from the wall-clock origin
(machines are assumed NTP-synchronised; replicas on one machine share the monotonic clock
exactly). A frozen or virtual clock needs no such care.

If Redis comes back empty (restarted without persistence), the first replica to look writes
its starting settings and its secrets again under a new epoch, which every replica takes as a
reset: the fake carries on, without the tasks Redis lost.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from pathlib import Path

import msgspec
import redis
from redis.typing import EncodableT, FieldT

from mockserver.domain.behaviour import Limits
from mockserver.domain.clock import ClockSnapshot, carried_over
from mockserver.domain.journal import Journals
from mockserver.domain.limits import Limiter
from mockserver.domain.outbox import WebhookStore
from mockserver.domain.redis_journal import RedisJournal
from mockserver.domain.redis_limits import RedisRateLimiter
from mockserver.domain.redis_outbox import RedisWebhooks
from mockserver.domain.redis_store import (
    EXPIRY_SLACK_S,
    PAGE,
    RedisImages,
    RedisLink,
    blob,
    matching,
    text,
)
from mockserver.domain.scenarios import ScenarioError, parse_scenario
from mockserver.domain.settings import Settings
from mockserver.domain.shared import ControlState
from mockserver.domain.sqlite_store import StateFileError
from mockserver.domain.store import ImageShelf

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
FIELDS = ("version", "epoch", "settings", "clock", "boot")

# Take one task's scenario from the head of the queue ("<remaining> <token>" items).
_TAKE = """
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then return false end
local remaining, token = string.match(head, '^(%d+) (.+)$')
remaining = tonumber(remaining)
if remaining <= 1 then redis.call('LPOP', KEYS[1])
else redis.call('LSET', KEYS[1], 0, (remaining - 1) .. ' ' .. token) end
redis.call('HINCRBY', KEYS[2], 'version', 1)
return token
"""


def boot_id() -> str:
    """This machine's boot: processes with the same one share the monotonic clock."""
    with contextlib.suppress(OSError):
        return BOOT_ID.read_text().strip()
    return ""


class RedisShared:
    """The shared control state of every replica using one Redis and key prefix."""

    def __init__(self, link: RedisLink, prefix: str) -> None:
        self.link = link
        self.client = link.client
        self.prefix = prefix
        self.control = f"{prefix}control"
        self.queue = f"{prefix}queue"
        self.secrets = f"{prefix}secrets"
        self.boot = boot_id()
        self._take = link.client.register_script(_TAKE)
        self._start: tuple[Settings, ClockSnapshot] | None = None
        self._secrets: dict[str, bytes] = {}

    def outbox(self) -> WebhookStore:
        return RedisWebhooks(self.link, self.prefix, self.control)

    def limiter(self, limits: Limits) -> Limiter:
        """Shared and exact: a load balancer spreads one key's requests over replicas."""
        return RedisRateLimiter(self.link, self.prefix, limits)

    def journal(self, size: int) -> Journals:
        """One journal for every replica: each shows what all of them answered."""
        return RedisJournal(self.link, self.prefix, size)

    def images(self, seconds: float) -> ImageShelf | None:
        """Replicas on other machines render a task's video from the image kept here."""
        return RedisImages(self.link, self.prefix, seconds + EXPIRY_SLACK_S)

    def join(self, initial: Settings, clock: ClockSnapshot) -> ControlState:
        """As the state file's join: the same starting settings carry on, other ones replace
        the live settings and the queue (a clock of the same mode carries on)."""
        self._start = (initial, clock)
        start = msgspec.json.encode(initial)

        def joining(pipe: redis.client.Pipeline) -> None:
            found = pipe.hmget(self.control, ["initial", "clock", "boot"])
            pipe.multi()
            if found[0] is None:
                self._create(pipe, start, clock)
            elif found[0] != start:
                kept = _kept_clock(found[1], found[2], self.boot, clock)  # type: ignore[arg-type]
                pipe.hset(self.control, mapping=self._fields(start, kept, initial=start))
                pipe.hincrby(self.control, "version", 1)
                pipe.delete(self.queue)

        with self.link.reachable():
            self.client.transaction(joining, self.control)
        return self.load()

    def _fields(
        self, settings: bytes, clock: ClockSnapshot, **more: EncodableT
    ) -> dict[FieldT, EncodableT]:
        fields: dict[FieldT, EncodableT] = {
            "settings": settings,
            "clock": msgspec.json.encode(clock),
            "boot": self.boot.encode(),
        }
        fields.update(more)
        return fields

    def _create(self, pipe: redis.client.Pipeline, start: bytes, clock: ClockSnapshot) -> None:
        # A random first epoch: Redis coming back empty must look like a reset to every
        # replica, whatever epoch they last saw.
        fields = self._fields(start, clock, initial=start, epoch=secrets.randbits(48), version=1)
        pipe.hset(self.control, mapping=fields)
        if self._secrets:
            for name, value in self._secrets.items():
                pipe.hsetnx(self.secrets, name, value)

    def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The shared secret ``name``, made by the first replica that asks."""
        with self.link.reachable():
            self.client.hsetnx(self.secrets, name, make())
            value = self.client.hget(self.secrets, name)
        self._secrets[name] = blob(value)
        return self._secrets[name]

    def check(self, initial: Settings) -> None:
        """Raise :class:`StateFileError` if the stored state cannot be read (checked once
        before serving, as the state file is); raises StateUnavailable if Redis is not there."""
        with self.link.reachable():
            found = self.client.hmget(self.control, ["initial", "settings", "clock"])
            queue = self.client.lrange(self.queue, 0, -1)
        if found[0] is None or found[0] != msgspec.json.encode(initial):
            return
        try:
            msgspec.json.decode(found[1] or b"", type=Settings)
            msgspec.json.decode(found[2] or b"", type=ClockSnapshot)
            for item in queue:
                parse_scenario(text(item).partition(" ")[2])
        except (msgspec.DecodeError, TypeError, ScenarioError) as exc:
            reason = f"its stored settings, clock or queue cannot be read ({exc})"
            raise StateFileError(reason) from None

    def version(self) -> int:
        with self.link.reachable():
            found = self.client.hget(self.control, "version")
        return -1 if found is None else int(found)

    def load(self) -> ControlState:
        with self.link.reachable():
            pipe = self.client.pipeline(transaction=True)
            pipe.hmget(self.control, list(FIELDS))
            pipe.lrange(self.queue, 0, -1)
            (version, epoch, settings, clock, boot), queue = pipe.execute()
        if version is None:  # Redis came back empty: start again, as after a reset
            assert self._start is not None, "load() before join()"
            return self.join(*self._start)
        snapshot = msgspec.json.decode(clock, type=ClockSnapshot)
        if (boot or b"").decode() != self.boot:
            snapshot = carried_over(snapshot)
        items = [item.decode().partition(" ") for item in queue]
        return ControlState(
            int(version),
            int(epoch),
            msgspec.json.decode(settings, type=Settings),
            snapshot,
            tuple((token, int(remaining)) for remaining, _, token in items),
        )

    def publish(self, settings: Settings, clock: ClockSnapshot) -> None:
        with self.link.reachable():
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self.control, mapping=self._fields(msgspec.json.encode(settings), clock))
            pipe.hincrby(self.control, "version", 1)
            pipe.execute()

    def reset(self, settings: Settings, clock: ClockSnapshot) -> None:
        """Everything under the prefix goes but the control hash and the secrets; then the
        starting settings and clock under a new epoch."""
        kept = {self.control.encode(), self.secrets.encode()}
        with self.link.reachable():
            names = [
                name
                for name in self.client.scan_iter(match=matching(self.prefix), count=PAGE)
                if name not in kept
            ]
            for start in range(0, len(names), PAGE):
                self.client.unlink(*names[start : start + PAGE])
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self.control, mapping=self._fields(msgspec.json.encode(settings), clock))
            pipe.hincrby(self.control, "version", 1)
            pipe.hincrby(self.control, "epoch", 1)
            pipe.execute()

    def push(self, token: str, count: int) -> None:
        with self.link.reachable():
            pipe = self.client.pipeline(transaction=True)
            pipe.rpush(self.queue, f"{count} {token}")
            pipe.hincrby(self.control, "version", 1)
            pipe.execute()

    def clear_queue(self) -> None:
        with self.link.reachable():
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(self.queue)
            pipe.hincrby(self.control, "version", 1)
            pipe.execute()

    def take(self) -> str | None:
        with self.link.reachable():
            token = self._take(keys=[self.queue, self.control])
        return None if token is None else bytes(token).decode()


def _kept_clock(
    stored: bytes | None, boot: bytes | None, here: str, clock: ClockSnapshot
) -> ClockSnapshot:
    """The stored clock if it is of the same mode as ``clock`` (and readable), else ``clock``."""
    try:
        kept = msgspec.json.decode(stored or b"", type=ClockSnapshot)
    except (msgspec.DecodeError, TypeError):
        return clock
    if (boot or b"").decode() != here:
        kept = carried_over(kept)
    return kept if kept.mode == clock.mode else clock
