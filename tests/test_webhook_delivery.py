"""Webhook deliveries over real HTTP to a receiver on loopback, driven through the control plane
on a manual clock: what is sent, when, retries, timeouts, terminal failure and redelivery."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from mockserver.domain.settings import Settings
from mockserver.domain.webhooks import TIMESTAMP_HEADER, verify
from tests.helpers import Fake, fake_app
from tests.webhook_receiver import Receiver, receiver

SETTINGS = Settings(seed=1, webhook_backoff=5.0, webhook_attempts=4)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as got:
        yield got


@pytest.fixture
def fake(hook: Receiver) -> Iterator[Fake]:
    with fake_app(SETTINGS) as made:
        registered = made.client.post("/_mock/webhooks", json={"url": hook.url})
        assert registered.status_code == 201, registered.text
        hook.secret = registered.json()["secret"]
        yield made


def attempts(fake: Fake, **query: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = fake.ok("GET", "/_mock/webhooks/deliveries", params=query)[
        "attempts"
    ]
    return found


def test_each_transition_is_posted_signed_with_the_body_a_poll_answers(
    fake: Fake, hook: Receiver
) -> None:
    task_id = fake.create()
    pending = fake.poll(task_id)
    fake.ok("POST", "/_mock/webhooks/flush")  # (the lifespan's scheduler may be first)
    assert hook.count() == 1
    fake.ok("POST", "/_mock/clock/advance", json={"seconds": 60})
    done = fake.poll(task_id)
    created, succeeded = hook.events()
    assert (created["type"], succeeded["type"]) == ("task.created", "task.succeeded")
    assert created["data"] == {"vendor": "alibaba", "model_name": "wan2.6-i2v", "payload": pending}
    assert succeeded["data"]["payload"] == done  # the result link included
    assert created["id"] != succeeded["id"]
    assert hook.received[0].headers["content-type"] == "application/json"
    # Signed with the fake's clock: the timestamp is the moment each attempt was made.
    stamps = [int(r.headers[TIMESTAMP_HEADER.lower()]) for r in hook.received]
    ended = fake.detail(task_id)["plan"]["steps"][-1]["at"]
    assert stamps[0] == int(fake.backend.find(task_id).created_at)
    assert stamps[1] >= stamps[0]
    assert ended.startswith("20")


def test_the_running_state_sends_nothing_and_unsubscribed_events_are_not_sent(
    hook: Receiver,
) -> None:
    with fake_app(SETTINGS) as fake:
        made = fake.client.post(
            "/_mock/webhooks", json={"url": hook.url, "events": ["task.failed"]}
        )
        hook.secret = made.json()["secret"]
        fake.create()
        failing = fake.create(headers={"X-Wan-Mock-Scenario": "fail:3002"})
        fake.ok("POST", "/_mock/clock/advance", json={"seconds": 120})
    (event,) = hook.events()
    assert (event["type"], event["data"]["payload"]["task_info"]["id"]) == ("task.failed", failing)
    assert event["data"]["payload"]["task_info"]["error"]["code"] == 3002


def test_a_failing_receiver_is_retried_on_the_fake_clock_with_the_same_event_id(
    fake: Fake, hook: Receiver
) -> None:
    hook.answer = lambda n: 500 if n < 2 else 200
    fake.ok("PATCH", "/_mock/settings", json={"webhooks": []})  # only the registered one
    fake.create(headers={"X-Wan-Mock-Scenario": "stuck"})
    start = fake.now()
    fake.ok("POST", "/_mock/clock/advance", json={"seconds": 100})
    made = attempts(fake)
    assert [(a["attempt"], a["status"], a["outcome"]) for a in made] == [
        (1, 500, "retry"),
        (2, 500, "retry"),
        (3, 200, "delivered"),
    ]
    # Due at the create, 5 s later, then 10 s after that: each at its own moment.
    assert [r.headers[TIMESTAMP_HEADER.lower()] for r in hook.received] == [
        str(int(start + offset)) for offset in (0, 5, 15)
    ]
    assert len({r.headers["x-mulerouter-webhook-id"] for r in hook.received}) == 1
    assert len({r.headers["x-mulerouter-webhook-signature"] for r in hook.received}) == 3
    assert len(hook.events()) == 3  # every attempt verifies at its own timestamp


def test_after_the_last_attempt_the_delivery_is_failed(fake: Fake, hook: Receiver) -> None:
    hook.answer = lambda n: 503
    fake.create(headers={"X-Wan-Mock-Scenario": "stuck"})
    fake.ok("POST", "/_mock/clock/advance", json={"seconds": 3600})
    made = attempts(fake)
    assert [a["outcome"] for a in made] == ["retry", "retry", "retry", "failed"]
    listing = fake.ok("GET", "/_mock/webhooks")
    assert listing["deliveries"] == {"pending": 0, "delivered": 0, "failed": 1, "dropped": 0}


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(hook: Receiver) -> None:
    hook.answer = lambda n: (200, 2.0) if n == 0 else 200
    with fake_app(msgspec.structs.replace(SETTINGS, webhook_timeout=0.3)) as fake:
        made = fake.client.post("/_mock/webhooks", json={"url": hook.url})
        assert made.status_code == 201
        fake.create(headers={"X-Wan-Mock-Scenario": "stuck"})
        fake.ok("POST", "/_mock/clock/advance", json={"seconds": 10})
        first, second = attempts(fake)
    assert (first["status"], first["error"]) == (None, "no answer within 0.3 s")
    assert first["duration_ms"] < 1500
    assert (second["status"], second["outcome"]) == (200, "delivered")


def test_an_unreachable_receiver_is_retried_and_logged(fake: Fake) -> None:
    fake.client.post("/_mock/webhooks", json={"url": "http://127.0.0.1:9/closed"})
    fake.create(headers={"X-Wan-Mock-Scenario": "stuck"})
    fake.ok("POST", "/_mock/webhooks/flush")
    closed = [a for a in attempts(fake) if a["url"].endswith("/closed")]
    assert closed[0]["status"] is None
    assert "Connect" in closed[0]["error"]
    assert closed[0]["outcome"] == "retry"


def test_the_log_keeps_each_request_and_filters_by_event(fake: Fake, hook: Receiver) -> None:
    task_id = fake.create()
    fake.ok("POST", "/_mock/clock/advance", json={"seconds": 60})
    made = attempts(fake)
    assert [a["event"] for a in made] == ["task.created", "task.succeeded"]
    first = made[0]
    assert first["task_id"] == task_id
    assert first["url"] == hook.url
    headers = dict(first["headers"])
    event = verify(hook.secret, headers, first["body"].encode(), now=int(headers[TIMESTAMP_HEADER]))
    assert event["id"] == first["event_id"]
    only = attempts(fake, event_id=first["event_id"])
    assert [a["event_id"] for a in only] == [first["event_id"]]
    assert attempts(fake, limit=1) == made[-1:]


def test_an_event_is_redelivered_by_id(fake: Fake, hook: Receiver) -> None:
    fake.create(headers={"X-Wan-Mock-Scenario": "stuck"})
    fake.ok("POST", "/_mock/webhooks/flush")
    (first,) = hook.events()
    again = fake.ok("POST", f"/_mock/webhooks/events/{first['id']}/redeliver")
    assert again == {"event_id": first["id"], "deliveries": 1, "attempts": 1}
    assert [event["id"] for event in hook.events()] == [first["id"], first["id"]]
    missing = fake.client.post("/_mock/webhooks/events/evt_nope/redeliver", json={})
    assert missing.status_code == 404
    assert "evt_nope" in missing.json()["detail"]


def test_forcing_an_end_delivers_it_before_the_call_returns(fake: Fake, hook: Receiver) -> None:
    task_id = fake.create(headers={"X-Wan-Mock-Scenario": "stuck"})
    fake.ok("POST", f"/_mock/tasks/{task_id}/fail", json={"code": 3004})
    assert [e["type"] for e in hook.events()] == ["task.created", "task.failed"]
    assert hook.events()[1]["data"]["payload"]["task_info"]["error"]["code"] == 3004


def test_the_dialect_chooses_the_signature_reading(fake: Fake, hook: Receiver) -> None:
    dialect = {**fake.settings()["dialect"], "webhook_key": "base64", "webhook_digest": "base64"}
    fake.ok("PATCH", "/_mock/settings", json={"dialect": dialect})
    fake.create(headers={"X-Wan-Mock-Scenario": "stuck"})
    fake.ok("POST", "/_mock/webhooks/flush")
    (got,) = hook.received
    stamp = int(got.headers[TIMESTAMP_HEADER.lower()])
    event = verify(hook.secret, got.headers, got.body, now=stamp, key="base64", digest="base64")
    assert event["type"] == "task.created"
    assert got.headers["x-mulerouter-webhook-signature"].endswith("=")  # base64, not hex


def test_the_journal_view_shows_attempts_beside_requests_when_asked(fake: Fake) -> None:
    fake.create()
    fake.ok("POST", "/_mock/clock/advance", json={"seconds": 60})
    plain = fake.ok("GET", "/_mock/journal")["entries"]
    assert {e["method"] for e in plain} == {"POST"}  # by default the requests only
    both = fake.ok("GET", "/_mock/journal", params={"webhooks": "1"})["entries"]
    assert [e["method"] for e in both] == ["POST", "WEBHOOK", "WEBHOOK"]
    assert [e["event"] for e in both[1:]] == ["task.created", "task.succeeded"]
    assert both[1]["status"] == 200
    assert fake.ok("GET", "/_mock/journal", params={"webhooks": "1", "limit": 1})["entries"] == [
        both[-1]
    ]
