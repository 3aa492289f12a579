"""The request journal in Redis, one for every replica: ``GET /_mock/journal`` through any of
them shows the requests all of them answered, oldest first.

A list under the prefix's ``journal``, each entry bounded and redacted before it is written
(no credential reaches Redis), trimmed to ``journal_size``. Recording sits on every request's
path, so it costs no round trip there: entries go to a writer thread of this journal's, which
appends whatever has gathered in one pipelined round trip. Reading through this replica waits
for its own entries to be written first; another replica's appear within a round trip of
their answer. When Redis is away the entries are dropped (logged once until it is back), so
nothing ever holds up an answer, a 503 above all.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

import msgspec
import redis

from mockserver.domain.errors import StateUnavailable
from mockserver.domain.journal import JournalEntry, Record, entry_of
from mockserver.domain.redis_store import TIMEOUT_S, blob, reachable

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(JournalEntry).decode

logger = logging.getLogger(__name__)


class RedisJournal:
    """The last ``size`` requests of every replica."""

    def __init__(self, client: redis.Redis, prefix: str, size: int) -> None:
        self.client = client
        self.key = f"{prefix}journal"
        self.size = size
        self._pending: deque[Record] = deque()
        self._writing = 0  # batches taken from _pending and not written yet
        self._changed = threading.Condition()
        self._writer: threading.Thread | None = None
        self._dropping = False

    def record(self, record: Record) -> None:
        if not self.size:
            return
        with self._changed:
            self._pending.append(record)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write, name="wan-mock-journal", daemon=True
                )
                self._writer.start()
            self._changed.notify_all()

    def _write(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._pending))
                batch = list(self._pending)
                self._pending.clear()
                self._writing += 1
            try:
                self._append([_encode(entry_of(record)) for record in batch])
            finally:
                with self._changed:
                    self._writing -= 1
                    self._changed.notify_all()

    def _append(self, entries: list[bytes]) -> None:
        try:
            with reachable():
                pipe = self.client.pipeline(transaction=False)
                pipe.rpush(self.key, *entries)
                pipe.ltrim(self.key, -self.size, -1)
                pipe.execute()
        except StateUnavailable as exc:
            if not self._dropping:
                logger.warning("wan-mock: journal entries are dropped: %s", exc.reason)
            self._dropping = True
        else:
            self._dropping = False

    def flush(self) -> None:
        """Wait (a bounded while) until this replica's entries are written."""
        with self._changed:
            self._changed.wait_for(
                lambda: not self._pending and not self._writing, timeout=3 * TIMEOUT_S
            )

    def entries(self, limit: int | None = None) -> list[JournalEntry]:
        if limit == 0:
            return []
        self.flush()
        with reachable():
            found = self.client.lrange(self.key, -limit if limit else 0, -1)
        return [_decode(blob(data)) for data in found]

    def resize(self, size: int) -> None:
        self.flush()
        self.size = size
        with reachable():
            if size:
                self.client.ltrim(self.key, -size, -1)
            else:
                self.client.delete(self.key)

    def clear(self) -> None:
        """Forget the entries not written yet; the written ones go with the rest of the shared
        state when it is reset (clearing the list again when another replica's reset is
        noticed would drop newer entries)."""
        with self._changed:
            self._pending.clear()
            self._changed.wait_for(lambda: not self._writing, timeout=3 * TIMEOUT_S)

    def __len__(self) -> int:
        self.flush()
        with reachable():
            return int(self.client.llen(self.key))
