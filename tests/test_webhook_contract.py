"""``wan-mock contract webhook`` against a careful receiver and against receivers broken on
purpose, each failing the one check it should; and ``wan-mock webhook trigger``."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mockserver.cli import main as cli_main
from mockserver.conformance.command import main as contract_main
from mockserver.domain.webhooks import WebhookVerificationError, verify
from tests.webhook_receiver import receiver

SECRET = "whsec_Y29udHJhY3QtdGVzdC1zZWNyZXQ"
Judge = Callable[[dict[str, str], bytes], int | tuple[int, float]]


def careful(*, clock: bool = True, dedupe: bool = True, delay: float = 0.0) -> Judge:
    """A receiver as it should be written; each switch turned off breaks one thing."""
    seen: set[str] = set()

    def judge(headers: dict[str, str], body: bytes) -> int | tuple[int, float]:
        stamp = float(headers.get("x-mulerouter-webhook-timestamp", "0"))
        try:
            event = verify(SECRET, headers, body, now=time.time() if clock else stamp)
        except WebhookVerificationError:
            return 400
        if event["id"] in seen and not dedupe:
            return 409
        seen.add(event["id"])
        return (200, delay) if delay else 200

    return judge


def contract(url: str, *extra: str) -> tuple[int, dict[str, str]]:
    out = io.StringIO()
    code = contract_main(["webhook", "--to", url, "--secret", SECRET, *extra], env={}, out=out)
    verdicts = {}
    for line in out.getvalue().splitlines():
        word, _, rest = line.partition("  ")
        if rest.startswith("webhook."):
            verdicts[rest.split()[0]] = word.strip()
    return code, verdicts


def run_against(judge: Judge, *extra: str) -> tuple[int, dict[str, str]]:
    with receiver() as hook:
        hook.judge = judge
        return contract(hook.url, *extra)


def test_a_careful_receiver_passes_every_check(tmp_path: Path) -> None:
    code, verdicts = run_against(careful(), "--report", str(tmp_path))
    assert code == 0
    assert set(verdicts.values()) == {"PASS"}
    assert len(verdicts) == 5
    report = json.loads((tmp_path / "report.json").read_text())
    assert [c["outcome"] for c in report["checks"]] == ["pass"] * 5
    assert "webhook.rejects_stale" in (tmp_path / "report.md").read_text()
    assert 'failures="0"' in (tmp_path / "junit.xml").read_text()


@pytest.mark.parametrize(
    ("judge", "extra", "failing"),
    [
        (lambda h, b: 200, (), {"webhook.rejects_bad_signature", "webhook.rejects_stale"}),
        (careful(clock=False), (), {"webhook.rejects_stale"}),
        (careful(dedupe=False), (), {"webhook.accepts_duplicate"}),
        (
            lambda h, b: 500,
            (),
            {"webhook.accepts_valid", "webhook.rejects_bad_signature", "webhook.rejects_stale"},
        ),
        (careful(delay=1.5), ("--timeout", "0.5"), {"webhook.accepts_valid"}),
    ],
    ids=["trusts-everything", "ignores-the-clock", "refuses-duplicates", "down", "slow"],
)
def test_each_broken_receiver_fails_its_check(
    judge: Judge, extra: tuple[str, ...], failing: set[str]
) -> None:
    code, verdicts = run_against(judge, *extra)
    assert code == 1
    failed = {name for name, word in verdicts.items() if word == "FAIL"}
    slow = bool(extra)  # only the slow receiver runs with a short --timeout
    assert failing <= failed
    assert ("webhook.answers_in_time" in failed) == slow
    if not slow:
        assert failed == failing


def test_an_unreachable_receiver_is_exit_status_2() -> None:
    code, verdicts = contract("http://127.0.0.1:9/hook", "--timeout", "2")
    assert code == 2
    assert verdicts["webhook.accepts_valid"] == "FAIL"


def test_trigger_sends_one_signed_event_now(capsys: pytest.CaptureFixture[str]) -> None:
    with receiver() as hook:
        hook.judge = careful()
        code = cli_main(
            ["webhook", "trigger", "--to", hook.url, "--secret", SECRET, "--event", "task.failed"]
        )
        (got,) = hook.received
    assert code == 0
    event = verify(SECRET, got.headers, got.body, now=time.time())
    assert event["type"] == "task.failed"
    assert event["data"]["payload"]["task_info"]["error"]["code"] == 3002
    assert "-> 200" in capsys.readouterr().out
    with receiver() as hook:
        hook.judge = careful()
        assert cli_main(["webhook", "trigger", "--to", hook.url, "--secret", "whsec_wrong1"]) == 1
    assert cli_main(["webhook", "trigger", "--to", "http://127.0.0.1:9/", "--secret", SECRET]) == 2
