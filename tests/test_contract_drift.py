"""Drift compares like with like: two targets are driven alike (the same pacing, the smaller
budget, no forced outcomes unless asked), what one side never saw is kept apart from what it
saw to be absent, and runs recorded with different driving say so."""

from __future__ import annotations

import io
import json
from pathlib import Path

import msgspec
import pytest

from mockserver import Settings
from mockserver.conformance.command import main
from mockserver.conformance.drift import compare, markdown
from mockserver.conformance.results import Budget, Driving, Observations, Report, Tally
from mockserver.conformance.target import Target
from mockserver.testing.server import ServerThread

ENV = {"MULEROUTER_API_KEY": "drift-test-key-5e5e"}
DRIVING = Driving(
    billed=False,
    forced_outcomes=False,
    clock_moved=False,
    poll_interval=5.0,
    min_gap=0.0,
    max_creates=2,
    lifecycle_tasks=2,
    examples=2,
    seed=None,
)


def _report(driving: Driving = DRIVING, **seen: object) -> Report:
    return Report(
        target="t",
        live=True,
        started_at="now",
        seconds=1.0,
        checks=Tally().results(),
        observations=msgspec.convert(seen, Observations),
        budget=Budget(max_creates=0, creates=0, unplanned_creates=0, requests=0),
        driving=driving,
    )


def test_not_seen_is_kept_apart_from_absent() -> None:
    failed_with_error = _report(error_placement=["task_info"], error_shapes={"429": ["{detail}"]})
    no_failed_task = _report()
    failed_without_error = _report(error_placement=["none"])
    drift = compare(failed_with_error, no_failed_task)
    assert drift.same  # nothing the second run saw differs
    assert {d.aspect: d.b for d in drift.not_seen} == {
        "failed task error at": "not seen",
        "error body of 429": "not seen",
    }
    drift = compare(failed_with_error, failed_without_error)
    assert [(d.aspect, d.a, d.b) for d in drift.differences] == [
        ("failed task error at", "task_info", "none")
    ]
    assert "## Seen on one side only (not compared)" in markdown(
        compare(failed_with_error, no_failed_task)
    )


def test_runs_driven_differently_say_how() -> None:
    fast = msgspec.structs.replace(DRIVING, poll_interval=0.1, forced_outcomes=True)
    drift = compare(_report(), _report(fast))
    assert {d.aspect: (d.a, d.b) for d in drift.driven_differently} == {
        "forced_outcomes": ("False", "True"),
        "poll_interval": ("5.0", "0.1"),
    }
    assert "## The two runs were driven differently" in markdown(drift)


def test_a_fake_and_a_live_target_are_driven_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second fake refuses its control plane, so it is taken for the billed API. Both sides
    # get the billed pace (a quarter second before each create), which is what is compared
    # here, not waited out: the gaps are computed as usual and slept for no time.
    assert Target.__init__.__kwdefaults__ is not None
    monkeypatch.setitem(Target.__init__.__kwdefaults__, "sleep", lambda seconds: None)
    live_like = Settings(access_log=False, admin_token="drift-admin")
    with ServerThread(Settings(access_log=False)) as fake, ServerThread(live_like) as live:
        argv = ["drift", fake.base_url, live.base_url, "--examples", "2", "--report", str(tmp_path)]
        status = main(argv, env=ENV, out=io.StringIO())
    assert status in (0, 1)
    sides = [json.loads((tmp_path / s / "report.json").read_text()) for s in "ab"]
    assert [s["live"] for s in sides] == [False, True]
    driving = [s["driving"] for s in sides]
    for key in ("forced_outcomes", "clock_moved", "poll_interval", "min_gap", "max_creates"):
        assert driving[0][key] == driving[1][key], key
    assert driving[0]["forced_outcomes"] is False
    assert driving[0]["max_creates"] == 0  # the billed side's budget, on both sides
    drift = json.loads((tmp_path / "drift.json").read_text())
    assert drift["driven_differently"] == [{"aspect": "billed", "a": "False", "b": "True"}]
