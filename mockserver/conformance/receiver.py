"""``wan-mock contract webhook``: checks a webhook receiver the way ``contract run`` checks an
API, and reports the same way (Markdown, JSON, JUnit).

A receiver must accept a genuine event, refuse one signed with another key and one signed too
long ago (a replay), answer a second copy of an event it already has with a 2xx (deduplicated,
not refused: the sender would retry a refusal), and answer each within the timeout.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx
import msgspec

from mockserver.conformance.results import CheckResult, Outcome
from mockserver.conformance.writers import MARK, junit_document, write_files
from mockserver.domain.webhooks import DigestForm, KeyReading
from mockserver.server.webhooks import sample_delivery

STALE_S = 600  # older than the five minutes receivers are told to allow
CHECKS: dict[str, str] = {
    "webhook.accepts_valid": "a genuine signed event is answered 2xx",
    "webhook.rejects_bad_signature": "an event signed with another secret is answered 4xx",
    "webhook.rejects_stale": f"an event signed {STALE_S // 60} minutes ago is answered 4xx",
    "webhook.accepts_duplicate": "a second copy of an event already taken is answered 2xx",
    "webhook.answers_in_time": "every delivery is answered within the timeout",
}
Expect = Literal["2xx", "4xx"]


class ReceiverReport(msgspec.Struct, kw_only=True):
    """One check of one receiver; ``target`` is its URL."""

    target: str
    started_at: str
    seconds: float
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(check.outcome == "pass" for check in self.checks)

    @property
    def unreachable(self) -> bool:
        return all(any("cannot reach" in r for r in c.reasons) for c in self.checks[:3])


class _Sent(msgspec.Struct):
    status: int | None
    error: str | None
    seconds: float


def check_receiver(
    url: str,
    secret: str,
    *,
    event: str = "task.succeeded",
    timeout: float = 10.0,
    key: KeyReading = "utf8",
    digest: DigestForm = "hex",
    transport: httpx.BaseTransport | None = None,
) -> ReceiverReport:
    """Send the five checks' deliveries to ``url`` and judge the answers."""
    started, clock = datetime.now(UTC), time.perf_counter()
    sent: list[_Sent] = []
    results: list[CheckResult] = []
    with httpx.Client(transport=transport, timeout=timeout) as client:

        def send(headers: dict[str, str], body: bytes) -> _Sent:
            began = time.perf_counter()
            try:
                status: int | None = client.post(url, content=body, headers=headers).status_code
                error = None
            except httpx.TimeoutException:
                status, error = None, f"no answer within {timeout:g} s"
            except httpx.HTTPError as exc:
                status, error = None, f"cannot reach {url}: {exc}"
            done = _Sent(status, error, time.perf_counter() - began)
            sent.append(done)
            return done

        def judge(name: str, answers: list[_Sent], expect: Expect) -> None:
            reasons = [
                f"answered {a.status or a.error} (expected {expect})"
                for a in answers
                if not _matches(a, expect)
            ]
            results.append(_result(name, len(answers) - len(reasons), reasons, answers))

        now = time.time()
        genuine = sample_delivery(event, secret, now, key=key, digest=digest)
        first = send(*genuine)
        judge("webhook.accepts_valid", [first], "2xx")
        forged = sample_delivery(event, secret + "-not-the-secret", now, key="utf8", digest=digest)
        judge("webhook.rejects_bad_signature", [send(*forged)], "4xx")
        stale = sample_delivery(
            event, secret, now, signed_at=int(now) - STALE_S, key=key, digest=digest
        )
        judge("webhook.rejects_stale", [send(*stale)], "4xx")
        again = send(*genuine)
        if _matches(first, "2xx"):
            judge("webhook.accepts_duplicate", [again], "2xx")
        else:
            results.append(
                _result("webhook.accepts_duplicate", 0, [], [again], skip="the original refused")
            )
    late = [f"a delivery: {s.error}" for s in sent if s.error and "no answer" in s.error]
    results.append(_result("webhook.answers_in_time", len(sent) - len(late), late, sent))
    return ReceiverReport(
        target=url,
        started_at=started.isoformat(timespec="seconds"),
        seconds=time.perf_counter() - clock,
        checks=results,
    )


def _matches(answer: _Sent, expect: Expect) -> bool:
    if answer.status is None:
        return False
    return 200 <= answer.status < 300 if expect == "2xx" else 400 <= answer.status < 500


def _result(
    name: str, passed: int, reasons: list[str], answers: list[_Sent], *, skip: str = ""
) -> CheckResult:
    outcome: Outcome = "skip" if skip else ("fail" if reasons else "pass")
    return CheckResult(
        name=name,
        description=CHECKS[name],
        outcome=outcome,
        passed=passed,
        failed=len(reasons),
        reasons=[skip] if skip else reasons,
        seconds=sum(a.seconds for a in answers),
    )


def summary(report: ReceiverReport) -> str:
    counts = {o: sum(c.outcome == o for c in report.checks) for o in ("pass", "fail", "skip")}
    return f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped"


def markdown(report: ReceiverReport) -> str:
    lines = [
        f"# Webhook receiver check of {report.target}",
        "",
        f"Started {report.started_at}, took {report.seconds:.1f} s. {summary(report)}.",
        "",
        "| Check | Result | Notes |",
        "|---|---|---|",
    ]
    for check in report.checks:
        notes = "; ".join(check.reasons) if check.outcome != "pass" else check.description
        lines.append(f"| `{check.name}` | {MARK[check.outcome]} | {notes.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def junit(report: ReceiverReport) -> str:
    failed = sum(c.outcome == "fail" for c in report.checks)
    skipped = sum(c.outcome == "skip" for c in report.checks)
    suite = ET.Element(
        "testsuite",
        name="wan-mock contract webhook",
        tests=str(len(report.checks)),
        failures=str(failed),
        errors="0",
        skipped=str(skipped),
        time=f"{report.seconds:.3f}",
        timestamp=report.started_at[:19],
    )
    for check in report.checks:
        case = ET.SubElement(
            suite, "testcase", classname="webhook", name=check.name, time=f"{check.seconds:.3f}"
        )
        if check.outcome == "fail":
            failure = ET.SubElement(
                case, "failure", message=check.description, type="ReceiverViolation"
            )
            failure.text = "\n".join(check.reasons)
        elif check.outcome == "skip":
            ET.SubElement(case, "skipped", message="; ".join(check.reasons))
    return junit_document(suite)


def write_receiver_reports(report: ReceiverReport, directory: Path) -> list[Path]:
    return write_files(
        directory,
        {
            "report.json": msgspec.json.format(msgspec.json.encode(report)),
            "report.md": markdown(report).encode(),
            "junit.xml": junit(report).encode(),
        },
    )
