"""One suite for every TaskStore: the in-memory default, the SQLite file and Redis behave
alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.planning import Decision
from mockserver.domain.redis_store import RedisStore, connect
from mockserver.domain.scenarios import SAFETY_FAILURE, parse_scenario
from mockserver.domain.sqlite_store import SQLiteStore, decode_task, encode_task, open_database
from mockserver.domain.store import MemoryStore, TaskStore, retired_at
from mockserver.domain.tasks import Plan, Status, Task
from tests.helpers import START, task
from tests.redis_server import RedisServer

T0 = START
STUCK = Plan((Status.PENDING, Status.RUNNING), (0.0, 1.0))


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TaskStore]:
    made: TaskStore
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SQLiteStore(open_database(tmp_path / "db"))
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        made = RedisStore(connect(server.url), server.prefix())
    yield made
    made.close()


def test_add_get_contains_len(store: TaskStore) -> None:
    first = task(1)
    store.add(first)
    assert store.get(first.id) == first
    assert first.id in store
    assert "missing" not in store
    assert store.get("missing") is None
    assert len(store) == 1


def test_an_id_is_stored_once(store: TaskStore) -> None:
    store.add(task(1))
    with pytest.raises(KeyError):
        store.add(task(1))
    assert len(store) == 1


def test_tasks_come_oldest_first(store: TaskStore) -> None:
    for n in (3, 1, 2):
        store.add(task(n, at=T0 + n))
    assert [t.request.prompt for t in store.tasks()] == ["prompt 3", "prompt 1", "prompt 2"]


def test_a_forced_task_is_saved(store: TaskStore) -> None:
    stuck = task(1, plan=STUCK)
    store.add(stuck)
    stuck.force(Status.FAILED, T0 + 5, SAFETY_FAILURE)
    store.save(stuck)
    again = store.get(stuck.id)
    assert again is not None
    assert again.state_at(T0 + 5).failure == SAFETY_FAILURE


def test_purge_forgets_tasks_retired_before_the_cutoff(store: TaskStore) -> None:
    store.add(task(1, at=T0))  # finishes at T0 + 3
    store.add(task(2, at=T0, plan=STUCK))  # never finishes: retention from creation
    store.add(task(3, at=T0 + 10))  # finishes at T0 + 13
    assert store.purge(T0 + 2) == 1  # only the stuck one retired before T0 + 2
    assert store.purge(T0 + 4) == 1
    assert [t.request.prompt for t in store.tasks()] == ["prompt 3"]
    assert store.purge(T0 + 13) == 0
    assert store.purge(T0 + 13.5) == 1
    assert len(store) == 0


def test_clear(store: TaskStore) -> None:
    store.add(task(1))
    store.clear()
    assert len(store) == 0
    assert task(1).id not in store


def test_retention_starts_when_a_task_finishes_or_at_creation_if_it_never_does() -> None:
    assert retired_at(task(1)) == T0 + 3
    assert retired_at(task(1, plan=STUCK)) == T0


@pytest.mark.parametrize(
    "decision",
    [
        None,
        Decision(parse_scenario("fail:safety"), "header"),
        Decision(parse_scenario("slow"), "queue"),
    ],
)
def test_the_codec_keeps_every_field(decision: Decision | None) -> None:
    image = ImageRef("base64", format="PNG", width=640, height=480, size_bytes=1234)
    request = GenerationRequest(
        "p", image, negative_prompt="n", resolution="1080P", duration=10, seed=7, last_frame=image
    )
    failed = Plan((Status.PENDING, Status.FAILED), (0.0, 2.5), SAFETY_FAILURE)
    original = Task("id", "owner", T0, request, failed, decision)
    assert decode_task("id", encode_task(original)) == original


def test_the_sqlite_file_keeps_tasks_across_connections(tmp_path: Path) -> None:
    first = SQLiteStore(open_database(tmp_path / "db"))
    first.add(task(1))
    first.close()
    assert not (tmp_path / "db-wal").exists() or (tmp_path / "db-wal").stat().st_size == 0
    again = SQLiteStore(open_database(tmp_path / "db"))
    assert again.get(task(1).id) == task(1)
    again.close()


def test_newest_comes_newest_first_and_lazily(store: TaskStore) -> None:
    for n in range(5):
        store.add(task(n))
    newest = store.newest()
    assert [next(newest).id for _ in range(2)] == [task(4).id, task(3).id]
    assert [t.id for t in store.newest()] == [task(n).id for n in reversed(range(5))]
