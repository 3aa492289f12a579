"""What a conformance run produces: named check results, the observations of the target, and
the budget spent, as one JSON-serialisable report.

Results are plain msgspec Structs so that a report written by one run (or one machine) is read
back exactly by ``wan-mock contract drift``; the Markdown and JUnit writers read the same object.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import msgspec

Outcome = Literal["pass", "fail", "skip"]
SCHEMA_VERSION = 2
MAX_REASONS = 5  # a broken target fails the same way many times; a few reasons say it all

# Every check, in report order, with what it asserts. The names are stable: tests and CI
# configurations refer to them.
DESCRIPTIONS: dict[str, str] = {
    "contract.status_code": "every status code is documented for its operation",
    "contract.content_type": "every content type is documented for its response",
    "contract.headers": "documented response headers are present and well formed",
    "contract.schema": "every response body matches its documented schema",
    "contract.no_server_error": "no request is answered with a 5xx",
    "contract.answers_in_time": "every request is answered within the run's --timeout",
    "contract.error_explained": "every error answer says why: a detail, error, message or "
    "task_info.error in its body",
    "contract.error_keys": "error bodies carry only keys the public record shows (error_code, "
    "title, detail, error, message, task_info); others are listed",
    "rules.invalid_rejected": "schema-invalid requests (schemathesis negative data) get a 4xx",
    "rules.every_rule_rejected": "one invalid body per request rule gets a 4xx",
    "rules.malformed_rejected": "malformed JSON, an empty body, a form-encoded body and a "
    "wrong method get a 4xx",
    "rules.valid_accepted": "valid create bodies (schemathesis positive data) are accepted",
    "auth.enforced": "a missing or malformed Authorization header gets 401",
    "auth.unknown_key": "an unknown key gets 401",
    "lookup.unknown_id_404": "an unknown task id gets 404",
    "lookup.foreign_task_404": "a task polled with another key gets 404",
    "lifecycle.distinct_ids": "every accepted create gets a task id of its own",
    "lifecycle.accepted_202": "an accepted create answers 202 Accepted, the documented status",
    "lifecycle.polled_id_matches": "a poll answers with the task that was asked for",
    "lifecycle.known_statuses": "every status is one of the contract's spellings",
    "lifecycle.forward_only": "statuses only move forward (pending, running, terminal)",
    "lifecycle.terminal_stays": "a terminal status never changes",
    "lifecycle.reaches_terminal": "created tasks finish within the run's deadline",
    "lifecycle.timestamps_ordered": "timestamps carry a UTC offset; created_at <= updated_at, "
    "neither moves backwards",
    "lifecycle.videos_iff_succeeded": "videos is present exactly when the task succeeded",
    "lifecycle.video_downloads": "each video URL downloads as video/mp4",
    "lifecycle.error_iff_failed": "an error is present exactly when the task failed",
    "lifecycle.retry_after": "429/503 answers carry Retry-After, and waiting it lets polling go on",
}


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """One check's verdict. It passes only when it was exercised in full: a part that was not
    (a rule kept back by the budget, say) makes it a skip, listed in ``not_exercised``."""

    name: str
    description: str
    outcome: Outcome
    passed: int = 0
    failed: int = 0
    reasons: list[str] = msgspec.field(default_factory=list)
    curls: list[str] = msgspec.field(default_factory=list)  # failing requests, key redacted
    not_exercised: list[str] = msgspec.field(default_factory=list)  # "part: why"
    seconds: float = 0.0  # time spent waiting for the answers this check judged


class Budget(msgspec.Struct, frozen=True, kw_only=True):
    """Requests that could create a task (the billed ones), against the cap."""

    max_creates: int
    creates: int  # sent with the key and a body the contract's schema accepts
    unplanned_creates: int  # creates a correct server must refuse, answered 2xx anyway
    accepted_creates: int = 0  # creates with the key answered 2xx (tasks made, as far as seen)
    requests: int
    kept_back: list[str] = msgspec.field(default_factory=list)  # why creates were not sent


class Driving(msgspec.Struct, frozen=True, kw_only=True):
    """How a run drove its target: two runs are comparable only when driven alike."""

    billed: bool
    forced_outcomes: bool
    clock_moved: bool
    poll_interval: float
    min_gap: float
    max_creates: int
    lifecycle_tasks: int
    examples: int
    seed: int | None


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
    driving: Driving | None = None
    rules: dict[str, str] = msgspec.field(default_factory=dict)  # "field rule" -> outcome
    notices: list[str] = msgspec.field(default_factory=list)  # e.g. a raised poll interval
    aborted: str | None = None  # why the run stopped early; its checks are what was seen
    version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return self.aborted is None and all(check.outcome != "fail" for check in self.checks)

    def rules_not_exercised(self) -> list[str]:
        return [key for key, outcome in self.rules.items() if outcome.startswith("not ")]

    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if check.outcome == "fail"]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("pass", "fail", "skip"), 0)
        for check in self.checks:
            counts[check.outcome] += 1
        return counts


def dump(report: Report) -> bytes:
    return msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"


class RunAborted(Exception):
    """The run cannot go on. ``void`` when what it saw proves nothing (every answer a 401, say):
    then no check may pass on that evidence."""

    def __init__(self, reason: str, *, void: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.void = reason, void


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
    """Counts passes and failures per check while a run goes on; skips carry a reason.

    ``curl`` turns the response a failure was judged on into a command that repeats its
    request; the time each check's answers took is summed from the responses it is shown.
    """

    def __init__(self, curl: Callable[[Any], str] | None = None) -> None:
        self._curl = curl
        self._passed: dict[str, int] = {}
        self._failed: dict[str, list[str]] = {}
        self._curls: dict[str, list[str]] = {}
        self._skipped: dict[str, str] = {}
        self._unexercised: dict[str, dict[str, str]] = {}
        self._seconds: dict[str, float] = {}
        self.rules: dict[str, str] = {}

    def ok(self, name: str, response: Any = None) -> None:
        self._check_name(name)
        self._passed[name] = self._passed.get(name, 0) + 1
        self._time(name, response)

    def fail(self, name: str, reason: str, response: Any = None) -> None:
        self._check_name(name)
        self._failed.setdefault(name, []).append(reason)
        self._time(name, response)
        if response is not None and self._curl is not None:
            line = self._curl(response)
            if line and line not in (known := self._curls.setdefault(name, [])):
                known.append(line)

    def check(self, name: str, condition: bool, reason: str, response: Any = None) -> bool:
        """Record ``condition`` as a pass or as a failure for ``reason``; return it."""
        if condition:
            self.ok(name, response)
        else:
            self.fail(name, reason, response)
        return condition

    def skip(self, name: str, reason: str) -> None:
        self._check_name(name)
        self._skipped.setdefault(name, reason)

    def not_exercised(self, name: str, part: str, reason: str) -> None:
        """Part of a check was not exercised: the check can no longer pass."""
        self._check_name(name)
        self._unexercised.setdefault(name, {}).setdefault(part, reason)

    def exercised(self, name: str) -> bool:
        return name in self._passed or name in self._failed

    def results(self) -> list[CheckResult]:
        return [self._result(name, description) for name, description in DESCRIPTIONS.items()]

    def _result(self, name: str, description: str) -> CheckResult:
        passed, failed = self._passed.get(name, 0), self._failed.get(name, [])
        parts = self._unexercised.get(name, {})
        missing = [f"{part}: {why}" for part, why in parts.items()]
        reasons = list(dict.fromkeys(failed))[:MAX_REASONS]
        outcome: Outcome = "fail" if failed else "pass" if passed and not parts else "skip"
        grouped: dict[str, list[str]] = {}
        for part, why in parts.items():
            grouped.setdefault(why, []).append(part)
        unexercised = [
            f"{len(p)} not exercised ({', '.join(p)}): {why}" for why, p in grouped.items()
        ]
        if outcome == "fail":
            reasons += unexercised
        elif outcome == "skip":
            if parts:
                reasons = unexercised
                if passed:
                    reasons.append(f"the {passed} that were exercised passed")
            else:
                reasons = [self._skipped.get(name, "nothing to check in this run")]
        return CheckResult(
            name=name,
            description=description,
            outcome=outcome,
            passed=passed,
            failed=len(failed),
            reasons=reasons,
            curls=self._curls.get(name, [])[:MAX_REASONS],
            not_exercised=missing,
            seconds=round(self._seconds.get(name, 0.0), 3),
        )

    def _time(self, name: str, response: Any) -> None:
        elapsed = getattr(response, "elapsed", None) if response is not None else None
        if elapsed is not None:
            self._seconds[name] = self._seconds.get(name, 0.0) + elapsed.total_seconds()

    @staticmethod
    def _check_name(name: str) -> None:
        if name not in DESCRIPTIONS:  # a typo would otherwise be a check that cannot fail
            raise KeyError(f"unknown check {name!r}")
