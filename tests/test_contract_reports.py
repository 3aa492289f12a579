"""The contract suite's reports: JUnit valid against the common junit-10.xsd (per-testcase
time, failure type, errors and totals), failures that carry a curl line repeating the request
with the key redacted, Markdown without repeated notes, progress that is never silent for long
and never shows a secret."""

from __future__ import annotations

import io
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import xmlschema

from mockserver import Settings
from mockserver.conformance import Report, RunOptions, run
from mockserver.conformance.drift import compare
from mockserver.conformance.drift import junit as drift_junit
from mockserver.conformance.progress import Progress
from mockserver.conformance.results import Budget, CheckResult, Observations, Tally
from mockserver.conformance.writers import junit, markdown
from mockserver.testing.server import ServerThread
from tests import broken
from tests.broken import Breaker

XSD = xmlschema.XMLSchema(Path(__file__).parent / "data" / "junit-10.xsd")
TOKEN = "reports-test-token-93be"


@pytest.fixture(scope="module")
def failing() -> Iterator[tuple[ServerThread, Report]]:
    """A served fake answering unknown ids with 400, and one run against it."""
    with ServerThread(Settings(access_log=False)) as server:
        breaker = Breaker(server.app)
        server.catcher.app = breaker
        breaker.use(broken.wrong_status_for_unknown_id)
        options = RunOptions(server.base_url, TOKEN, examples=2, min_gap=0.0, deadline=30.0)
        yield server, run(options)


def _report(checks: list[CheckResult], aborted: str | None = None) -> Report:
    budget = Budget(max_creates=0, creates=0, unplanned_creates=0, requests=0)
    return Report(
        target="http://t",
        live=True,
        started_at="2026-12-02T07:00:00.123456+00:00",
        seconds=1.5,
        checks=checks,
        observations=Observations(),
        budget=budget,
        aborted=aborted,
    )


def test_junit_is_valid_against_junit_10_xsd(failing: tuple[ServerThread, Report]) -> None:
    _, report = failing
    aborted = msgspec.structs.replace(report, aborted="the key is rejected")
    for document in (junit(report), junit(aborted), drift_junit(compare(report, aborted))):
        XSD.validate(document)  # raises with the first violation
    root: Any = XSD.to_dict(junit(aborted))
    suite = root["testsuite"][0]
    assert (suite["@errors"], suite["@failures"]) == ("1", str(report.counts()["fail"]))
    assert root["@tests"] == suite["@tests"] == str(len(report.checks) + 1)
    cases = suite["testcase"]
    assert all("@time" in case for case in cases)
    failed = [case for case in cases if "failure" in case]
    assert failed
    assert {f["@type"] for case in failed for f in case["failure"]} == {"ContractViolation"}
    assert cases[0]["error"][0]["@type"] == "RunAborted"


def test_a_failure_carries_a_curl_line_that_repeats_it(
    failing: tuple[ServerThread, Report],
) -> None:
    server, report = failing
    check = next(c for c in report.checks if c.name == "lookup.unknown_id_404")
    assert check.outcome == "fail"
    line = check.curls[0]
    assert TOKEN not in line
    assert "authorization: Bearer ***" in line
    if shutil.which("curl") is None:
        pytest.skip("no curl on this machine")
    # The fake takes any key, so the redacted line repeats the failure as it is.
    argv = [*shlex.split(line), "-s", "-o", "/dev/null", "-w", "%{http_code}"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert result.stdout == "400"
    assert server.base_url in line


def test_markdown_lists_each_note_once_and_the_failing_requests() -> None:
    tally = Tally(curl=lambda response: "curl -X GET http://t/x")
    for _ in range(3):
        tally.fail("contract.schema", "same reason", object())
        tally.fail("contract.schema", "same reason")
    tally.not_exercised("rules.every_rule_rejected", "image format", "not sent: budget")
    tally.not_exercised("rules.every_rule_rejected", "image size", "not sent: budget")
    text = markdown(_report(tally.results()))
    assert text.count("same reason") == 1
    assert text.count("curl -X GET http://t/x") == 1
    assert "2 not exercised (image format, image size): not sent: budget" in text
    assert text.count("not sent: budget") == 1


def test_an_aborted_report_says_so_first() -> None:
    text = markdown(_report(Tally().results(), aborted="wrong base URL or path"))
    assert text.splitlines()[2].startswith("**Aborted**: wrong base URL or path")


def test_plain_progress_speaks_at_least_every_heartbeat_and_hides_secrets() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(stream, env={"CI": "1"}, heartbeat=30.0, clock=lambda: now[0])
    progress.redact = lambda text: text.replace("s3cret", "***")
    progress.phase("lifecycle")
    for second in range(0, 100, 5):
        now[0] = float(second)
        progress.step(0, 2, "waiting: task s3cret running")
    lines = stream.getvalue().splitlines()
    beats = [line for line in lines if line.startswith("lifecycle: 0/2 after")]
    assert [b.split(" after ")[1].split(" s")[0] for b in beats] == ["30", "60", "90"]
    assert "s3cret" not in stream.getvalue()
    progress.notice("--poll-interval 1 raised to 5 s")
    assert stream.getvalue().endswith("notice: --poll-interval 1 raised to 5 s\n")
