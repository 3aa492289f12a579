"""The contract suite's parts, without a server: progress, redaction, tallies, observations,
Retry-After, drift."""

from __future__ import annotations

import io

import httpx
import msgspec
import pytest

from mockserver.conformance.drift import compare
from mockserver.conformance.observer import Observer, timestamp_format
from mockserver.conformance.progress import Progress
from mockserver.conformance.results import Budget, Observations, Report, Tally
from mockserver.conformance.target import QUERY_GAP, Redactor, Target
from mockserver.testing.strategies import rules


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _progress(stream: io.StringIO, env: dict[str, str]) -> str:
    progress = Progress(stream, env=env)
    progress.phase("rules")
    progress.step(1, 4)
    progress.step(4, 4)
    progress.finish("40 sent")
    return stream.getvalue()


def test_progress_is_a_live_line_on_a_terminal_and_plain_lines_elsewhere() -> None:
    live = _progress(Terminal(), {})
    assert "\rrules [#####               ] 1/4" in live
    assert live.endswith("\n")
    assert live.rstrip().endswith("(40 sent)")  # padded over the longer bar it replaces
    for stream, env in ((Terminal(), {"CI": "true"}), (io.StringIO(), {})):
        plain = _progress(stream, env)
        assert "\r" not in plain
        assert plain.splitlines()[0] == "rules ..."
        assert plain.splitlines()[1].startswith("rules: done in ")


def test_redactor_hides_every_secret_longest_first() -> None:
    redact = Redactor(["abc", "abcdef", None, ""])
    assert redact("key abcdef and abc") == "key *** and ***"


def test_tally_outcomes_and_reasons() -> None:
    tally = Tally()
    tally.ok("auth.enforced")
    for _ in range(3):
        tally.fail("contract.schema", "same reason")
    for n in range(10):
        tally.fail("contract.headers", f"reason {n}")
    tally.skip("auth.unknown_key", "no keys configured")
    results = {r.name: r for r in tally.results()}
    assert results["auth.enforced"].outcome == "pass"
    assert results["contract.schema"].reasons == ["same reason"]  # deduplicated
    assert results["contract.schema"].failed == 3
    assert len(results["contract.headers"].reasons) == 5  # capped
    assert results["auth.unknown_key"].reasons == ["no keys configured"]
    assert results["lifecycle.forward_only"].outcome == "skip"
    with pytest.raises(KeyError, match="unknown check"):
        tally.ok("contract.typo")


def test_observer_records_shapes_spellings_and_formats() -> None:
    observer = Observer()
    info = {"id": "x", "status": "failed", "error": {"code": 3001}}
    stamps = {"created_at": "2023-11-07T05:31:56Z", "updated_at": "2023-11-07T05:31:57Z"}
    observer.response(
        200, {"Content-Type": "application/json"}, {"task_info": info | stamps}, create=False
    )
    observer.response(404, {"date": "today"}, {"detail": "no"}, create=False)
    observer.response(200, {}, {"task_info": {"status": "queued"}}, create=True)
    seen = observer.finish()
    assert seen.status_spellings == ["failed", "queued"]
    assert seen.timestamp_formats == ["dddd-dd-ddTdd:dd:ddZ"]
    assert seen.error_shapes == {"404": ["{detail}"]}
    assert seen.error_placement == ["task_info"]
    assert seen.create_status_codes == [200]
    assert seen.response_headers == ["content-type"]  # date is volatile
    assert (
        timestamp_format("2026-09-21T08:23:12.657134+00:00") == "dddd-dd-ddTdd:dd:dd.dddddd+dd:dd"
    )


def _throttled_once(slept: list[float]) -> Target:
    """A target that answers 429 with Retry-After: 3, then 200, and records its sleeps."""
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200)])
    return Target(
        "http://target.test",
        "k",
        observer=Observer(),
        sleep=slept.append,
        transport=httpx.MockTransport(lambda request: next(answers)),
    )


def test_target_waits_out_retry_after_before_the_next_request() -> None:
    slept: list[float] = []
    target = _throttled_once(slept)
    assert target.call("GET", "/a").status_code == 429
    assert slept == []
    assert target.call("GET", "/a").status_code == 200
    assert len(slept) == 1
    assert 2.5 < slept[0] <= 3


@pytest.mark.parametrize("moved", [True, False], ids=["clock moved", "fake refused"])
def test_a_fake_whose_clock_the_run_moves_waits_out_retry_after_on_that_clock(
    moved: bool,
) -> None:
    slept: list[float] = []
    asked: list[float] = []
    target = _throttled_once(slept)

    def move_clock(seconds: float) -> bool:
        asked.append(seconds)
        return moved

    target.move_clock = move_clock
    target.call("GET", "/a")
    target.call("GET", "/a")
    assert asked == [3]
    assert len(slept) == (0 if moved else 1)  # refused: the wait is real


def _paced(slept: list[float]) -> Target:
    """A target 2 s apart between creates, that records its sleeps instead of sleeping."""
    return Target(
        "http://target.test",
        "k",
        observer=Observer(),
        sleep=slept.append,
        transport=httpx.MockTransport(lambda request: httpx.Response(404)),
        min_gap=2.0,
    )


def test_target_keeps_its_minimum_gap_between_requests() -> None:
    slept: list[float] = []
    target = _paced(slept)
    target.call("POST", "/a")
    target.call("POST", "/b")
    assert len(slept) == 1
    assert 1.5 < slept[0] <= 2.0


def test_target_keeps_a_shorter_gap_between_queries() -> None:
    # A GET keeps at most QUERY_GAP: the upstream allows four times as many queries as creates.
    slept: list[float] = []
    target = _paced(slept)
    target.call("GET", "/a")
    target.call("GET", "/b")
    assert len(slept) == 1
    assert 0.05 < slept[0] <= QUERY_GAP


def _report(**seen: object) -> Report:
    budget = Budget(max_creates=0, creates=0, unplanned_creates=0, requests=0)
    observations = msgspec.convert(seen, Observations)
    return Report(
        target="t",
        live=False,
        started_at="now",
        seconds=1.0,
        checks=Tally().results(),
        observations=observations,
        budget=budget,
    )


def test_drift_lists_what_differs_and_never_timings() -> None:
    a = _report(status_spellings=["pending", "succeeded"], task_seconds={"succeeded": [2.0]})
    b = _report(status_spellings=["pending", "completed"], task_seconds={"succeeded": [90.0]})
    drift = compare(a, b)
    assert [(d.aspect, d.a, d.b) for d in drift.differences] == [
        ("status spellings", "pending, succeeded", "pending, completed")
    ]
    assert "succeeded" in drift.timings
    assert compare(a, a).same


def test_every_rule_is_listed_once() -> None:
    listed = rules()
    assert len(listed) == len(set(listed)) >= 30
    assert ("image", "dimensions") in listed
