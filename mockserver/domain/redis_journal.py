"""The request journal in Redis, one for every replica: ``GET /_mock/journal`` through any of
them shows the requests all of them answered, oldest first.

A list under the prefix's ``journal``, each entry bounded and redacted before it is written
(no credential reaches Redis), with ``journal:recorded`` counting them. Recording sits on
every request's path, so it is one script call (about as cheap as a round trip gets with
redis-py: a pipeline costs twice as much, and a writer thread cost as much again in handing
entries over) that appends, counts and trims to ``journal_size``. When Redis is away
an entry is dropped (logged once until Redis is back), so nothing ever holds up an answer, a
503 above all.
"""

from __future__ import annotations

import logging

import msgspec

from mockserver.domain.errors import StateUnavailable
from mockserver.domain.journal import JournalEntry, Record, entry_of
from mockserver.domain.redis_store import RedisLink, blob

# KEYS: the list, the counter. ARGV: the entry, the size.
_RECORD = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
return redis.call('INCR', KEYS[2])
"""

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(JournalEntry).decode

logger = logging.getLogger(__name__)


class RedisJournal:
    """The last ``size`` requests of every replica."""

    def __init__(self, link: RedisLink, prefix: str, size: int) -> None:
        self.link = link
        self.client = link.client
        self.key = f"{prefix}journal"
        self.counter = f"{prefix}journal:recorded"
        self.size = size
        self._record = link.client.register_script(_RECORD)
        self._dropping = False

    @property
    def recorded(self) -> int:
        """Requests recorded by every replica since the state was made or reset."""
        with self.link.reachable():
            found = self.client.get(self.counter)
        return 0 if found is None else int(found)

    def record(self, record: Record, request_body: bytes = b"", response_body: bytes = b"") -> None:
        if not self.size:
            return
        entry = _encode(entry_of(record, request_body, response_body))
        try:
            with self.link.reachable():
                self._record(keys=[self.key, self.counter], args=[entry, self.size])
        except StateUnavailable as exc:
            if not self._dropping:
                logger.warning("wan-mock: journal entries are dropped: %s", exc.reason)
            self._dropping = True
        else:
            self._dropping = False

    def entries(self, limit: int | None = None) -> list[JournalEntry]:
        count = self.size if limit is None else min(limit, self.size)
        if count <= 0:
            return []
        with self.link.reachable():
            found = self.client.lrange(self.key, -count, -1)
        return [_decode(blob(data)) for data in found]

    def resize(self, size: int) -> None:
        self.size = size
        with self.link.reachable():
            if size:
                self.client.ltrim(self.key, -size, -1)
            else:
                self.client.delete(self.key)  # (the count goes on: it counts requests)

    def clear(self) -> None:
        """Nothing to do here: a reset deletes the shared journal with the rest of the state
        (clearing it again when another replica's reset is noticed would drop newer entries)."""

    def __len__(self) -> int:
        with self.link.reachable():
            return int(self.client.llen(self.key))
