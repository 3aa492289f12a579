"""``wan-mock serve --webhook`` as a real process on the real clock: deliveries leave on their
own right after the transition, kill -9 loses no owed event (the outbox is in the state file),
and with several workers each attempt is made once."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import httpx

from mockserver.domain.webhooks import event_id
from tests.helpers import AUTH, CREATE_PATH, body, seconds, wait_for
from tests.server_process import running_server
from tests.webhook_receiver import receiver

SECRET = "whsec_c2VydmVkLXRlc3Qtc2VjcmV0"


def create(base_url: str, n: int = 1) -> list[str]:
    made = []
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=10) as client:
        for _ in range(n):
            answer = client.post(CREATE_PATH, json=body())
            assert answer.status_code == 202, answer.text
            made.append(answer.json()["task_info"]["id"])
    return made


def every_event(task_ids: list[str]) -> set[str]:
    """The ids of the created and succeeded events of these (default dev-timing) tasks."""
    return {event_id(t, e) for t in task_ids for e in ("task.created", "task.succeeded")}


def test_deliveries_leave_on_their_own_right_after_each_transition() -> None:
    with (
        receiver() as hook,
        running_server("--webhook", hook.url, "--webhook-secret", SECRET) as server,
    ):
        hook.secret = SECRET
        (task_id,) = create(server.base_url)
        answered = time.time()
        wait_for(lambda: hook.count() >= 2, timeout=30)  # dev timing: done within seconds
        plan = httpx.get(f"{server.base_url}/_mock/tasks/{task_id}").json()["plan"]
    created, ended = hook.received
    assert [e["type"] for e in hook.events()] == ["task.created", "task.succeeded"]
    # Nobody polled: the scheduler sent each on its own. Generous bounds for a loaded
    # machine (benchmarks/webhooks.py measures the latency).
    assert created.wall - answered < 1.0
    assert 0 <= ended.wall - seconds(plan["steps"][-1]["at"]) < 1.0


def test_kill_9_loses_no_owed_event_and_a_restart_resumes_delivery(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    args = ("--state", str(state), "--webhook-secret", SECRET, "--webhook-backoff", "0.5")
    with receiver(lambda n: 503) as hook:
        with running_server("--webhook", hook.url, *args) as server:
            made = create(server.base_url, 5)
            wait_for(lambda: hook.count() >= 5, timeout=30)  # attempted and refused
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(5)
        assert hook.delivered() == set()
        hook.answer = lambda n: 200
        with running_server("--webhook", hook.url, *args):
            wait_for(lambda: every_event(made) <= hook.delivered(), timeout=60)


def test_with_workers_each_attempt_is_made_by_exactly_one(tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")
    with (
        receiver() as hook,
        running_server(
            "--workers", "2", "--state", state, "--webhook", hook.url, "--webhook-secret", SECRET
        ) as server,
    ):
        made = create(server.base_url, 20)
        wait_for(lambda: every_event(made) <= hook.delivered(), timeout=60)
        time.sleep(1.0)  # a second attempt of any event would have arrived by now
        sent = Counter(r.headers["x-mulerouter-webhook-id"] for r in hook.received)
    assert set(sent) == every_event(made)
    assert set(sent.values()) == {1}


def test_the_banner_shows_a_made_up_secret_once_and_masks_a_chosen_one() -> None:
    url = "http://127.0.0.1:9/hook"
    with running_server("--webhook", url) as server:
        banner = "".join(server.output)
    assert f"webhooks to {url}, secret whsec_" in banner
    assert "made up for this run" in banner
    with running_server("--webhook", url, "--webhook-secret", SECRET) as server:
        banner = "".join(server.output)
    assert SECRET not in banner
    assert "secret whs..." in banner
