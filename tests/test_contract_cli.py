"""``wan-mock contract run`` and ``drift``: exit statuses, dry run, reports, redaction, and the
full suite against the fake served by ``wan-mock serve`` in a subprocess."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver import Settings
from mockserver.conformance.command import main
from mockserver.domain.behaviour import DIALECT_PROFILES
from mockserver.testing.server import ServerThread
from tests import broken
from tests.broken import Breaker
from tests.contract_proxy import CONTENT_RULES
from tests.doc_blocks import doc_block, find_block
from tests.server_process import running_server

SECRET = "sk-live-do-not-print-8c1e"
ENV = {"MULEROUTER_API_KEY": SECRET}


def contract(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), env=ENV if env is None else env, out=out)
    return status, out.getvalue()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ServerThread, Breaker]]:
    with ServerThread(Settings(access_log=False)) as server:
        breaker = Breaker(server.app)
        server.catcher.app = breaker
        yield server, breaker


def test_full_suite_passes_against_the_fake_in_a_subprocess(tmp_path: Path) -> None:
    """The docs' command, verbatim, against `wan-mock serve` standing in for the live API."""
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    cache = str(tmp_path / "cache")
    with running_server("--no-access-log") as server:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", doc_block("example: contract-run")],
            cwd=tmp_path,
            env={**ENV, "PATH": path, "CI": "1", "BASE": server.base_url, "XDG_CACHE_HOME": cache},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
    assert "lifecycle: following tasks ..." in result.stderr  # plain lines when CI is set
    reports = tmp_path / "contract-report"
    report = json.loads((reports / "report.json").read_text())
    # The lifecycle, the generated creates and the content rules; a generated invalid body
    # whose only flaw is a contract pattern the fake does not enforce could be accepted, so it
    # counts too.
    planned = 4 + 25 + len(CONTENT_RULES)
    assert planned <= report["budget"]["creates"] <= report["budget"]["max_creates"]
    suite = ET.parse(reports / "junit.xml").getroot()
    assert suite.find("testsuite") is not None
    for text in [result.stdout, result.stderr] + [p.read_text() for p in reports.iterdir()]:
        assert SECRET not in text
    # The rule probes' bodies are kept for the next run (--no-cache: not).
    assert [p.name[:7] for p in (tmp_path / "cache" / "wan-mock" / "contract").iterdir()] == [
        "probes-"
    ]


def test_the_docs_pytest_example_passes(served: tuple[ServerThread, Breaker]) -> None:
    server, breaker = served
    breaker.use()
    namespace: dict[str, Any] = {}
    block = find_block("example: contract-pytest")
    exec(compile(block.text, block.where, "exec"), namespace)
    namespace["test_the_fake_meets_the_contract"](server)  # has the fixture's .base_url


def test_a_failing_check_exits_1_and_says_which(
    served: tuple[ServerThread, Breaker],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server, breaker = served
    breaker.use(broken.bad_traceparent)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    try:
        status, out = contract(
            "run", "--base-url", server.base_url, "--examples", "2", "--no-cache"
        )
    finally:
        breaker.use()
    assert list(tmp_path.iterdir()) == []  # --no-cache: nothing kept
    assert status == 1
    assert "FAIL  contract.headers" in out
    assert "PASS  lifecycle.videos_iff_succeeded" in out
    assert SECRET not in out + "".join(capsys.readouterr())


def test_dry_run_sends_nothing_and_states_the_cost() -> None:
    # Nothing listens on port 9: a dry run must not need the target at all.
    status, out = contract("run", "--base-url", "http://127.0.0.1:9", "--dry-run")
    assert status == 0
    assert "nothing is sent" in out
    assert "lifecycle: skipped (no creates allowed; pass --max-creates N)" in out
    assert "cost: at most 0 requests that could create a task" in out
    assert out.rstrip().endswith("nothing")
    assert "pace: at most 4 creates and 10 queries a second; every Retry-After obeyed" in out
    status, out = contract(
        "run", "--base-url", "http://127.0.0.1:9", "--dry-run", "--max-creates", "2"
    )
    assert "2 tasks created (billed), each polled every 5 s" in out
    assert "each accepted one is a billed wan2.6-i2v generation" in out


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["run", "--base-url", "ftp://example.com"], ENV, "not an http(s) base URL"),
        (["run", "--base-url", "http://127.0.0.1:9"], {}, "cannot reach http://127.0.0.1:9/"),
        (
            ["run", "--base-url", "http://127.0.0.1:9", "--other-token-env", "NOPE"],
            ENV,
            "NOPE is not set",
        ),
        (["drift", "missing.json", "missing.json"], ENV, "cannot read report missing.json"),
        (["run", "--base-url", "http://127.0.0.1:9"], ENV, "cannot reach http://127.0.0.1:9/"),
    ],
)
def test_bad_input_gets_a_message_and_exit_2(
    argv: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert contract(*argv, env=env)[0] == 2
    assert message in capsys.readouterr().err


def test_an_unwritable_report_directory_exits_2_before_the_run(
    served: tuple[ServerThread, Breaker], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, breaker = served
    breaker.use()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    server.control.reset()
    argv = ["run", "--base-url", server.base_url, "--report", str(blocker / "out")]
    assert contract(*argv)[0] == 2
    assert "cannot write the reports" in capsys.readouterr().err
    assert server.control.journal() == []  # found out before anything was sent


def test_without_the_contract_extra_the_command_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['schemathesis'] = None; from mockserver.cli import main; "
        "sys.exit(main(['contract', 'run', '--base-url', 'http://127.0.0.1:9']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "pip install 'wan-mock[contract]'" in result.stderr


def test_bad_numbers_are_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        contract("run", "--base-url", "http://x", "--max-creates", "-1")
    assert exit_info.value.code == 2
    assert "must be 0 or more" in capsys.readouterr().err


def test_drift_between_two_differently_configured_fakes(tmp_path: Path) -> None:
    legacy = Settings(access_log=False, dialect=DIALECT_PROFILES["legacy"])
    with ServerThread(Settings(access_log=False)) as a, ServerThread(legacy) as b:
        status, out = contract(
            "drift", a.base_url, b.base_url, "--examples", "2", "--report", str(tmp_path)
        )
    assert status == 1
    drift = json.loads((tmp_path / "drift.json").read_text())
    aspects = {d["aspect"]: (d["a"], d["b"]) for d in drift["differences"]}
    assert set(aspects) == {"status spellings", "timestamp formats"}, aspects
    assert "processing" in aspects["status spellings"][1]
    assert "completed" in aspects["status spellings"][1]
    assert aspects["timestamp formats"][1] == "dddd-dd-ddTdd:dd:ddZ"
    assert "| status spellings |" in out
    assert ET.parse(tmp_path / "drift.junit.xml").getroot().find("testsuite") is not None
    # The two runs were recorded: comparing a recorded run with itself finds nothing.
    status, out = contract("drift", str(tmp_path / "a"), str(tmp_path / "a" / "report.json"))
    assert status == 0
    assert "No differences." in out


def test_dry_run_shows_the_controls_and_raises_a_low_poll_interval_visibly() -> None:
    base = ["run", "--base-url", "http://127.0.0.1:9", "--dry-run", "--max-creates", "2"]
    status, out = contract(*base, "--poll-interval", "1", "--deadline", "120", "--timeout", "9")
    assert status == 0
    assert "each polled every 5 s until done (at most 120 s, --deadline)" in out
    assert "timeout: 9 s per request" in out
    assert "notice: --poll-interval 1 raised to 5 s, the floor for a billed target" in out
    status, out = contract(*base, "--poll-interval", "1", "--free")
    assert "the plan for a target declared free" in out
    assert "each polled every 1 s" in out
    assert "notice:" not in out
    assert "pace:" not in out
