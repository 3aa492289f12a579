"""A bounded record of recent requests, for tests and the control plane to look at.

Recording sits on every request's path, so it stores raw tuples and builds the readable
:class:`JournalEntry` (including the key's fingerprint) only when someone reads the journal.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from mockserver.domain.keys import bearer_key, fingerprint

# (at, method, path, status, duration_ms, request headers as ASGI gives them)
Record = tuple[float, str, str, int, float, list[tuple[bytes, bytes]]]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request as the fake saw it."""

    at: float  # the fake's clock when the request arrived
    method: str
    path: str
    status: int  # 0: the connection was dropped on purpose (a fault)
    duration_ms: float  # wall time spent answering
    owner: str | None  # key fingerprint, when the request carried a bearer key


__all__ = ["Journal", "JournalEntry", "Record", "fingerprint"]


class Journal:
    """The last ``size`` requests, oldest first; older ones fall off the end."""

    def __init__(self, size: int) -> None:
        self._records: deque[Record] = deque(maxlen=size)

    def record(self, record: Record) -> None:
        self._records.append(record)

    def entries(self, limit: int | None = None) -> list[JournalEntry]:
        records = list(self._records)
        if limit is not None:
            records = records[-limit:] if limit else []
        return [
            JournalEntry(at, method, path, status, round(ms, 3), _owner(headers))
            for at, method, path, status, ms, headers in records
        ]

    def resize(self, size: int) -> None:
        self._records = deque(self._records, maxlen=size)

    def clear(self) -> None:
        self._records.clear()

    def __len__(self) -> int:
        return len(self._records)


def _owner(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            key = bearer_key(value.decode("latin-1"))
            return fingerprint(key) if key is not None else None
    return None
