"""`wan-mock contract run` judged against a target the project did not write: the independent
fake of tests/targets/ (from the spec alone), faithful and with one realistic bug at a time.

Each run goes through a counting proxy that counts every create a server could accept (the real
key and a body with its required fields of the right types), so the budget is measured from the
outside. A run must catch each bug with a failed check that points at it, within LIMIT seconds
and at most ``--max-creates`` billable creates; the faithful fake must pass within the same
bounds.

The runs mostly sleep on the pace a billed target gets, so the session starts them all at once
in the background (tests/targets/batch.py) and each test judges its own run's result.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.targets.batch import Job
from tests.targets.fake import Bug
from tests.targets.runs import LIMIT, Run

BUDGET = 3


@dataclass(frozen=True)
class Case:
    """A bug variant, and what a failed check must mention to be blamed on it."""

    bug: Bug
    evidence: str  # a regular expression matched against a failed check's name and reasons


CASES = [
    Case(
        Bug.CREATE_200,
        r"\b200\b.*(create|202)|(create|202).*\b200\b",
    ),
    Case(
        Bug.DURATION_BETWEEN,
        r"duration",
    ),
    Case(
        Bug.RESOLUTION_480P,
        r"resolution|480P",
    ),
    Case(
        Bug.STUCK_PENDING,
        r"pending|deadline|never (finished|reached)|reaches_terminal",
    ),
    Case(
        Bug.POLL_OTHER_ID,
        r"\bids?\b.*(asked|another|differ|instead|mismatch)|polled_id|same_id",
    ),
    Case(
        Bug.DUPLICATE_IDS,
        r"distinct|duplicate|same id|reused",
    ),
    Case(
        Bug.MALFORMED_JSON_500,
        r"\b500\b|server error|malformed",
    ),
    Case(Bug.NAIVE_TIMESTAMPS, r"timestamp|date-time|created_at|updated_at|offset|zone"),
    Case(Bug.RETRY_AFTER_MISSING, r"retry-after|retry_after"),
    Case(
        Bug.ERROR_WITHOUT_DETAIL,
        r"\bdetail\b|\bmessage\b",
    ),
    Case(Bug.VIDEOS_ON_FAILED, r"videos"),
    Case(
        Bug.STATUS_BACKWARDS,
        r"backward|forward_only|terminal_stays|after (succeeded|a terminal)",
    ),
]


def run_against(bug: Bug, *options: str) -> pytest.MarkDecorator:
    """Marks a test that judges one contract run against the fake with ``bug``, through a
    counting proxy (its result is the ``target_run`` fixture)."""
    return pytest.mark.target_run(Job(f"fake:{bug.value}", options))


def marked(case: Case) -> pytest.ParameterSet:
    run = run_against(case.bug, "--max-creates", str(BUDGET))
    return pytest.param(case, id=case.bug.value, marks=[run])


def verdict_problems(run: Run, case: Case) -> list[str]:
    """Everything the run got wrong about a target with ``case``'s bug."""
    problems = []
    if run.returncode is None:
        problems.append(f"no verdict: stopped after {run.seconds:.0f} s")
    elif run.returncode == 0:
        problems.append("exit 0: the bug went unnoticed")
    if run.report is None:
        problems.append("no report.json")
    elif not run.blamed(case.evidence):
        problems.append(f"no failed check matches {case.evidence!r}")
    return problems


def bound_problems(run: Run) -> list[str]:
    """Where the run broke its time limit or its budget."""
    problems = []
    if run.seconds >= LIMIT:
        problems.append(f"took {run.seconds:.1f} s (limit {LIMIT:.0f} s)")
    if run.billed > BUDGET:
        problems.append(f"{run.billed} billable creates with --max-creates {BUDGET}")
    return problems


@pytest.mark.parametrize("case", [marked(case) for case in CASES])
def test_each_bug_is_caught_within_budget_and_time(case: Case, target_run: Run) -> None:
    # The default run with a budget of 3 flags the bug by a check that names it, on time and
    # without sending more creates a server could accept than the budget allows.
    run = target_run
    problems = verdict_problems(run, case) + bound_problems(run)
    assert not problems, f"{case.bug.value}: {problems}\n{run.summary()}"


@run_against(Bug.NONE, "--max-creates", str(BUDGET))
def test_the_faithful_fake_passes_within_budget_and_time(target_run: Run) -> None:
    # A target that follows the spec passes every check: no false alarm from a fake the project
    # did not write, within the same limits.
    run = target_run
    problems = bound_problems(run)
    if run.returncode != 0:
        problems.append(f"exit {run.returncode}")
    assert not problems, f"{problems}\n{run.summary()}"
    assert run.report is not None
    assert run.report["budget"]["creates"] <= BUDGET


@run_against(Bug.NONE, "--max-creates", "0")
def test_no_budget_sends_no_create_a_server_could_accept(target_run: Run) -> None:
    # With --max-creates 0 nothing that could be billed reaches the target: rule probes and
    # generated bodies that could be valid go with other credentials or not at all.
    run = target_run
    assert run.billed == 0, run.summary()
    assert run.returncode == 0, run.summary()
