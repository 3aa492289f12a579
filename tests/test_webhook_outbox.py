"""The webhook outbox and schedule in the backend: what a create owes, when each attempt is due,
backoff, terminal failure, leases; the same for the in-memory, the state-file and the Redis
outbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from mockserver.domain.backend import Backend
from mockserver.domain.clock import ManualClock
from mockserver.domain.deliveries import Attempt
from mockserver.domain.errors import InvalidRequest, WebhookNotFound
from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.outbox import Delivery
from mockserver.domain.scenarios import FAILURES
from mockserver.domain.settings import Settings
from mockserver.domain.tasks import Status
from mockserver.domain.webhooks import event_id
from tests.helpers import open_backend, open_redis_backend
from tests.redis_server import RedisServer

URL = "http://127.0.0.1:9/hook"
SETTINGS = Settings(clock="virtual", seed=3, webhook_backoff=5.0, webhook_attempts=3)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "memory":
        made = Backend(SETTINGS, ManualClock(1_800_000_000.0))
    elif request.param == "sqlite":
        made = open_backend(tmp_path / "state.db", SETTINGS)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        made = open_redis_backend(server.url, server.prefix(), SETTINGS)
    yield made
    made.store.close()


def create(backend: Backend, owner: str = "key", scenario: str | None = None) -> str:
    request = GenerationRequest("a cat", ImageRef("url", url="https://example.com/a.png"))
    return backend.create_task(owner, request, scenario, origin="http://fake").id


def answer(backend: Backend, delivery: Delivery, status: int | None) -> Delivery:
    """Report one attempt of ``delivery`` as the scheduler would."""
    webhooks = backend.webhooks
    attempt = Attempt(
        delivery_id=delivery.id,
        event_id=delivery.event_id,
        event=delivery.event,
        task_id=delivery.task_id,
        endpoint_id=delivery.endpoint_id,
        url=URL,
        attempt=delivery.attempts + 1,
        at=backend.clock.now(),
        status=status,
        error=None if status else "refused",
        duration_ms=1.0,
        outcome=webhooks.outcome_of(delivery, status),
    )
    return webhooks.record(delivery, attempt, backend.clock.now())


def claim(backend: Backend, wall: float = 1.0) -> list[Delivery]:
    return backend.webhooks.claim(backend.clock.now(), wall)


def test_without_endpoints_a_create_owes_nothing(backend: Backend) -> None:
    create(backend)
    assert backend.webhooks.next_due() is None
    assert claim(backend) == []


def test_a_create_owes_created_now_and_its_end_when_the_plan_says(backend: Backend) -> None:
    backend.webhooks.register(URL)
    task_id = create(backend)
    task = backend.find(task_id)
    due = claim(backend)
    assert [(d.event, d.event_id, d.origin) for d in due] == [
        ("task.created", event_id(task_id, "task.created"), "http://fake")
    ]
    answer(backend, due[0], 204)
    end = task.created_at + (task.plan.duration or 0)
    assert backend.webhooks.next_due() == end
    backend.advance(end - backend.clock.now() - 0.01)
    assert claim(backend) == []  # not a moment early
    backend.advance(0.01)
    assert [d.event for d in claim(backend)] == ["task.succeeded"]


def test_stuck_tasks_owe_no_end_and_failed_ones_owe_task_failed(backend: Backend) -> None:
    backend.webhooks.register(URL, ["task.succeeded", "task.failed"])
    create(backend, scenario="stuck")
    failed = create(backend, scenario="fail:3002")
    backend.advance(3600)
    assert [(d.event, d.task_id) for d in claim(backend)] == [("task.failed", failed)]


def test_a_failing_receiver_is_retried_with_doubling_backoff_then_failed(backend: Backend) -> None:
    backend.webhooks.register(URL, ["task.created"])
    create(backend)
    (first,) = claim(backend)
    start = backend.clock.now()
    after = answer(backend, first, 500)
    assert (after.state, after.attempts, after.next_at) == ("pending", 1, start + 5.0)
    backend.advance(5.0)
    (second,) = claim(backend)
    assert second.event_id == first.event_id  # the same event, attempted again
    after = answer(backend, second, None)
    assert after.next_at == backend.clock.now() + 10.0  # twice the wait
    backend.advance(10.0)
    (third,) = claim(backend)
    assert backend.webhooks.outcome_of(third, 500) == "failed"  # the last of 3 attempts
    assert answer(backend, third, 500).state == "failed"
    backend.advance(1000)
    assert claim(backend) == []
    assert backend.webhooks.store.counts() == {
        "pending": 0,
        "delivered": 0,
        "failed": 1,
        "dropped": 0,
    }


def test_a_claimed_delivery_is_leased_until_its_answer(backend: Backend) -> None:
    backend.webhooks.register(URL, ["task.created"])
    create(backend)
    (held,) = claim(backend, wall=100.0)
    assert claim(backend, wall=101.0) == []  # another worker finds nothing to do
    # A worker killed mid-attempt only delays it: past the lease it is due again.
    again = claim(backend, wall=100.0 + SETTINGS.webhook_timeout + 6)
    assert [d.id for d in again] == [held.id]


def test_forcing_an_end_replaces_the_planned_one(backend: Backend) -> None:
    backend.webhooks.register(URL, ["task.succeeded", "task.failed"])
    task_id = create(backend)
    backend.force(task_id, Status.FAILED, FAILURES[3002])
    due = claim(backend)
    assert [d.event for d in due] == ["task.failed"]
    backend.advance(3600)
    assert claim(backend) == []  # the planned task.succeeded is gone


def test_endpoints_filter_by_key_and_event(backend: Backend) -> None:
    backend.webhooks.register(URL, ["task.created"], key="alice")
    backend.webhooks.register(URL + "2", ["task.created"])
    create(backend, owner="bob")
    create(backend, owner="alice")
    owners = sorted(
        (d.endpoint_id.startswith("we_"), backend.find(d.task_id).owner) for d in claim(backend)
    )
    assert owners == [(True, "alice"), (True, "alice"), (True, "bob")]


def test_redelivery_sends_one_event_again_with_its_id(backend: Backend) -> None:
    backend.webhooks.register(URL, ["task.created"])
    create(backend)
    (first,) = claim(backend)
    answer(backend, first, 200)
    assert claim(backend) == []
    again = backend.webhooks.redeliver(first.event_id, backend.clock.now())
    assert [d.id for d in again] == [first.id]
    (second,) = claim(backend)
    assert (second.event_id, second.attempts) == (first.event_id, 0)
    with pytest.raises(WebhookNotFound):
        backend.webhooks.redeliver("evt_nope", backend.clock.now())


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"url": "ftp://x/y"}, "url", "format"),
        ({"url": "https://" + "a" * 2048}, "url", "length"),
        ({"url": 5}, "url", "type"),
        ({"url": URL, "events": ["task.running"]}, "events", "enum"),
        ({"url": URL, "events": []}, "events", "type"),
        ({"url": URL, "description": "d" * 201}, "description", "length"),
    ],
)
def test_bad_endpoints_are_refused_naming_the_field(
    backend: Backend, fields: dict[str, object], field: str, rule: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        backend.webhooks.register(**fields)
    assert (caught.value.field, caught.value.rule) == (field, rule)


def test_at_most_five_endpoints_per_key(backend: Backend) -> None:
    for n in range(4):
        backend.webhooks.register(f"{URL}/{n}")
    backend.webhooks.register(URL, key="alice")  # alice: four for everyone and her own
    with pytest.raises(InvalidRequest, match="at most 5"):
        backend.webhooks.register(URL, key="alice")
    with pytest.raises(InvalidRequest, match="every key"):
        backend.webhooks.register(URL)  # would give alice a sixth
    backend.webhooks.register(URL, key="bob")  # bob has room
    assert len(backend.webhooks.endpoints()) == 6


def test_settings_endpoints_share_the_secret_and_cannot_be_deleted(backend: Backend) -> None:
    backend.configure(
        msgspec.structs.replace(SETTINGS, webhooks=(URL,), webhook_secret="whsec_abcdefgh")
    )
    (endpoint,) = backend.webhooks.endpoints()
    assert (endpoint.url, endpoint.secret, endpoint.source) == (URL, "whsec_abcdefgh", "settings")
    with pytest.raises(InvalidRequest, match="settings"):
        backend.webhooks.remove(endpoint.id)


def test_reset_forgets_endpoints_and_deliveries(backend: Backend) -> None:
    made = backend.webhooks.register(URL)
    create(backend)
    backend.reset()
    assert backend.webhooks.endpoints() == []
    assert backend.webhooks.next_due() is None
    with pytest.raises(WebhookNotFound):
        backend.webhooks.remove(made.id)
