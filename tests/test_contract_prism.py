"""`wan-mock contract run` against Stoplight Prism mocking ``contracts/openapi.yaml``: a server
that answers in the contract's shapes but keeps no state, so a sound suite must pass what Prism
really does and fail what it cannot do.

What Prism does (5.16, seen on the wire):
- it enforces the bearer scheme (a missing or non-bearer ``Authorization`` gets 401), but takes
  any key: ``auth.enforced`` must pass, ``auth.unknown_key`` must fail;
- it validates bodies against the schema (wrong types, enums, lengths, URL patterns get 400),
  but knows nothing of the rules a schema cannot state (image contents and sizes): those must
  fail, or be left open when the budget keeps their probes back, never pass;
- it keeps no tasks: any id, unknown or another key's, is answered 200, so both lookup checks
  must fail; and the polled task is never the one created (static: the example's fixed id,
  dynamic: a random one), which a sound suite reports;
- static mode answers every create with one fixed id and every poll with the example
  ``running`` task: a sound suite reports duplicate ids, and a task that never ends (or, when
  the example's id is not the one created, polls answering another id, and no claim about how
  the task ended); dynamic mode makes up every field, so its lifecycle is noise.
- every answer matches the contract's schemas: ``contract.schema`` must pass (a failure would
  be a false alarm about the contract itself).
A sound run exits 1, within the time limit (PRISM_LIMIT: Prism answers more slowly than a small
fake), and sends at most ``--max-creates`` creates that a server could accept. Both runs start
with the session, in the background, alongside the other contract runs (tests/targets/batch.py).
"""

from __future__ import annotations

import os

import pytest

from tests.targets.batch import Job
from tests.targets.prism import prism_command
from tests.targets.runs import PRISM_LIMIT, Run

BUDGET = 3
MUST_FAIL = ("auth.unknown_key", "lookup.unknown_id_404", "lookup.foreign_task_404")
MUST_PASS = ("auth.enforced", "contract.schema")
IMAGE_RULES = r"image|last_frame|audio_url"  # the rules Prism cannot know
OTHER_ID = r"\bids?\b.*(asked|another|differ|instead|mismatch)|polled_id|same_id"
DUPLICATE_IDS = r"distinct|duplicate|same id|reused"


@pytest.fixture(autouse=True)
def prism_installed() -> None:
    if prism_command() is None:
        message = "Prism is not installed in .tools/ (./scripts/test installs it with npm)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def run_against_prism(*, dynamic: bool) -> pytest.MarkDecorator:
    """Marks a test that judges one contract run against Prism (the ``target_run`` fixture)."""
    mode = "dynamic" if dynamic else "static"
    return pytest.mark.target_run(Job(f"prism:{mode}", ("--max-creates", str(BUDGET))))


def image_rules_unproven(run: Run) -> bool:
    """Whether the run keeps from passing the image contents rules Prism cannot know: a rules
    check fails on them, or names them as not exercised (with a budget of 3, the lifecycle's
    creates may leave none to send such a probe, which could be billed)."""
    if [name for name in run.blamed(IMAGE_RULES) if name.startswith("rules.")]:
        return True
    for check in (run.report or {}).get("checks", []):
        if check["name"] == "rules.every_rule_rejected" and check["outcome"] == "skip":
            return any("image format" in part for part in check.get("not_exercised", []))
    return False


def sound_verdict(run: Run, *extra: tuple[str, str]) -> list[str]:
    """What a sound run against Prism must show and does not; ``extra`` adds (what, evidence)
    pairs that some failed check must match."""
    problems = []
    if run.returncode != 1:
        problems.append(f"exit {run.returncode}, expected 1")
    if run.report is None:
        return [*problems, "no report.json"]
    for name in MUST_FAIL:
        if run.outcome(name) != "fail":
            problems.append(f"{name} is {run.outcome(name)}, expected fail")
    for name in MUST_PASS:
        if run.outcome(name) != "pass":
            problems.append(f"{name} is {run.outcome(name)}, expected pass")
    if not image_rules_unproven(run):
        problems.append("the image rules Prism cannot know are neither failed nor left open")
    for what, evidence in extra:
        if not run.blamed(evidence):
            problems.append(f"no failed check reports {what}")
    if run.seconds >= PRISM_LIMIT:
        problems.append(f"took {run.seconds:.1f} s (limit {PRISM_LIMIT:.0f} s)")
    if run.billed > BUDGET:
        problems.append(f"{run.billed} billable creates with --max-creates {BUDGET}")
    return problems


@run_against_prism(dynamic=False)
def test_static_prism_is_judged_soundly(target_run: Run) -> None:
    # Static Prism answers the same envelopes whatever is asked: the suite must see through it.
    # Its polls answer the contract's example task: when that is not the task asked for, how the
    # created task ends is unknown (reported as not exercised, never as passed); when the
    # example's id is the one the create gave, the task stays running and never ends.
    run = target_run
    problems = sound_verdict(run, ("two creates with one id", DUPLICATE_IDS))
    lost = run.outcome("lifecycle.polled_id_matches") == "fail"
    expected = "skip" if lost else "fail"
    if run.outcome("lifecycle.reaches_terminal") != expected:
        problems.append(
            f"lifecycle.reaches_terminal is {run.outcome('lifecycle.reaches_terminal')}, "
            f"expected {expected} (the polls {'answer another id' if lost else 'stay running'})"
        )
    assert not problems, f"{problems}\n{run.summary()}"


@run_against_prism(dynamic=True)
def test_dynamic_prism_is_judged_soundly(target_run: Run) -> None:
    # Dynamic Prism makes up every value: only what it always gets wrong is asserted.
    run = target_run
    problems = sound_verdict(run, ("a poll answering another id", OTHER_ID))
    assert not problems, f"{problems}\n{run.summary()}"
