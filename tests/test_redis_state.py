"""What only the Redis state does: rate limits exact across replicas, Redis away or back empty,
task expiry in Redis, key prefixes, a clock set on another machine. (What it shares with the
state file is proven by tests/test_shared_state.py, test_store.py and test_webhook_outbox.py,
which run against both.)"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mockserver.domain.backend import Backend
from mockserver.domain.behaviour import Limits
from mockserver.domain.clock import MockClock
from mockserver.domain.errors import StateUnavailable, TaskNotFound
from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.limits import LimitExceeded
from mockserver.domain.redis_journal import RedisJournal
from mockserver.domain.redis_shared import RedisShared
from mockserver.domain.redis_store import (
    EXPIRY_SLACK_S,
    RedisStore,
    blob,
    connect,
    retention_expiry,
)
from mockserver.domain.settings import Settings
from mockserver.domain.state_urls import is_redis, shown_state
from mockserver.domain.tasks import Status, Task
from mockserver.media.cache import MediaCache
from mockserver.media.shape import video_spec
from mockserver.media.videos import Videos
from tests.helpers import DONE, SHARED_SETTINGS, open_redis_backend, picture
from tests.redis_server import RedisServer

REQUEST = GenerationRequest("a cat", ImageRef("url", url="https://example.com/cat.png"))


def limited(**limits: Any) -> Settings:
    return msgspec.structs.replace(SHARED_SETTINGS, limits=Limits(**limits))


def replicas(server: RedisServer, count: int, settings: Settings) -> list[Backend]:
    prefix = server.prefix()
    return [open_redis_backend(server.url, prefix, settings) for _ in range(count)]


def test_a_rate_is_one_window_for_every_replica(redis_server: RedisServer) -> None:
    a, b = replicas(redis_server, 2, limited(submissions_per_second=5))
    for backend in (a, b, a, b, a):
        backend.create_task("key", REQUEST)
    for backend in (a, b):
        with pytest.raises(LimitExceeded) as refused:
            backend.create_task("key", REQUEST)
        assert refused.value.limit == "submissions_per_second"
        assert refused.value.retry_after == pytest.approx(1.0)
    b.create_task("another key", REQUEST)  # per key
    a.clock.advance(1.0)
    a.publish()
    b.sync()
    b.create_task("key", REQUEST)


def test_unfinished_tasks_count_across_replicas(redis_server: RedisServer) -> None:
    a, b = replicas(redis_server, 2, limited(concurrent_tasks=2))
    first = a.create_task("key", REQUEST, "stuck")
    b.create_task("key", REQUEST, "stuck")
    with pytest.raises(LimitExceeded) as refused:
        a.create_task("key", REQUEST)
    assert refused.value.limit == "concurrent_tasks"
    b.force(first.id, Status.SUCCEEDED)  # a slot is free again, for both
    a.create_task("key", REQUEST)


def test_polls_are_limited_across_replicas(redis_server: RedisServer) -> None:
    a, b = replicas(redis_server, 2, limited(polls_per_second=3))
    made = a.create_task("key", REQUEST)
    for backend in (a, b, a):
        backend.get_task("key", made.id)
    with pytest.raises(LimitExceeded) as refused:
        b.get_task("key", made.id)
    assert refused.value.limit == "polls_per_second"


def test_concurrent_creates_on_many_replicas_never_pass_the_limit(
    redis_server: RedisServer,
) -> None:
    # Eight replicas at one frozen moment: a read-then-write limiter would let several of them
    # see four of five places taken and all take the fifth.
    backends = replicas(redis_server, 8, limited(submissions_per_second=5))
    accepted: list[str] = []
    start = threading.Barrier(len(backends))

    def hammer(backend: Backend) -> None:
        start.wait()
        for _ in range(10):
            with contextlib.suppress(LimitExceeded):
                accepted.append(backend.create_task("key", REQUEST).id)

    threads = [threading.Thread(target=hammer, args=(backend,)) for backend in backends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(accepted) == 5
    assert len(backends[0].store) == 5


def test_redis_away_is_state_unavailable_and_then_it_recovers(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, persistent=True)
    server.start()
    try:
        backend = open_redis_backend(server.url, server.prefix())
        made = backend.create_task("key", REQUEST)
        server.stop()
        for call in (
            lambda: backend.create_task("key", REQUEST),
            lambda: backend.get_task("key", made.id),
            backend.sync,
        ):
            with pytest.raises(StateUnavailable):
                call()
        server.start()
        backend.sync()
        assert backend.get_task("key", made.id).id == made.id  # kept by the append-only file
        backend.create_task("key", REQUEST)
    finally:
        server.stop()


def test_redis_back_empty_is_a_reset_for_every_replica(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)  # no persistence: a restart loses everything
    server.start()
    try:
        prefix = server.prefix()
        a, b = (open_redis_backend(server.url, prefix) for _ in range(2))
        made = a.create_task("key", REQUEST)
        a.configure(msgspec.structs.replace(a.settings, failure_rate=1.0))
        a.clock.advance(30)
        a.publish()
        server.stop()
        server.start()
        b.sync()
        a.sync()
        for backend in (a, b):
            assert backend.settings.failure_rate == 0.0
            assert backend.clock.now() == SHARED_SETTINGS.virtual_start
            with pytest.raises(TaskNotFound):
                backend.get_task("key", made.id)
        again = b.create_task("key", REQUEST)
        assert a.get_task("key", again.id).id == again.id
        # The secrets were written again: a replica started now makes the same result links.
        late = open_redis_backend(server.url, prefix)
        assert late.links.token(again.id) == a.links.token(again.id)
    finally:
        server.stop()


def test_two_prefixes_are_two_fakes(redis_server: RedisServer) -> None:
    (one,) = replicas(redis_server, 1, SHARED_SETTINGS)
    (other,) = replicas(redis_server, 1, SHARED_SETTINGS)
    made = one.create_task("key", REQUEST)
    kept = other.create_task("key", REQUEST)
    with pytest.raises(TaskNotFound):
        other.get_task("key", made.id)
    one.reset()
    other.sync()
    assert other.get_task("key", kept.id).id == kept.id


@pytest.fixture
def real(redis_server: RedisServer) -> Iterator[tuple[RedisStore, MockClock]]:
    clock = MockClock("real", speed=2.0)
    store = RedisStore(connect(redis_server.url), redis_server.prefix())
    store.expiry = retention_expiry(clock, lambda: 100.0)
    yield store, clock
    store.close()


def test_tasks_expire_in_redis_when_their_retention_ends(
    real: tuple[RedisStore, MockClock], redis_server: RedisServer
) -> None:
    store, clock = real
    backend = Backend(SHARED_SETTINGS, clock, store=store)
    made = backend.create_task("key", REQUEST)
    task = store.get(made.id)
    assert task is not None
    duration = task.plan.duration
    assert duration is not None
    ttl = redis_server.client().pttl(store.key(made.id)) / 1000
    # retention (100 s) after the task finishes, in real seconds at speed 2, plus the slack
    assert ttl == pytest.approx((duration + 100.0) / 2 + EXPIRY_SLACK_S, abs=1.0)
    clock.freeze()  # a frozen clock: Redis's time says nothing of it
    frozen = backend.create_task("key", REQUEST)
    assert redis_server.client().pttl(store.key(frozen.id)) == -1


def test_a_clock_set_on_another_machine_is_re_anchored(redis_server: RedisServer) -> None:
    settings = msgspec.structs.replace(SHARED_SETTINGS, clock="real", speed=10.0)
    a, b = replicas(redis_server, 2, settings)
    assert isinstance(b.shared, RedisShared)
    b.shared.boot = "another machine"  # its monotonic clock is not a's
    a.clock.advance(3600)
    a.publish()
    b.sync()
    assert b.clock.now() == pytest.approx(a.clock.now(), abs=1.0)


def test_state_urls() -> None:
    assert is_redis("redis://cache:6379/0")
    assert is_redis("rediss://cache/1")
    assert not is_redis("state.db")
    assert not is_redis(None)
    assert shown_state("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"
    assert shown_state("rediss://me:hunter2@cache/0") == "rediss://me:***@cache/0"
    assert shown_state("state.db") == "state.db"
    with pytest.raises(ValueError, match="redis:// or rediss://"):
        connect("http://cache:6379")
    tls = connect("rediss://:from-url@cache:6380/2").client.connection_pool
    assert tls.connection_class.__name__ == "SSLConnection"
    assert (tls.connection_kwargs["db"], tls.connection_kwargs["password"]) == (2, "from-url")
    plain = connect("redis://cache:6379/1", "from-env").client.connection_pool
    assert plain.connection_kwargs["password"] == "from-env"  # the URL has none


def test_the_journal_is_one_for_every_replica(redis_server: RedisServer) -> None:
    a, b = replicas(redis_server, 2, SHARED_SETTINGS)
    asked, answered = b'{"prompt":"a cat"}', b'{"task_info":{"status":"pending"}}'
    one = (1.0, "POST", "/one", 202, 1.5, [(b"authorization", b"Bearer sk-secret")])
    a.journal.record(one, asked, answered)
    b.journal.record((2.0, "GET", "/two", 200, 0.5, [(b"cookie", b"session=1")]))
    entries = b.journal.entries()
    assert [(e.method, e.path) for e in entries] == [("POST", "/one"), ("GET", "/two")]
    assert (entries[0].request_body, entries[0].response_body) == (
        asked.decode(),
        answered.decode(),
    )
    assert entries[1].request_body is None
    assert a.journal.recorded == b.journal.recorded == 2
    assert isinstance(b.journal, RedisJournal)
    stored = redis_server.client().lrange(b.journal.key, 0, -1)
    assert all(b"sk-secret" not in blob(item) for item in stored)
    assert entries[1].headers == (("cookie", "***"),)
    assert [e.path for e in a.journal.entries(1)] == ["/two"]
    a.configure(msgspec.structs.replace(a.settings, journal_size=1))
    assert len(b.journal) == 1
    a.reset()
    b.sync()
    assert len(a.journal) == len(b.journal) == 0
    assert b.journal.recorded == 0


def test_a_journal_entry_is_dropped_not_raised_when_redis_is_away(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        backend = open_redis_backend(server.url, server.prefix())
        server.stop()
        backend.journal.record((1.0, "GET", "/lost", 503, 0.1, []))  # returns: the answer goes out
        with pytest.raises(StateUnavailable):
            backend.journal.entries()
        server.start()
        backend.journal.record((2.0, "GET", "/kept", 200, 0.1, []))
        assert [entry.path for entry in backend.journal.entries()] == ["/kept"]
    finally:
        server.stop()


def test_an_input_image_kept_by_one_replica_is_found_by_another(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # Two replicas on two machines: each its own render cache, the image shelf in Redis.
    shelf = RedisShared(connect(redis_server.url), redis_server.prefix()).images(60.0)
    one, other = (
        Videos(MediaCache(tmp_path / name, 16 * 1024 * 1024), shelf=shelf) for name in "ab"
    )
    data = picture(64, 48)
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    image = ImageRef("base64", None, "png", 64, 48, len(data), digest)
    task = Task(
        "00000000-0000-4000-8000-000000000001", "key", 0.0, GenerationRequest("a cat", image), DONE
    )
    one.keep_images({digest: data})
    spec = video_spec(task)
    assert not other.cache.has_image(digest)
    other._fetch(spec)
    assert other.cache.image(digest) == data
