"""Webhook faults a receiver must survive, on demand (scenario tokens, the control plane's queue)
and by seeded rates: duplicate, out-of-order, delay, drop, bad signature, stale, replay."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from mockserver.domain.settings import Settings
from mockserver.domain.webhooks import WebhookFaults
from tests.helpers import Fake, fake_app
from tests.webhook_receiver import Receiver, receiver

SETTINGS = Settings(seed=2, webhook_backoff=5.0)
SCENARIO = "X-Wan-Mock-Scenario"


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as got:
        yield got


def served(hook: Receiver, settings: Settings = SETTINGS) -> Any:
    """A fake with one endpoint: ``hook``, which verifies at the fake's clock (400 if not)."""

    class Started:
        def __enter__(self) -> Fake:
            self.context = fake_app(settings)
            fake = self.context.__enter__()
            made = fake.client.post("/_mock/webhooks", json={"url": hook.url})
            hook.secret = made.json()["secret"]
            hook.clock = fake.clock.now
            return fake

        def __exit__(self, *exc: Any) -> None:
            self.context.__exit__(*exc)

    return Started()


def run(hook: Receiver, token: str, seconds: float = 3600) -> tuple[list[dict[str, Any]], str]:
    """One task with ``token``, the clock moved ``seconds``: the attempts logged, the task id."""
    with served(hook) as fake:
        task_id = fake.create(headers={SCENARIO: token})
        fake.ok("POST", "/_mock/clock/advance", json={"seconds": seconds})
        found = fake.ok("GET", "/_mock/webhooks/deliveries")["attempts"]
    return found, task_id


def kinds(hook: Receiver) -> list[tuple[str, int]]:
    """(event type, status answered) of each request the receiver got, in order."""
    return [(r.body.split(b'"type":"')[1].split(b'"')[0].decode(), r.status) for r in hook.received]


def test_duplicate_sends_each_event_twice_with_one_id(hook: Receiver) -> None:
    attempts, _ = run(hook, "webhook:duplicate")
    assert kinds(hook) == [("task.created", 200)] * 2 + [("task.succeeded", 200)] * 2
    ids = [r.headers["x-mulerouter-webhook-id"] for r in hook.received]
    assert ids[0] == ids[1] != ids[2] == ids[3]
    assert [a["outcome"] for a in attempts] == ["delivered", "duplicate"] * 2


def test_out_of_order_sends_the_end_before_the_creation(hook: Receiver) -> None:
    run(hook, "webhook:out-of-order")
    assert [kind for kind, _ in kinds(hook)] == ["task.succeeded", "task.created"]


def test_delay_holds_each_event_a_minute(hook: Receiver) -> None:
    with served(hook) as fake:
        task_id = fake.create(headers={SCENARIO: "webhook:delay"})
        fake.ok("POST", "/_mock/clock/advance", json={"seconds": 59})
        assert hook.count() == 0  # without the fault task.created would be out already
        fake.ok("POST", "/_mock/clock/advance", json={"seconds": 61})
        created_at = fake.backend.find(task_id).created_at
    stamps = [int(r.headers["x-mulerouter-webhook-timestamp"]) for r in hook.received]
    assert len(stamps) == 2
    assert stamps[0] == int(created_at + 60)


def test_drop_never_sends_and_says_so_in_the_log(hook: Receiver) -> None:
    attempts, _ = run(hook, "webhook:drop")
    assert hook.count() == 0
    assert [(a["outcome"], a["fault"], a["status"]) for a in attempts] == [
        ("dropped", "drop", None)
    ] * 2


@pytest.mark.parametrize("token", ["webhook:bad-signature", "webhook:stale"])
def test_a_forged_or_stale_first_attempt_is_refused_then_retried_genuine(
    hook: Receiver, token: str
) -> None:
    attempts, _ = run(hook, token, seconds=60)
    # A receiver that checks refuses the first attempt; the retry is genuine.
    assert sorted(kinds(hook)) == [
        ("task.created", 200),
        ("task.created", 400),
        ("task.succeeded", 200),
        ("task.succeeded", 400),
    ]
    for event in ("task.created", "task.succeeded"):
        mine = [a for a in attempts if a["event"] == event]
        assert [(a["fault"], a["status"]) for a in mine] == [
            (token.split(":")[1], 400),
            (None, 200),
        ]


def test_replay_sends_a_delivered_event_again_with_its_old_signature(hook: Receiver) -> None:
    attempts, _ = run(hook, "webhook:replay", seconds=1200)
    first, *_, replayed = [r for r in hook.received if b"task.created" in r.body]
    assert replayed.headers == first.headers  # the very request: id, timestamp, signature
    assert replayed.body == first.body
    assert replayed.status == 400  # ten minutes later it is stale for a careful receiver
    assert sorted(a["outcome"] for a in attempts) == ["delivered"] * 2 + ["replayed"] * 2


def test_the_control_plane_queue_switches_a_fault_on_for_the_next_tasks(hook: Receiver) -> None:
    with served(hook) as fake:
        fake.ok("POST", "/_mock/scenarios", json={"scenario": "webhook:drop", "count": 1})
        fake.create()
        fake.create()
        fake.ok("POST", "/_mock/clock/advance", json={"seconds": 60})
        log = fake.ok("GET", "/_mock/webhooks/deliveries")["attempts"]
    assert sorted(a["outcome"] for a in log) == ["delivered"] * 2 + ["dropped"] * 2
    bad = fake.client.post("/_mock/scenarios", json={"scenario": "webhook:sometimes"})
    assert bad.status_code == 400
    assert "webhook:<duplicate|" in bad.json()["detail"]


def test_rates_are_seeded_same_seed_same_faults(hook: Receiver) -> None:
    rates = msgspec.structs.replace(SETTINGS, webhook_faults=WebhookFaults(drop=0.5))

    def dropped() -> list[int]:
        with served(hook, rates) as fake:
            made = [fake.create() for _ in range(20)]
            fake.ok("POST", "/_mock/clock/advance", json={"seconds": 60})
            log = fake.ok("GET", "/_mock/webhooks/deliveries")["attempts"]
        lost = {a["task_id"] for a in log if a["outcome"] == "dropped"}
        return [n for n, task_id in enumerate(made) if task_id in lost]

    first = dropped()
    assert 4 <= len(first) <= 16
    assert dropped() == first
