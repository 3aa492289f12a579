"""The request journal: the bounded record (mockserver/domain/journal.py) and the middleware
that fills it (mockserver/server/edge.py)."""

from __future__ import annotations

import asyncio
import hashlib
import re

import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.backend import Backend
from mockserver.domain.journal import Journal, JournalEntry, Record, fingerprint
from mockserver.server.edge import ApiEdge
from mockserver.server.faults import ConnectionDropped

BEARER = [(b"authorization", b"Bearer k-1")]


def record(
    n: int,
    *,
    path: str | None = None,
    status: int = 200,
    ms: float = 1.0,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> Record:
    """The n-th request: at n seconds, GET /r<n>."""
    return (float(n), "GET", path or f"/r{n}", status, ms, headers if headers is not None else [])


def paths(entries: list[JournalEntry]) -> list[str]:
    return [entry.path for entry in entries]


def filled(size: int, count: int) -> Journal:
    journal = Journal(size)
    for n in range(count):
        journal.record(record(n))
    return journal


# --- the bounded record -------------------------------------------------------------------------


def test_entries_are_oldest_first() -> None:
    journal = filled(10, 4)
    assert paths(journal.entries()) == ["/r0", "/r1", "/r2", "/r3"]
    assert [e.at for e in journal.entries()] == [0.0, 1.0, 2.0, 3.0]
    assert len(journal) == 4


@pytest.mark.parametrize(("size", "count"), [(3, 5), (1, 4), (5, 5), (1000, 1500)])
def test_only_the_newest_size_records_are_kept(size: int, count: int) -> None:
    journal = filled(size, count)
    kept = min(size, count)
    assert len(journal) == kept
    assert paths(journal.entries()) == [f"/r{n}" for n in range(count - kept, count)]


def test_size_zero_keeps_nothing() -> None:
    journal = filled(0, 3)
    assert len(journal) == 0
    assert journal.entries() == []


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (None, ["/r0", "/r1", "/r2", "/r3", "/r4"]),
        (2, ["/r3", "/r4"]),
        (1, ["/r4"]),
        (5, ["/r0", "/r1", "/r2", "/r3", "/r4"]),
        (50, ["/r0", "/r1", "/r2", "/r3", "/r4"]),
        (0, []),
    ],
)
def test_limit_keeps_the_newest(limit: int | None, expected: list[str]) -> None:
    assert paths(filled(10, 5).entries(limit)) == expected


def test_resize_smaller_keeps_the_newest_and_stays_bounded() -> None:
    journal = filled(10, 6)
    journal.resize(2)
    assert paths(journal.entries()) == ["/r4", "/r5"]
    journal.record(record(6))
    assert paths(journal.entries()) == ["/r5", "/r6"]


def test_resize_larger_keeps_everything_and_makes_room() -> None:
    journal = filled(2, 4)
    journal.resize(4)
    assert paths(journal.entries()) == ["/r2", "/r3"]
    for n in (4, 5, 6):
        journal.record(record(n))
    assert paths(journal.entries()) == ["/r3", "/r4", "/r5", "/r6"]


def test_resize_to_zero_empties_it() -> None:
    journal = filled(5, 3)
    journal.resize(0)
    journal.record(record(9))
    assert journal.entries() == []


def test_clear_empties_it_and_keeps_the_bound() -> None:
    journal = filled(3, 3)
    journal.clear()
    assert (len(journal), journal.entries()) == (0, [])
    for n in range(5):
        journal.record(record(n))
    assert paths(journal.entries()) == ["/r2", "/r3", "/r4"]


def test_entry_fields() -> None:
    journal = Journal(5)
    journal.record((12.5, "POST", "/x", 202, 1.23456789, BEARER))
    assert journal.entries() == [
        JournalEntry(
            at=12.5,
            method="POST",
            path="/x",
            status=202,
            duration_ms=1.235,  # rounded to microseconds
            owner=fingerprint("k-1"),
            headers=(("authorization", f"Bearer {fingerprint('k-1')}"),),
        )
    ]


def test_a_dropped_connection_is_status_0() -> None:
    journal = Journal(5)
    journal.record(record(1, status=0))
    assert journal.entries()[0].status == 0


# --- fingerprints -------------------------------------------------------------------------------


def test_fingermadeis_short_stable_and_not_the_key() -> None:
    key = "sk-live-very-secret-key-123"
    made = fingerprint(key)
    assert re.fullmatch(r"key-[0-9a-f]{12}", made), made
    assert made == "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]
    assert fingerprint(key) == made
    assert key not in made
    assert fingerprint(key + "x") != made
    assert fingerprint("ключ") == "key-" + hashlib.sha256("ключ".encode()).hexdigest()[:12]


@pytest.mark.parametrize(
    ("headers", "owner"),
    [
        ([(b"authorization", b"Bearer k-1")], "k-1"),
        ([(b"authorization", b"bearer k-1")], "k-1"),
        ([(b"authorization", b"BEARER   k-1  ")], "k-1"),
        ([(b"accept", b"*/*"), (b"authorization", b"Bearer k-1")], "k-1"),
        ([(b"authorization", b"Bearer k-\xe9")], "k-\xe9"),  # latin-1, as ASGI gives it
        ([(b"authorization", b"Basic dXNlcjpwYXNz")], None),
        ([(b"authorization", b"Bearer ")], None),
        ([(b"authorization", b"Bearer")], None),
        ([(b"authorization", b"")], None),
        ([(b"accept", b"*/*")], None),
        ([], None),
    ],
)
def test_owner_is_the_bearer_keys_fingerprint(
    headers: list[tuple[bytes, bytes]], owner: str | None
) -> None:
    journal = Journal(1)
    journal.record(record(0, headers=headers))
    assert journal.entries()[0].owner == (None if owner is None else fingerprint(owner))


# --- the middleware -----------------------------------------------------------------------------


def scope(path: str, method: str = "GET", kind: str = "http") -> Scope:
    return {
        "type": kind,
        "method": method,
        "path": path,
        "headers": [(b"authorization", b"Bearer k-1")],
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def collect(messages: list[Message]) -> Send:
    async def send(message: Message) -> None:
        messages.append(message)

    return send


def make_backend(clock: ManualClock, size: int = 10) -> Backend:
    return Backend(Settings(seed=1, journal_size=size), clock)


def answering(status: int, advance: float = 0.0, clock: ManualClock | None = None) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if clock is not None:
            clock.advance(advance)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def test_middleware_records_method_path_status_owner_and_arrival_time() -> None:
    clock = ManualClock(start=100.0)
    backend = make_backend(clock)
    # The handler takes 30 fake seconds: the entry keeps the time the request arrived.
    middleware = ApiEdge(answering(418, 30, clock), backend)
    messages: list[Message] = []
    asyncio.run(middleware(scope("/teapot", "POST"), receive, collect(messages)))
    assert messages[0]["status"] == 418, "the answer must pass through untouched"
    (entry,) = backend.journal.entries()
    assert (entry.at, entry.method, entry.path, entry.status) == (100.0, "POST", "/teapot", 418)
    assert entry.owner == fingerprint("k-1")
    assert entry.duration_ms >= 0


def test_the_control_plane_is_not_journalled() -> None:
    app = create_app(Settings(), clock=ManualClock())
    with TestClient(app) as client:
        for path in ("/_mock/health", "/_mock/reset", "/_mock/tasks/x/succeed", "/_mock"):
            client.post(path)
        client.get("/openapi.json")
    assert [entry.path for entry in app.backend.journal.entries()] == ["/openapi.json"]


def test_middleware_skips_non_http_scopes() -> None:
    backend = make_backend(ManualClock())
    middleware = ApiEdge(answering(200), backend)
    asyncio.run(middleware(scope("/anything", kind="websocket"), receive, collect([])))
    assert backend.journal.entries() == []
    asyncio.run(middleware(scope("/_mockery"), receive, collect([])))
    assert paths(backend.journal.entries()) == ["/_mockery"]


def test_middleware_records_a_drop_as_status_0_and_lets_it_through() -> None:
    backend = make_backend(ManualClock())

    async def dropping(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ConnectionDropped("injected fault: dropped")

    middleware = ApiEdge(dropping, backend)
    with pytest.raises(ConnectionDropped):
        asyncio.run(middleware(scope("/poll"), receive, collect([])))
    assert [e.status for e in backend.journal.entries()] == [0]


def test_middleware_records_500_when_the_app_dies_before_answering() -> None:
    backend = make_backend(ManualClock())

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    middleware = ApiEdge(broken, backend)
    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(middleware(scope("/broken"), receive, collect([])))
    assert [(e.path, e.status) for e in backend.journal.entries()] == [("/broken", 500)]


def test_middleware_follows_the_backends_journal_size() -> None:
    backend = make_backend(ManualClock(), size=2)
    middleware = ApiEdge(answering(200), backend)
    for n in range(4):
        asyncio.run(middleware(scope(f"/r{n}"), receive, collect([])))
    assert paths(backend.journal.entries()) == ["/r2", "/r3"]
    backend.configure(Settings(seed=1, journal_size=3))
    asyncio.run(middleware(scope("/r4"), receive, collect([])))
    assert paths(backend.journal.entries()) == ["/r2", "/r3", "/r4"]
    backend.reset()
    assert backend.journal.entries() == []
