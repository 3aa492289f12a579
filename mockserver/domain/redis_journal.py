"""The request journal in Redis, one for every replica: ``GET /_mock/journal`` through any of
them shows the requests all of them answered, oldest first.

A list under the prefix's ``journal``, each entry already bounded and redacted (no credential
reaches Redis), appended and trimmed to ``journal_size`` in one round trip. Recording sits on
every request's path after its answer is decided: when Redis is away the entry is dropped (and
the drop logged once until Redis is back), so an answer, a 503 above all, is never held up.
"""

from __future__ import annotations

import logging

import msgspec
import redis

from mockserver.domain.errors import StateUnavailable
from mockserver.domain.journal import JournalEntry, Record, entry_of
from mockserver.domain.redis_store import blob, reachable

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(JournalEntry).decode

logger = logging.getLogger(__name__)


class RedisJournal:
    """The last ``size`` requests of every replica."""

    def __init__(self, client: redis.Redis, prefix: str, size: int) -> None:
        self.client = client
        self.key = f"{prefix}journal"
        self.size = size
        self._dropping = False

    def record(self, record: Record) -> None:
        if not self.size:
            return
        try:
            with reachable():
                pipe = self.client.pipeline(transaction=False)
                pipe.rpush(self.key, _encode(entry_of(record)))
                pipe.ltrim(self.key, -self.size, -1)
                pipe.execute()
        except StateUnavailable as exc:
            if not self._dropping:
                logger.warning("wan-mock: journal entries are dropped: %s", exc.reason)
            self._dropping = True
        else:
            self._dropping = False

    def entries(self, limit: int | None = None) -> list[JournalEntry]:
        if limit == 0:
            return []
        with reachable():
            found = self.client.lrange(self.key, -limit if limit else 0, -1)
        return [_decode(blob(data)) for data in found]

    def resize(self, size: int) -> None:
        self.size = size
        with reachable():
            if size:
                self.client.ltrim(self.key, -size, -1)
            else:
                self.client.delete(self.key)

    def clear(self) -> None:
        """Nothing to do here: a reset deletes the shared journal with the rest of the state
        (clearing it again when another replica's reset is noticed would drop newer entries)."""

    def __len__(self) -> int:
        with reachable():
            return int(self.client.llen(self.key))
