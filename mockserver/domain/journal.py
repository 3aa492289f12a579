"""A bounded record of recent requests, for tests and the control plane to look at.

Recording sits on every request's path, so it keeps little and does little: the request's
headers are copied bounded (at most :data:`MAX_HEADERS` of them, :data:`MAX_HEADER_BYTES` in
all, each value cut at :data:`MAX_VALUE_BYTES`) and redacted (credentials never stored: the
bearer key becomes its fingerprint, cookies and tokens become ``***``), and text is decoded only
when someone reads the journal. The query string is not kept at all.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from mockserver.domain.keys import bearer_key, fingerprint

# (at, method, path, status, duration_ms, request headers as ASGI gives them)
Record = tuple[float, str, str, int, float, list[tuple[bytes, bytes]]]
Headers = tuple[tuple[bytes, bytes], ...]
# What is kept of a record: the headers bounded and redacted, the owner found in them.
_Kept = tuple[float, str, str, int, float, Headers, str | None]

MAX_HEADERS = 32
OWNER_CACHE = 1024  # Authorization values whose redacted form is remembered (hashing costs)
MAX_HEADER_BYTES = 4096  # names and values of one entry's headers together
MAX_VALUE_BYTES = 512
CUT = b"..."
HIDDEN = b"***"
# Headers whose value is a credential. (Authorization keeps the key's fingerprint.)
SECRET_HEADERS = frozenset(
    {
        b"authorization",
        b"proxy-authorization",
        b"cookie",
        b"x-wan-mock-admin-token",
        b"x-api-key",
        b"api-key",
    }
)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One request as the fake saw it."""

    at: float  # the fake's clock when the request arrived
    method: str
    path: str
    status: int  # 0: the connection was dropped on purpose (a fault)
    duration_ms: float  # wall time spent answering
    owner: str | None  # key fingerprint, when the request carried a bearer key
    headers: tuple[tuple[str, str], ...] = ()  # bounded and redacted, in the order received


__all__ = ["Journal", "JournalEntry", "Record", "fingerprint", "kept_headers"]


class Journal:
    """The last ``size`` requests, oldest first; older ones fall off the end."""

    def __init__(self, size: int) -> None:
        self._records: deque[_Kept] = deque(maxlen=size)
        self._owners: dict[bytes, tuple[bytes, str | None]] = {}

    def record(self, record: Record) -> None:
        at, method, path, status, ms, raw = record
        if len(self._owners) > OWNER_CACHE:
            self._owners.clear()
        headers, owner = kept_headers(raw, self._owners)
        self._records.append((at, method, path, status, ms, headers, owner))

    def entries(self, limit: int | None = None) -> list[JournalEntry]:
        records = list(self._records)
        if limit is not None:
            records = records[-limit:] if limit else []
        return [
            JournalEntry(at, method, path, status, round(ms, 3), owner, _text(headers))
            for at, method, path, status, ms, headers, owner in records
        ]

    def resize(self, size: int) -> None:
        self._records = deque(self._records, maxlen=size)

    def clear(self) -> None:
        self._records.clear()

    def __len__(self) -> int:
        return len(self._records)


def kept_headers(
    headers: list[tuple[bytes, bytes]], owners: dict[bytes, tuple[bytes, str | None]] | None = None
) -> tuple[Headers, str | None]:
    """What the journal keeps of request ``headers`` (bounded and redacted, see the module),
    and the owner: the fingerprint of the bearer key, if any. ``owners`` remembers the
    redacted form of Authorization values already seen."""
    kept: list[tuple[bytes, bytes]] = []
    room = MAX_HEADER_BYTES
    owner = None
    for name, value in headers:
        if name in SECRET_HEADERS:
            if name == b"authorization":
                known = owners.get(value) if owners is not None else None
                if known is None:
                    known = _redacted_authorization(value)
                    if owners is not None:
                        owners[value] = known
                value, owner = known
            else:
                value = HIDDEN
        elif len(value) > MAX_VALUE_BYTES:
            value = value[:MAX_VALUE_BYTES] + CUT
        room -= len(name) + len(value)
        if room >= 0 and len(kept) < MAX_HEADERS:
            kept.append((name, value))
    return tuple(kept), owner


def _redacted_authorization(value: bytes) -> tuple[bytes, str | None]:
    key = bearer_key(value.decode("latin-1"))
    if key is None:
        return HIDDEN, None
    owner = fingerprint(key)
    return b"Bearer " + owner.encode(), owner


def _text(headers: Headers) -> tuple[tuple[str, str], ...]:
    return tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in headers)
