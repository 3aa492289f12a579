"""Tasks in Redis: one fake for several replicas on several machines (``--state redis://...``).

Each task is one string key holding the same msgpack row as the SQLite store, beside two
sorted sets: ``tasks:order`` (a sequence number, for listing oldest first) and
``tasks:retired`` (the fake-clock moment its retention starts, for purging). ``add`` is one
Lua script (``SET NX`` and both ``ZADD``), so a create is all there or not at all, and it is
acknowledged only after Redis answered. On a running real clock each task key also gets a
Redis expiry at the end of its retention, so Redis forgets it even when no replica purges.

Every key starts with a configurable prefix, so several fakes can share one Redis. Redis
unreachable, restarting, loading or read-only becomes :class:`StateUnavailable` (a 503 with
``Retry-After``): the client's socket timeouts are short and the client never retries on its
own, so a request never hangs and a create is never written twice.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mockserver.domain.clock import MockClock
from mockserver.domain.errors import StateUnavailable
from mockserver.domain.sqlite_store import TaskReader, encode_task
from mockserver.domain.state_urls import REDIS_SCHEMES
from mockserver.domain.store import retired_at
from mockserver.domain.tasks import Task

TIMEOUT_S = 0.5  # connect and read: a stopped Redis costs a request at most this, then a 503
AWAY_S = 0.25  # after a timeout, calls fail at once this long (one request's other calls)
PAGE = 512


# A Redis that cannot serve now (down, restarting, still loading its data, a replica turned
# read-only, a failed snapshot refusing writes): the request is answered 503.
_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError)
_DOWN_REPLIES = ("LOADING", "MISCONF", "MASTERDOWN", "READONLY", "NOREPLICAS", "OOM")


def connect(url: str, password: str | None = None) -> RedisLink:
    """A link to Redis at ``redis://`` or ``rediss://`` ``url`` (host, port, database, and a
    password in the URL or in ``password``); raises ``ValueError`` for a URL it cannot use."""
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES or not parts.hostname:
        raise ValueError(f"{url!r} is not a redis:// or rediss:// URL with a host")
    extra: dict[str, Any] = {}
    if password is not None and not parts.password:
        extra["password"] = password
    client = redis.Redis.from_url(
        url,
        socket_timeout=TIMEOUT_S,
        socket_connect_timeout=TIMEOUT_S,
        # No retry inside the client: a write whose answer was lost would be written twice,
        # and retries with back-off would hold the request. The next request reconnects.
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        **extra,
    )
    return RedisLink(client)


class RedisLink:
    """The client every part of one fake's Redis state shares, and whether Redis was just
    found not answering: for :data:`AWAY_S` after a timeout, calls fail at once instead of each
    waiting for its own, so a Redis that stopped answering costs a request one timeout, not one
    per call it makes. (A refused connection fails at once anyway, and is tried every time.)"""

    def __init__(self, client: redis.Redis, *, monotonic: Callable[[], float] = time.monotonic):
        self.client = client
        self._monotonic = monotonic
        self._away_until = 0.0
        self._why = ""

    @contextlib.contextmanager
    def reachable(self) -> Iterator[None]:
        """Turn Redis being unable to serve into :class:`StateUnavailable`."""
        if self._away_until and self._monotonic() < self._away_until:
            raise StateUnavailable(self._why)
        try:
            yield
        except _DOWN as exc:
            raise self._away(exc) from None
        except redis.ResponseError as exc:
            if str(exc).split(" ", 1)[0] in _DOWN_REPLIES:
                raise self._away(exc) from None
            raise

    def _away(self, exc: Exception) -> StateUnavailable:
        why = f"Redis: {exc}"
        if isinstance(exc, redis.TimeoutError):  # a refused connection costs nothing: no wait
            self._why, self._away_until = why, self._monotonic() + AWAY_S
        return StateUnavailable(why)

    def close(self) -> None:
        self.client.close()


def blob(value: object) -> bytes:
    """A reply that is a value this fake stored (the client answers bytes: no decoding)."""
    assert isinstance(value, bytes), f"Redis answered {type(value).__name__}, not bytes"
    return value


def text(value: object) -> str:
    return blob(value).decode()


def matching(prefix: str) -> str:
    """SCAN's MATCH pattern for every key starting with ``prefix`` (its glob characters
    escaped)."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix) + "*"


# Redis keeps a task this much longer than the fake's retention, so that the fake's own purge
# (on its clock) comes first and Redis's expiry only collects what no replica purged.
EXPIRY_SLACK_S = 60.0


def retention_expiry(
    clock: MockClock, retention: Callable[[], float]
) -> Callable[[Task], float | None]:
    """A task's Redis expiry in seconds: when its retention ends on a running clock, in real
    seconds; none while the clock is frozen or virtual (Redis's time says nothing of it)."""

    def expiry(task: Task) -> float | None:
        if clock.frozen:
            return None
        left = retired_at(task) + retention() - clock.now()
        return max(left, 0.0) / clock.speed + EXPIRY_SLACK_S

    return expiry


_ADD = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], seq, ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
return 1
"""

# Forget up to ARGV[3] tasks retired before ARGV[1] (exclusive); returns how many went.
_PURGE = """
local ids = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  redis.call('UNLINK', ARGV[2] .. id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
return #ids
"""


class RedisStore:
    """The :class:`~mockserver.domain.store.TaskStore` over one Redis client.

    ``expiry`` (set by whoever knows the retention and the clock) gives the Redis expiry of a
    task in seconds, or None for none (a virtual clock: Redis time says nothing of it).
    """

    def __init__(self, link: RedisLink, prefix: str) -> None:
        self.link = link
        self.client = link.client
        self.prefix = prefix
        self.order = f"{prefix}tasks:order"
        self.retired = f"{prefix}tasks:retired"
        self.expiry: Callable[[Task], float | None] = lambda task: None
        self._add = link.client.register_script(_ADD)
        self._purge = link.client.register_script(_PURGE)
        self._reader = TaskReader("Redis state")

    def key(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    def _expiry_ms(self, task: Task) -> int:
        seconds = self.expiry(task)
        return 0 if seconds is None else max(1, round(seconds * 1000))

    def add(self, task: Task) -> None:
        keys = [self.key(task.id), self.order, self.retired, f"{self.prefix}tasks:seq"]
        args: list[bytes | str | int] = [
            encode_task(task),
            repr(retired_at(task)),
            task.id,
            self._expiry_ms(task),
        ]
        with self.link.reachable():
            added = self._add(keys=keys, args=args)
        if not added:
            raise KeyError(f"task {task.id} already exists")

    def get(self, task_id: str) -> Task | None:
        with self.link.reachable():
            data = self.client.get(self.key(task_id))
        return None if data is None else self._reader.decode(task_id, blob(data))

    def save(self, task: Task) -> None:
        ms = self._expiry_ms(task)
        with self.link.reachable():
            pipe = self.client.pipeline(transaction=True)
            pipe.set(self.key(task.id), encode_task(task), xx=True, px=ms or None)
            pipe.zadd(self.retired, {task.id: retired_at(task)}, xx=True)
            pipe.execute()

    def __contains__(self, task_id: object) -> bool:
        if not isinstance(task_id, str):
            return False
        with self.link.reachable():
            return bool(self.client.exists(self.key(task_id)))

    def tasks(self, skipped: list[str] | None = None) -> Iterator[Task]:
        return self._listed(skipped, newest=False)

    def newest(self, skipped: list[str] | None = None) -> Iterator[Task]:
        return self._listed(skipped, newest=True)

    def _listed(self, skipped: list[str] | None, *, newest: bool) -> Iterator[Task]:
        # Paged by sequence number, not by rank, so tasks purged meanwhile shift nothing.
        bound = "+inf" if newest else "-inf"
        while True:
            with self.link.reachable():
                start, stop = (bound, "-inf") if newest else (bound, "+inf")
                page: list[tuple[bytes, float]] = self.client.zrange(
                    self.order,
                    start,
                    stop,
                    desc=newest,
                    byscore=True,
                    offset=0,
                    num=PAGE,
                    withscores=True,
                )  # type: ignore[assignment]
                if not page:
                    return
                ids = [text(member) for member, _ in page]
                rows = self.client.mget([self.key(task_id) for task_id in ids])
            bound = f"({page[-1][1]:.17g}"
            for task_id, data in zip(ids, rows, strict=True):
                if data is None:
                    continue  # expired in Redis, not purged from the index yet
                task = self._reader.decode(task_id, blob(data))
                if task is not None:
                    yield task
                elif skipped is not None:
                    skipped.append(task_id)

    def __len__(self) -> int:
        with self.link.reachable():
            return int(self.client.zcard(self.order))

    def purge(self, before: float) -> int:
        gone = 0
        with self.link.reachable():
            while True:  # in batches, so one script never holds Redis long
                batch = int(
                    self._purge(
                        keys=[self.retired, self.order], args=[repr(before), self.key(""), PAGE]
                    )
                )
                gone += batch
                if batch < PAGE:
                    return gone

    def clear(self) -> None:
        with self.link.reachable():
            while ids := self.client.zrange(self.order, 0, PAGE - 1):
                names = [text(member) for member in ids]
                pipe = self.client.pipeline(transaction=False)
                pipe.unlink(*(self.key(task_id) for task_id in names))
                pipe.zrem(self.order, *names)
                pipe.zrem(self.retired, *names)
                pipe.execute()
        self._reader.forget()

    def close(self) -> None:
        """Release the connections; what was acknowledged is Redis's to keep."""
        self.link.close()


class RedisImages:
    """The :class:`~mockserver.domain.store.ImageShelf` in Redis: each base64 input image once
    under ``image:<digest>``, kept ``seconds`` of real time after the last task that used it
    was created (a cache, like the render cache: an image gone only makes a video without it).
    """

    def __init__(self, link: RedisLink, prefix: str, seconds: float) -> None:
        self.link = link
        self.client = link.client
        self.prefix = f"{prefix}image:"
        self.ms = max(1, round(seconds * 1000))

    def keep(self, images: Mapping[str, bytes]) -> None:
        with self.link.reachable():
            pipe = self.client.pipeline(transaction=False)
            for digest, data in images.items():
                pipe.set(self.prefix + digest, data, px=self.ms)
            pipe.execute()

    def image(self, digest: str) -> bytes | None:
        with self.link.reachable():
            data = self.client.get(self.prefix + digest)
        return None if data is None else blob(data)
