"""The budget is a hard guarantee, proved by a counting proxy in front of a served fake: no
request that a correct server could accept as a create goes out beyond ``max_creates``, whatever
the request was meant to test, and a target that accepts everything gets no more of them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver import Control, Settings
from mockserver.conformance import Report, RunOptions, run
from mockserver.conformance.budget import BudgetExceeded, Spend
from mockserver.conformance.observer import Observer
from mockserver.conformance.target import Target
from mockserver.testing.server import ServerThread
from tests.broken import Answer
from tests.contract_proxy import CREATE_PATH, Exchange, Proxy

KEY = "budget-test-key-7d1c"
ADMIN = "budget-test-admin"  # the control plane refuses the run: the fake passes for live
QUICK = {"examples": 5, "deadline": 10.0, "min_gap": 0.0}


@pytest.fixture(scope="module")
def live_like() -> Iterator[tuple[ServerThread, Proxy]]:
    with ServerThread(Settings(access_log=False, admin_token=ADMIN)) as server:
        proxy = Proxy(server.app, KEY)
        server.catcher.app = proxy
        yield server, proxy


def _run(server: ServerThread, proxy: Proxy, **options: object) -> Report:
    with Control(server.base_url, admin_token=ADMIN) as control:
        control.reset()
    proxy.seen.clear()
    return run(RunOptions(server.base_url, KEY, **{**QUICK, **options}))  # type: ignore[arg-type]


def _tasks(server: ServerThread) -> int:
    with Control(server.base_url, admin_token=ADMIN, timeout=60.0) as control:
        return len(control.tasks())


def test_max_creates_0_sends_no_create_a_correct_server_could_accept(
    live_like: tuple[ServerThread, Proxy],
) -> None:
    server, proxy = live_like
    report = _run(server, proxy, max_creates=0)
    assert report.live
    assert proxy.creates() == []  # judged by the proxy, with its own schema validator
    assert _tasks(server) == 0
    assert (report.budget.creates, report.budget.unplanned_creates) == (0, 0)
    # Generated requests whose credentials schemathesis broke kept them broken.
    posts = [e for e in proxy.seen if e.method == "POST"]
    assert any("authorization" not in e.headers for e in posts)
    # Rules a schema cannot state (image contents) were kept back, and say so.
    outcomes = {c.name: c for c in report.checks}
    rules = outcomes["rules.every_rule_rejected"]
    assert rules.outcome == "skip"
    assert any("counts against --max-creates 0" in r for r in rules.reasons)
    assert report.rules_not_exercised()
    assert "image format" in report.rules_not_exercised()
    assert report.rules["duration = 7"] == "pass"  # schema-invalid: free, so sent


def _accept_everything(exchange: Exchange, answer: Answer) -> None:
    """A target that creates a task from any POST to the create path."""
    if exchange.method == "POST" and exchange.path == CREATE_PATH and answer.status != 401:
        stamp = "2026-01-01T00:00:00.000000+00:00"
        info = {"id": str(uuid.uuid4()), "status": "pending"}
        answer.status = 202
        answer.body = {"task_info": {**info, "created_at": stamp, "updated_at": stamp}}
        answer.headers["content-type"] = "application/json"


def test_a_target_that_accepts_everything_gets_nothing_billable(
    live_like: tuple[ServerThread, Proxy],
) -> None:
    server, proxy = live_like
    proxy.use(_accept_everything)
    try:
        report = _run(server, proxy, max_creates=0)
    finally:
        proxy.use()
    assert report.live
    assert proxy.creates() == []
    assert report.budget.unplanned_creates == 1
    # After the first accepted create, no request carrying the key went to the create path.
    keyed = [e for e in proxy.seen if e.method != "GET" and KEY in str(e.headers)]
    first = next(i for i, e in enumerate(keyed) if 200 <= e.status < 300)
    assert all(e.method == "PUT" or KEY not in str(e.headers) for e in keyed[first + 1 :]), [
        (e.method, e.status) for e in keyed[first + 1 :]
    ]
    checks = {c.name: c for c in report.checks}
    assert checks["rules.every_rule_rejected"].outcome == "fail"
    assert any("-> 202" in r for r in checks["rules.every_rule_rejected"].reasons)
    # What was never sent is not a pass.
    assert checks["rules.invalid_rejected"].outcome != "pass"
    assert any("correct server must refuse" in k for k in report.budget.kept_back)


def test_a_budget_is_a_cap_on_what_could_be_billed(
    live_like: tuple[ServerThread, Proxy],
) -> None:
    server, proxy = live_like
    report = _run(server, proxy, max_creates=3)
    assert len(proxy.creates()) == report.budget.creates == 3
    assert _tasks(server) <= 3
    # Two went to the lifecycle (kept for it before the rule probes spent the rest).
    assert len(report.observations.status_sequences) == 2


def test_against_the_fake_every_possible_create_is_counted(
    live_like: tuple[ServerThread, Proxy],
) -> None:
    server, proxy = live_like
    # Declared free: no budget floor, and every possible create is still counted.
    report = _run(server, proxy, free=True, max_creates=30, deadline=5.0)
    assert not report.driving or not report.driving.billed
    assert len(proxy.creates()) == report.budget.creates <= 30
    assert report.budget.creates > 14  # the image and URL rule probes count too


def test_the_gate_counts_whatever_could_create_a_task() -> None:
    spend = Spend(1)
    valid = {"prompt": "a cat", "image": "https://example.com/cat.jpg"}

    def post(path: str = CREATE_PATH, auth: str = f"Bearer {KEY}", body: object = valid) -> Any:
        request = httpx.Request(
            "POST", f"http://t{path}", headers={"Authorization": auth}, json=body
        )
        spend.admit(request, KEY)
        return request

    post(body={"prompt": "no image"})  # a correct server must refuse it: free
    post(body=[valid])
    post(auth="Bearer someone-else")  # not the run's key
    spend.admit(httpx.Request("GET", f"http://t{CREATE_PATH}/x"), KEY)
    assert spend.creates == 0
    post(path=CREATE_PATH + "/", auth=f"Basic {KEY}")  # any spelling of the key, any path form
    assert spend.creates == 1
    with pytest.raises(BudgetExceeded, match="--max-creates 1"):
        post(body=valid | {"duration": 5.0})  # 5.0 may pass for 5: counted, so refused
    assert spend.refused
    assert spend.creates == 1


def test_a_proxy_from_the_environment_is_used_behind_the_gate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing listens on port 9 of loopback: the proxy is named, never reached by a create.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    target = Target("http://api.example.test", KEY, observer=Observer(), spend=Spend(0))
    valid = {"prompt": "a cat", "image": "https://example.com/cat.jpg"}
    with pytest.raises(BudgetExceeded):
        target.call("POST", CREATE_PATH, headers=target.auth(), json=valid)
    with pytest.raises(httpx.TransportError):  # the GET went to the proxy, which is not there
        target.call("GET", CREATE_PATH + "/x", headers=target.auth())
    target.close()
