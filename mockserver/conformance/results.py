"""What a conformance run produces: named check results, the observations of the target, and
the budget spent, as one JSON-serialisable report.

Results are plain msgspec Structs so that a report written by one run (or one machine) is read
back exactly by ``wan-mock contract drift``; the Markdown and JUnit writers read the same object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

Outcome = Literal["pass", "fail", "skip"]
SCHEMA_VERSION = 1
MAX_REASONS = 5  # a broken target fails the same way many times; a few reasons say it all

# Every check, in report order, with what it asserts. The names are stable: tests and CI
# configurations refer to them.
DESCRIPTIONS: dict[str, str] = {
    "contract.status_code": "every status code is documented for its operation",
    "contract.content_type": "every content type is documented for its response",
    "contract.headers": "documented response headers are present and well formed",
    "contract.schema": "every response body matches its documented schema",
    "contract.no_server_error": "no request is answered with a 5xx",
    "rules.invalid_rejected": "schema-invalid requests (schemathesis negative data) get a 4xx",
    "rules.every_rule_rejected": "one invalid body per request rule gets a 4xx",
    "rules.valid_accepted": "valid create bodies (schemathesis positive data) are accepted",
    "auth.enforced": "a missing or malformed Authorization header gets 401",
    "auth.unknown_key": "an unknown key gets 401",
    "lookup.unknown_id_404": "an unknown task id gets 404",
    "lookup.foreign_task_404": "a task polled with another key gets 404",
    "lifecycle.known_statuses": "every status is one of the contract's spellings",
    "lifecycle.forward_only": "statuses only move forward (pending, running, terminal)",
    "lifecycle.terminal_stays": "a terminal status never changes",
    "lifecycle.reaches_terminal": "created tasks finish within the run's deadline",
    "lifecycle.timestamps_ordered": "created_at <= updated_at, neither moves backwards",
    "lifecycle.videos_iff_succeeded": "videos is present exactly when the task succeeded",
    "lifecycle.video_downloads": "each video URL downloads as video/mp4",
    "lifecycle.error_iff_failed": "an error is present exactly when the task failed",
    "lifecycle.retry_after": "429/503 answers carry Retry-After, and waiting it lets polling go on",
}


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str
    outcome: Outcome
    passed: int = 0
    failed: int = 0
    reasons: list[str] = msgspec.field(default_factory=list)


class Budget(msgspec.Struct, frozen=True, kw_only=True):
    """Tasks created (the only billed requests), against the cap."""

    max_creates: int
    creates: int
    unplanned_creates: int  # invalid bodies the target accepted anyway
    requests: int


class Observations(msgspec.Struct, kw_only=True):
    """What the target was seen to do: the raw material of a drift report."""

    identified_as_fake: bool = False
    fake_version: str | None = None
    status_spellings: list[str] = msgspec.field(default_factory=list)
    status_sequences: list[list[str]] = msgspec.field(default_factory=list)
    create_status_codes: list[int] = msgspec.field(default_factory=list)
    error_shapes: dict[str, list[str]] = msgspec.field(default_factory=dict)  # "{k1, k2}" each
    error_placement: list[str] = msgspec.field(default_factory=list)
    response_headers: list[str] = msgspec.field(default_factory=list)
    content_types: list[str] = msgspec.field(default_factory=list)
    timestamp_formats: list[str] = msgspec.field(default_factory=list)
    retry_after: list[str] = msgspec.field(default_factory=list)
    task_seconds: dict[str, list[float]] = msgspec.field(default_factory=dict)


class Report(msgspec.Struct, kw_only=True):
    """One run against one target. ``target`` never contains credentials."""

    target: str
    live: bool
    started_at: str
    seconds: float
    checks: list[CheckResult]
    observations: Observations
    budget: Budget
    version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return all(check.outcome != "fail" for check in self.checks)

    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if check.outcome == "fail"]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("pass", "fail", "skip"), 0)
        for check in self.checks:
            counts[check.outcome] += 1
        return counts


def dump(report: Report) -> bytes:
    return msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"


class ReportError(ValueError):
    """A file that is not a conformance report; the message says which and why."""


def load(path: Path) -> Report:
    """A report written by :func:`dump` (``path`` may be the report directory)."""
    if path.is_dir():
        path = path / "report.json"
    try:
        return msgspec.json.decode(path.read_bytes(), type=Report)
    except OSError as exc:
        raise ReportError(f"cannot read report {path}: {exc.strerror}") from None
    except msgspec.DecodeError as exc:
        raise ReportError(f"{path} is not a wan-mock contract report: {exc}") from None


class Tally:
    """Counts passes and failures per check while a run goes on; skips carry a reason."""

    def __init__(self) -> None:
        self._passed: dict[str, int] = {}
        self._failed: dict[str, list[str]] = {}
        self._skipped: dict[str, str] = {}

    def ok(self, name: str) -> None:
        self._check_name(name)
        self._passed[name] = self._passed.get(name, 0) + 1

    def fail(self, name: str, reason: str) -> None:
        self._check_name(name)
        self._failed.setdefault(name, []).append(reason)

    def check(self, name: str, condition: bool, reason: str) -> bool:
        """Record ``condition`` as a pass or as a failure for ``reason``; return it."""
        if condition:
            self.ok(name)
        else:
            self.fail(name, reason)
        return condition

    def skip(self, name: str, reason: str) -> None:
        self._check_name(name)
        self._skipped.setdefault(name, reason)

    def results(self) -> list[CheckResult]:
        results = []
        for name, description in DESCRIPTIONS.items():
            passed, failed = self._passed.get(name, 0), self._failed.get(name, [])
            reasons = list(dict.fromkeys(failed))[:MAX_REASONS]
            outcome: Outcome = "fail" if failed else "pass" if passed else "skip"
            if outcome == "skip":
                reasons = [self._skipped.get(name, "nothing to check in this run")]
            results.append(
                CheckResult(
                    name=name,
                    description=description,
                    outcome=outcome,
                    passed=passed,
                    failed=len(failed),
                    reasons=reasons,
                )
            )
        return results

    @staticmethod
    def _check_name(name: str) -> None:
        if name not in DESCRIPTIONS:  # a typo would otherwise be a check that cannot fail
            raise KeyError(f"unknown check {name!r}")
