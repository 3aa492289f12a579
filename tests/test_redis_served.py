"""Replicas of ``wan-mock serve --state redis://...`` on different ports, with no shared disk,
behave as one fake; a replica killed with -9 loses nothing another acknowledged; Redis
restarting gives 503 with Retry-After (never a 500, never a hang) and the replicas recover by
themselves."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.cli import main
from mockserver.control import Control
from mockserver.domain.keys import mask
from mockserver.domain.webhooks import event_id
from tests.helpers import wait_for
from tests.redis_server import RedisServer, free_port
from tests.server_process import ServerProcess, running_server
from tests.webhook_receiver import receiver

API = "/vendors/alibaba/v1/wan2.6-i2v/generation"
AUTH = {"Authorization": "Bearer replicas"}
BODY = {"prompt": "a cat", "image": "https://example.com/cat.png"}


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, persistent=True)  # restarted by a test: keeps what it had
    server.start()
    yield server
    server.stop()


@contextlib.contextmanager
def replicas(server: RedisServer, count: int, *extra: str) -> Iterator[list[ServerProcess]]:
    prefix = server.prefix()
    args = ("--state", server.url, "--state-prefix", prefix, "--no-access-log", *extra)
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(running_server(*args)) for _ in range(count)]


def create(client: httpx.Client, **headers: str) -> str:
    response = client.post(API, json=BODY, headers={**AUTH, **headers})
    assert response.status_code in (200, 201, 202), response.text
    task_id: str = response.json()["task_info"]["id"]
    return task_id


def status(client: httpx.Client, task_id: str) -> str:
    response = client.get(f"{API}/{task_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    found: str = response.json()["task_info"]["status"]
    return found


def test_replicas_share_tasks_outcomes_clock_settings_journal_and_reset(redis: RedisServer) -> None:
    with replicas(redis, 2, "--clock", "virtual") as (one, two):
        a, b = httpx.Client(base_url=one.base_url), httpx.Client(base_url=two.base_url)
        control_a, control_b = Control(one.base_url), Control(two.base_url)
        made = create(a)
        assert status(b, made) == "pending"
        seen = [(entry.method, entry.status) for entry in control_b.journal()]
        assert ("POST", 202) in seen  # the create answered by the other replica
        control_b.fail(made, 3002)  # forced through one, seen through the other
        assert status(a, made) == "failed"
        control_a.advance(120)
        assert control_b.clock().unix == control_a.clock().unix
        control_b.update_settings(failure_rate=1.0)
        assert control_a.settings()["failure_rate"] == 1.0
        control_b.queue("stuck", 1)
        stuck, doomed = create(a), create(b)
        control_a.advance(3600)
        assert (status(b, stuck), status(a, doomed)) == ("running", "failed")
        control_a.reset()
        assert b.get(f"{API}/{made}", headers=AUTH).status_code == 404
        assert control_b.settings()["failure_rate"] == 0.0
        for closing in (a, b, control_a, control_b):
            closing.close()


def test_kill_9_of_a_replica_loses_nothing_it_acknowledged(redis: RedisServer) -> None:
    with replicas(redis, 2) as (one, two):
        with httpx.Client(base_url=one.base_url) as a:
            made = [create(a) for _ in range(100)]
        one.process.send_signal(signal.SIGKILL)
        one.process.wait(5)
        with httpx.Client(base_url=two.base_url) as b:
            assert all(status(b, task_id) for task_id in made)
            assert Control(two.base_url).health()["tasks"] == 100


def test_redis_restarting_is_503_with_retry_after_then_recovered(redis: RedisServer) -> None:
    with replicas(redis, 1) as (one,), httpx.Client(base_url=one.base_url, timeout=5) as client:
        made = create(client)
        redis.stop()
        started = time.monotonic()
        answers = [
            client.post(API, json=BODY, headers=AUTH),
            client.get(f"{API}/{made}", headers=AUTH),
            client.get("/_mock/tasks"),
        ]
        assert time.monotonic() - started < 3.0  # short timeouts: no hang
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "1"
            assert "shared state is unavailable" in answer.json()["detail"]
        redis.start()
        # By itself, on the next request (the task kept by Redis's append-only file).
        assert status(client, made) in ("pending", "running", "succeeded")
        create(client)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://127.0.0.1:{port}/0", "Connection refused"),
        ("redis:///0", "is not a redis:// or rediss:// URL with a host"),
    ],
)
def test_serve_stops_in_one_line_when_redis_cannot_be_used(
    url: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = url.format(port=free_port())
    assert main(["serve", "--port", "0", "--state", state]) == 2
    error = capsys.readouterr().err
    assert error.startswith("wan-mock: cannot use Redis state redis://")
    assert says in error
    assert len(error.strip().splitlines()) == 1


def test_a_password_from_the_environment_is_used_and_never_shown(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, password="a-redis-password")
    server.start()
    try:
        env = {"WAN_MOCK_STATE_PASSWORD": "a-redis-password"}
        with running_server("--state", server.url, "--no-access-log", env=env) as served:
            assert "a-redis-password" not in "".join(served.output)
            with httpx.Client(base_url=served.base_url) as client:
                assert status(client, create(client)) == "pending"
            shown = Control(served.base_url).settings()["state_password"]
            assert shown == mask("a-redis-password")  # masked as every secret setting is
    finally:
        server.stop()


def test_redis_not_answering_costs_a_request_one_timeout_then_recovers(
    redis: RedisServer,
) -> None:
    with replicas(redis, 1) as (one,), httpx.Client(base_url=one.base_url, timeout=5) as client:
        made = create(client)
        assert redis.process is not None
        redis.process.send_signal(signal.SIGSTOP)  # connections open, no answers
        try:
            started = time.monotonic()
            answer = client.get(f"{API}/{made}", headers=AUTH)
            took = time.monotonic() - started
            assert answer.status_code == 503
            assert answer.headers["Retry-After"] == "1"
            # One socket timeout (0.5 s), not one per call the request makes (sync, read, journal:
            # 1.5 s and more).
            assert took < 1.4, took
        finally:
            redis.process.send_signal(signal.SIGCONT)
        time.sleep(0.5)  # past the moment calls fail at once after a timeout
        assert status(client, made) in ("pending", "running", "succeeded")


def test_webhook_events_owed_by_a_killed_replica_are_delivered_by_another(
    redis: RedisServer,
) -> None:
    # The receiver refuses until one replica is killed: the events its tasks owe are pending
    # in the shared outbox, and the other replica delivers them, each once.
    secret = "whsec_cmVkaXMtcmVwbGljYXMtc2VjcmV0"
    accept = threading.Event()
    with receiver(lambda n: 200 if accept.is_set() else 503) as hook:
        hooks = ("--webhook", hook.url, "--webhook-secret", secret, "--webhook-backoff", "0.2")
        with replicas(redis, 2, *hooks, "--webhook-timeout", "2", "--speed", "10") as (one, _):
            with httpx.Client(base_url=one.base_url) as client:
                made = [create(client) for _ in range(5)]
            wait_for(lambda: hook.count() >= 5)
            one.process.send_signal(signal.SIGKILL)
            one.process.wait(5)
            accept.set()
            owed = {event_id(t, e) for t in made for e in ("task.created", "task.succeeded")}
            wait_for(lambda: owed <= hook.delivered(), timeout=60)
            time.sleep(1.0)  # a second delivery of any event would have arrived by now
        delivered = Counter(
            r.headers["x-mulerouter-webhook-id"] for r in hook.received if r.status == 200
        )
    assert set(delivered) == owed
    assert set(delivered.values()) == {1}
