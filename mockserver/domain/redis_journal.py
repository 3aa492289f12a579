"""The request journal in Redis, one for every replica: ``GET /_mock/journal`` through any of
them shows the requests all of them answered, oldest first.

A list under the prefix's ``journal``, each entry bounded and redacted before it is written
(no credential reaches Redis). Recording sits on every request's path, so it is one ``RPUSH``
(about as cheap as a round trip gets with redis-py: a pipeline costs twice as much, and a
writer thread cost as much again in handing entries over); the list is trimmed to
``journal_size`` every :data:`TRIM_EVERY` entries and read only up to it. When Redis is away
an entry is dropped (logged once until Redis is back), so nothing ever holds up an answer, a
503 above all.
"""

from __future__ import annotations

import logging

import msgspec

from mockserver.domain.errors import StateUnavailable
from mockserver.domain.journal import JournalEntry, Record, entry_of
from mockserver.domain.redis_store import RedisLink, blob

TRIM_EVERY = 64  # the list holds at most journal_size + this many entries

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(JournalEntry).decode

logger = logging.getLogger(__name__)


class RedisJournal:
    """The last ``size`` requests of every replica."""

    def __init__(self, link: RedisLink, prefix: str, size: int) -> None:
        self.link = link
        self.client = link.client
        self.key = f"{prefix}journal"
        self.size = size
        self._untrimmed = 0  # entries this replica added since it last trimmed
        self._dropping = False

    def record(self, record: Record) -> None:
        if not self.size:
            return
        try:
            with self.link.reachable():
                self.client.rpush(self.key, _encode(entry_of(record)))
                self._untrimmed += 1
                if self._untrimmed >= TRIM_EVERY:
                    self.client.ltrim(self.key, -self.size, -1)
                    self._untrimmed = 0
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
                self.client.delete(self.key)

    def clear(self) -> None:
        """Nothing to do here: a reset deletes the shared journal with the rest of the state
        (clearing it again when another replica's reset is noticed would drop newer entries)."""

    def __len__(self) -> int:
        with self.link.reachable():
            return min(int(self.client.llen(self.key)), self.size)
