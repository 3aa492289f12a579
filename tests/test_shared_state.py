"""Several backends over one state act as one fake (as ``--workers`` processes over a file, or
replicas over Redis, do), and a backend opened on an existing file carries on where the last
one stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from mockserver.domain.backend import OWNER_CACHE, PURGE_EVERY, Backend
from mockserver.domain.clock import ManualClock, MockClock
from mockserver.domain.errors import TaskNotFound
from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.scenarios import SAFETY_FAILURE
from mockserver.domain.settings import Settings
from mockserver.domain.sqlite_store import SQLiteStore, open_database
from mockserver.domain.tasks import Status
from tests.helpers import SHARED_SETTINGS, open_backend, open_redis_backend
from tests.redis_server import RedisServer

REQUEST = GenerationRequest("a cat", ImageRef("url", url="https://example.com/cat.png"))


@pytest.fixture(params=["sqlite", "redis"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Backend, Backend]]:
    """Two processes' backends over one state: a SQLite file, or Redis (two replicas)."""
    if request.param == "sqlite":
        a, b = open_backend(tmp_path / "db"), open_backend(tmp_path / "db")
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = server.prefix()
        a, b = open_redis_backend(server.url, prefix), open_redis_backend(server.url, prefix)
    yield a, b
    a.store.close()
    b.store.close()


def test_a_task_created_on_one_is_polled_on_the_other(pair: tuple[Backend, Backend]) -> None:
    a, b = pair
    made = a.create_task("key", REQUEST)
    b.sync()
    assert b.get_task("key", made.id).status is Status.PENDING
    with pytest.raises(TaskNotFound):
        b.get_task("another key", made.id)


def test_the_clock_moves_for_both(pair: tuple[Backend, Backend]) -> None:
    a, b = pair
    made = a.create_task("key", REQUEST)
    a.clock.advance(3600)
    a.publish()
    b.sync()
    assert b.clock.now() == a.clock.now() == SHARED_SETTINGS.virtual_start + 3600
    assert b.get_task("key", made.id).status is Status.SUCCEEDED


def test_settings_changed_on_one_apply_on_the_other(pair: tuple[Backend, Backend]) -> None:
    a, b = pair
    a.configure(msgspec.structs.replace(a.settings, failure_rate=1.0))
    b.sync()
    assert b.settings.failure_rate == 1.0
    made = b.create_task("key", REQUEST)
    b.clock.advance(3600)
    assert b.get_task("key", made.id).status is Status.FAILED


def test_queued_scenarios_are_taken_once_across_both(pair: tuple[Backend, Backend]) -> None:
    a, b = pair
    a.enqueue("stuck", 3)
    b.sync()
    assert [(q.scenario.token, q.remaining) for q in b.queue] == [("stuck", 3)]
    made = [backend.create_task("key", REQUEST) for backend in (a, b, a, b, a)]
    a.clock.advance(3600)
    a.publish()
    b.sync()
    statuses = [b.get_task("key", m.id).status for m in made]
    assert statuses.count(Status.RUNNING) == 3
    assert statuses.count(Status.SUCCEEDED) == 2
    assert not a.queue
    assert not b.queue


def test_a_reset_on_one_resets_both(pair: tuple[Backend, Backend]) -> None:
    a, b = pair
    made = b.create_task("key", REQUEST)
    b.journal.record((b.clock.now(), "GET", "/x", 200, 0.0, []))
    a.clock.advance(50)
    a.publish()
    a.reset()
    b.sync()
    assert len(b.store) == 0
    assert len(b.journal) == 0
    assert b.clock.now() == SHARED_SETTINGS.virtual_start
    with pytest.raises(TaskNotFound):
        b.get_task("key", made.id)


def test_ids_never_collide_although_both_have_one_seed(pair: tuple[Backend, Backend]) -> None:
    a, b = pair
    ids = {backend.create_task("key", REQUEST).id for _ in range(50) for backend in (a, b)}
    assert len(ids) == 100


def test_a_restart_keeps_tasks_clock_and_live_settings(tmp_path: Path) -> None:
    first = open_backend(tmp_path / "db")
    made = first.create_task("key", REQUEST)
    first.configure(msgspec.structs.replace(first.settings, failure_rate=0.5))
    first.enqueue("slow", 2)
    first.clock.advance(1.0)
    first.publish()
    first.store.close()
    again = open_backend(tmp_path / "db")
    assert again.clock.now() == SHARED_SETTINGS.virtual_start + 1.0
    assert again.settings.failure_rate == 0.5
    assert [(q.scenario.token, q.remaining) for q in again.queue] == [("slow", 2)]
    assert again.get_task("key", made.id).created_at == made.created_at
    again.store.close()


def test_new_starting_settings_win_but_the_clock_carries_on(tmp_path: Path) -> None:
    first = open_backend(tmp_path / "db")
    first.enqueue("slow", 2)
    first.clock.advance(10.0)
    first.publish()
    first.store.close()
    again = open_backend(
        tmp_path / "db", msgspec.structs.replace(SHARED_SETTINGS, failure_rate=0.25)
    )
    assert again.settings.failure_rate == 0.25
    assert not again.queue
    assert again.clock.now() == SHARED_SETTINGS.virtual_start + 10.0
    again.store.close()


@pytest.mark.parametrize("durable", [False, True])
def test_tasks_past_retention_are_purged(tmp_path: Path, durable: bool) -> None:
    settings = Settings(task_retention=100.0)
    clock = ManualClock()
    store = SQLiteStore(open_database(tmp_path / "db")) if durable else None
    backend = Backend(settings, clock, store=store)
    old = backend.create_task("key", REQUEST)
    clock.advance(50)
    kept = backend.create_task("key", REQUEST)
    clock.advance(60)  # the first finished ~5 s after creation, over 100 s ago
    assert backend.purge() == 1
    with pytest.raises(TaskNotFound):
        backend.get_task("key", old.id)
    assert backend.get_task("key", kept.id).status is Status.SUCCEEDED
    # Without being asked, every PURGE_EVERY creates.
    clock.advance(1000)
    for _ in range(PURGE_EVERY):
        backend.create_task("key", REQUEST)
    assert kept.id not in backend.store
    assert len(backend.store) == PURGE_EVERY
    backend.store.close()


def test_one_off_keys_do_not_grow_the_owner_table() -> None:
    backend = Backend(Settings(), ManualClock())
    for n in range(OWNER_CACHE * 3):
        assert backend.authenticate(f"key-{n}") == f"key-{n}"
    assert len(backend._owners) <= OWNER_CACHE
    assert backend.authenticate("key-1") is backend.authenticate("key-1")


def test_an_outcome_forced_on_one_is_seen_on_the_other(pair: tuple[Backend, Backend]) -> None:
    a, b = pair
    made = a.create_task("key", REQUEST)
    a.force(made.id, Status.FAILED, SAFETY_FAILURE)
    b.sync()
    polled = b.get_task("key", made.id)
    assert polled.status is Status.FAILED
    assert polled.failure == SAFETY_FAILURE


def test_a_restart_at_another_speed_carries_on_from_where_time_had_got() -> None:
    mono = [1000.0]
    wall = 1_790_000_000.0
    old = MockClock("real", speed=1.0, wall=lambda: wall, monotonic=lambda: mono[0])
    mono[0] += 3600  # an hour at speed 1
    reached = old.now()
    new = MockClock("real", speed=100.0, wall=lambda: wall + 3600, monotonic=lambda: mono[0])
    new.restore(old.snapshot())
    assert new.now() == pytest.approx(reached)
    mono[0] += 1  # one real second at speed 100
    assert new.now() == pytest.approx(reached + 100)
