"""Per-key rate limits kept in Redis, exact across every replica sharing it.

The same limits as :mod:`mockserver.domain.limits` (a sliding-window log per rate, the set of
a key's unfinished tasks for concurrency), each a sorted set per key: the window's members are
the requests (scored by the moment they leave the window), the running set's the task ids
(scored by their finish, ``+inf`` for a task that never finishes on its own). Deciding and
recording is one Lua script, so two replicas can never both admit the request that fills a
window: there is no read-then-write.

A key's sets are named after the limit's value, so a changed limit starts empty (as in
memory). They expire after a day without a write (idle keys go), and a reset deletes them
with the rest of the shared state.
"""

from __future__ import annotations

import hashlib
import math
import secrets

from mockserver.domain.behaviour import Limits
from mockserver.domain.limits import NEVER_FINISHES_RETRY, LimitExceeded, _until
from mockserver.domain.redis_store import RedisLink

IDLE_MS = 86_400_000

# KEYS[1] the window (rate) set, KEYS[2] the running set. ARGV: now, take (1/0), capacity
# (0: no rate limit), span, running limit (-1: none), member, finishes_at, idle expiry (ms).
# Returns {} when allowed (and taken if asked), else {window moment, running moment} as
# strings ('' where that limit allows it; 'never' when no unfinished task will finish).
_DECIDE = """
local now = tonumber(ARGV[1])
local capacity, limit = tonumber(ARGV[3]), tonumber(ARGV[5])
local rate_at, run_at = '', ''
if capacity > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  local count = redis.call('ZCARD', KEYS[1])
  if count >= capacity then
    local entry = redis.call('ZRANGE', KEYS[1], count - capacity, count - capacity, 'WITHSCORES')
    rate_at = entry[2]
  end
end
if limit >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  local excess = redis.call('ZCARD', KEYS[2]) - limit
  if excess >= 0 then
    local entry = redis.call('ZRANGE', KEYS[2], excess, excess, 'WITHSCORES')
    if entry[2] == nil or entry[2] == 'inf' or tonumber(entry[2]) == math.huge then run_at = 'never'
    else run_at = entry[2] end
  end
end
if rate_at ~= '' or run_at ~= '' then return {rate_at, run_at} end
if ARGV[2] == '1' then
  if capacity > 0 then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[6])
    redis.call('PEXPIRE', KEYS[1], ARGV[8])
  end
  if limit >= 0 and ARGV[7] ~= 'none' then
    redis.call('ZADD', KEYS[2], ARGV[7], ARGV[6])
    redis.call('PEXPIRE', KEYS[2], ARGV[8])
  end
end
return {}
"""


def _finish(finishes_at: float | None, now: float) -> str:
    """A task's score in the running set: ``none`` for one already finished (it never counts),
    ``+inf`` for one that never finishes on its own."""
    if finishes_at is None:
        return "+inf"
    return "none" if finishes_at <= now else repr(finishes_at)


def _rate(rate: float | None) -> tuple[int, float]:
    """(capacity, span) of a rate, as in memory; (0, 0.0) when it is off."""
    if rate is None:
        return 0, 0.0
    capacity = max(1, math.floor(rate))
    return capacity, capacity / rate


class RedisRateLimiter:
    """The three per-key limits in Redis (the interface of
    :class:`~mockserver.domain.limits.RateLimiter`)."""

    def __init__(self, link: RedisLink, prefix: str, limits: Limits) -> None:
        self.link = link
        self.client = link.client
        self.prefix = f"{prefix}limits:"
        self.limits = limits
        self._decide = link.client.register_script(_DECIDE)
        # Poll members must be unique across replicas: a token of this limiter's, a counter.
        self._token = secrets.token_hex(8)
        self._polls = 0

    def reset(self) -> None:
        """Nothing kept here: the shared reset deletes every key's sets."""

    def configure(self, limits: Limits) -> None:
        self.limits = limits  # the set names follow the values: a changed limit starts empty

    def _names(self, kind: str, value: float | int | None, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]  # no API key in Redis key names
        return f"{self.prefix}{kind}:{value!r}:{digest}"

    def _run(
        self,
        key: str,
        now: float,
        *,
        take: bool,
        rate: float | None,
        what: str,
        running: int | None,
        member: str,
        finishes_at: float | None,
    ) -> None:
        capacity, span = _rate(rate)
        keys = [self._names(what, rate, key), self._names("running", running, key)]
        args = [
            repr(now),
            "1" if take else "0",
            capacity,
            repr(span),
            -1 if running is None else running,
            member,
            _finish(finishes_at, now),
            IDLE_MS,
        ]
        with self.link.reachable():
            found = self._decide(keys=keys, args=args)
        if not found:
            return
        rate_at, run_at = (item.decode() for item in found)
        rate_wait = _until(float(rate_at), now) if rate_at else 0.0
        if run_at == "never":
            run_wait = NEVER_FINISHES_RETRY
        else:
            run_wait = _until(float(run_at), now) if run_at else 0.0
        if running is not None and run_wait and run_wait >= rate_wait:
            detail = f"at most {running} unfinished tasks per key"
            raise LimitExceeded("concurrent_tasks", run_wait, detail)
        assert rate is not None
        if what == "polls":
            raise LimitExceeded(
                "polls_per_second", rate_wait, f"at most {rate:g} status polls per second per key"
            )
        raise LimitExceeded(
            "submissions_per_second",
            rate_wait,
            f"at most {rate:g} task submissions per second per key",
        )

    def check_submission(self, key: str, now: float) -> None:
        self._submission(key, now, take=False, member="", finishes_at=None)

    def record_submission(
        self, key: str, task_id: str, now: float, finishes_at: float | None
    ) -> None:
        """Decide again and count the task, in one script: raises :class:`LimitExceeded` if
        another replica took the last place since :meth:`check_submission`."""
        self._submission(key, now, take=True, member=task_id, finishes_at=finishes_at)

    def _submission(
        self, key: str, now: float, *, take: bool, member: str, finishes_at: float | None
    ) -> None:
        limits = self.limits
        if limits.submissions_per_second is None and limits.concurrent_tasks is None:
            return
        self._run(
            key,
            now,
            take=take,
            rate=limits.submissions_per_second,
            what="submissions",
            running=limits.concurrent_tasks,
            member=member,
            finishes_at=finishes_at,
        )

    def cancel_submission(self, key: str, task_id: str) -> None:
        """Take back a recorded task that was not stored after all."""
        limits = self.limits
        with self.link.reachable():
            pipe = self.client.pipeline(transaction=False)
            pipe.zrem(self._names("submissions", limits.submissions_per_second, key), task_id)
            pipe.zrem(self._names("running", limits.concurrent_tasks, key), task_id)
            pipe.execute()

    def task_finished(self, key: str, task_id: str, now: float) -> None:
        if self.limits.concurrent_tasks is not None:
            with self.link.reachable():
                self.client.zrem(self._names("running", self.limits.concurrent_tasks, key), task_id)

    def check_poll(self, key: str, now: float) -> None:
        rate = self.limits.polls_per_second
        if rate is None:
            return
        self._polls += 1
        self._run(
            key,
            now,
            take=True,
            rate=rate,
            what="polls",
            running=None,
            member=f"{self._token}:{self._polls}",
            finishes_at=None,
        )
