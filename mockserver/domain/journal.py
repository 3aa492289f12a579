"""A bounded record of recent requests, for tests and the control plane to look at.

Recording sits on every request's path, so it keeps little and does little. A request's
headers are kept as ASGI gave them when they are small (at most :data:`MAX_HEADERS` of them,
:data:`MAX_HEADER_BYTES` in all: every ordinary request), and are bounded and redacted when
someone reads the journal; a bigger head is cut to that bound at once (each value at
:data:`MAX_VALUE_BYTES`), so no request can make an entry hold more. What leaves the journal is
always redacted: the bearer key becomes its fingerprint, cookies and tokens become ``***``. The
query string is not kept at all.

Bodies (the request's as it was read, the answer's when it is JSON) are kept as they came when
small, which costs nothing but a reference; of a bigger one only a bounded excerpt is kept
(domain/excerpts.py), and long base64 runs (images) are shown by their start and length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Protocol

from mockserver.domain.excerpts import MAX_BODY_BYTES, bounded, shortened
from mockserver.domain.keys import bearer_key, fingerprint

# (at, method, path, status, duration_ms, request headers as ASGI gives them)
Record = tuple[float, str, str, int, float, list[tuple[bytes, bytes]]]
Headers = tuple[tuple[bytes, bytes], ...]
# A record with the request's and the answer's bodies (b"": none seen).
_Stored = tuple[float, str, str, int, float, list[tuple[bytes, bytes]], bytes, bytes]
MAX_HEADERS = 32
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
    request_body: str | None = None  # shortened (domain/excerpts.py); None: no body was read
    response_body: str | None = None  # a JSON answer's, shortened; None: not JSON


__all__ = [
    "Journal",
    "JournalEntry",
    "Journals",
    "Record",
    "entry_of",
    "fingerprint",
    "kept_headers",
    "shortened",
]


class Journals(Protocol):
    """What the backend and the server ask of a journal: this process's :class:`Journal`, or
    one shared by every replica (``redis_journal.RedisJournal``)."""

    @property
    def recorded(self) -> int:
        """Requests recorded since the journal was made or cleared."""

    def record(
        self, record: Record, request_body: bytes = b"", response_body: bytes = b""
    ) -> None: ...

    def entries(self, limit: int | None = None) -> list[JournalEntry]: ...

    def resize(self, size: int) -> None: ...

    def clear(self) -> None: ...

    def __len__(self) -> int: ...


class _Kept(tuple[tuple[bytes, bytes], ...]):
    """Headers already bounded and redacted (an oversized head's, cut when recorded)."""

    owner: str | None = None


class Journal:
    """The last ``size`` requests, oldest first; older ones fall off the end."""

    def __init__(self, size: int) -> None:
        self._records: deque[_Stored] = deque(maxlen=size)
        self.recorded = 0  # requests recorded since the journal was made or cleared

    def record(self, record: Record, request_body: bytes = b"", response_body: bytes = b"") -> None:
        """Keep one request (and the bodies seen: the request's as read, the JSON answer's)."""
        if len(request_body) > MAX_BODY_BYTES:  # (the edge hands over bounded excerpts)
            request_body = bounded(request_body, b"", len(request_body))
        if len(response_body) > MAX_BODY_BYTES:
            response_body = bounded(response_body, b"", len(response_body))
        headers = record[5]
        if len(headers) > MAX_HEADERS or (
            sum(map(len, chain.from_iterable(headers))) > MAX_HEADER_BYTES
        ):
            kept, owner = kept_headers(headers)
            cut = _Kept(kept)
            cut.owner = owner
            record = (*record[:5], cut)  # type: ignore[assignment]
        self._records.append((*record, request_body, response_body))
        self.recorded += 1

    def entries(self, limit: int | None = None) -> list[JournalEntry]:
        records = list(self._records)
        if limit is not None:
            records = records[-limit:] if limit else []
        entries = []
        for at, method, path, status, ms, headers, asked, answered in records:
            if isinstance(headers, _Kept):
                kept, owner = tuple(headers), headers.owner
            else:
                kept, owner = kept_headers(headers)
            entries.append(_entry((at, method, path, status, ms), kept, owner, asked, answered))
        return entries

    def resize(self, size: int) -> None:
        self._records = deque(self._records, maxlen=size)

    def clear(self) -> None:
        self._records.clear()
        self.recorded = 0

    def __len__(self) -> int:
        return len(self._records)


def entry_of(record: Record, request_body: bytes = b"", response_body: bytes = b"") -> JournalEntry:
    """One record as the journal shows it: headers bounded and redacted, bodies shortened."""
    at, method, path, status, ms, headers = record
    kept, owner = kept_headers(headers)
    if len(request_body) > MAX_BODY_BYTES:
        request_body = bounded(request_body, b"", len(request_body))
    if len(response_body) > MAX_BODY_BYTES:
        response_body = bounded(response_body, b"", len(response_body))
    return _entry((at, method, path, status, ms), kept, owner, request_body, response_body)


def _entry(
    head: tuple[float, str, str, int, float],
    kept: Headers,
    owner: str | None,
    asked: bytes,
    answered: bytes,
) -> JournalEntry:
    at, method, path, status, ms = head
    return JournalEntry(
        at,
        method,
        path,
        status,
        round(ms, 3),
        owner,
        _text(kept),
        shortened(asked) if asked else None,
        shortened(answered) if answered else None,
    )


def kept_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[Headers, str | None]:
    """What the journal shows of request ``headers`` (bounded and redacted, see the module),
    and the owner: the fingerprint of the bearer key, if any."""
    kept: list[tuple[bytes, bytes]] = []
    room = MAX_HEADER_BYTES
    owner = None
    for name, value in headers:
        if name in SECRET_HEADERS:
            if name == b"authorization":
                value, owner = _redacted_authorization(value)
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
