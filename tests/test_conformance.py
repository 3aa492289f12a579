"""The contract suite against the fake served in this process: it passes against the real
thing, it catches each deliberately broken variant, and it keeps to its budget."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from mockserver import Control, Settings
from mockserver.conformance import Report, RunOptions, lifecycle, make_plan, run
from mockserver.conformance.results import DESCRIPTIONS, load
from mockserver.conformance.target import Target
from mockserver.conformance.writers import write_reports
from mockserver.domain.behaviour import DIALECT_PROFILES
from mockserver.testing.server import ServerThread
from tests import broken
from tests.broken import Breaker
from tests.contract_proxy import CONTENT_RULES

TOKEN = "conformance-test-token-5f2a"
# Few generated requests and no pacing (even for a fake taken for the live API): each run takes
# about two seconds. The deadline only matters when a task never ends; it covers the first
# downloads' renders on a loaded machine.
QUICK = {"examples": 3, "deadline": 5.0, "min_gap": 0.0}  # the fake's tasks end by its clock


@pytest.fixture(scope="module")
def breakable() -> Iterator[tuple[ServerThread, Breaker]]:
    """A served fake with a Breaker in front of it, healthy again after each use."""
    with ServerThread(Settings(access_log=False)) as server:
        breaker = Breaker(server.app)
        server.catcher.app = breaker  # every request now passes through the breaker
        yield server, breaker
        breaker.use()


def _run(server: ServerThread, **options: object) -> Report:
    return run(RunOptions(server.base_url, TOKEN, **{**QUICK, **options}))  # type: ignore[arg-type]


def test_the_fake_passes_every_check(breakable: tuple[ServerThread, Breaker]) -> None:
    server, breaker = breakable
    breaker.use()
    report = _run(server, examples=5)
    assert report.ok, [(c.name, c.reasons) for c in report.failures()]
    outcomes = {c.name: c.outcome for c in report.checks}
    assert list(outcomes) == list(DESCRIPTIONS)
    # Only this one cannot be checked: a fake given no keys accepts any key.
    assert [n for n, o in outcomes.items() if o == "skip"] == ["auth.unknown_key"]
    seen = report.observations
    assert seen.identified_as_fake
    assert {"pending", "succeeded", "failed"} <= set(seen.status_spellings)
    assert seen.create_status_codes == [202]
    assert seen.error_shapes["404"] == ["{detail, error_code, title}"]
    assert seen.timestamp_formats == ["dddd-dd-ddTdd:dd:dd.dddddd+dd:dd"]
    assert seen.retry_after == ["429: 1"]
    assert set(seen.task_seconds) == {"succeeded", "failed"}
    assert not report.live
    # The lifecycle's tasks, generated creates, and the rule probes a schema cannot judge.
    assert report.budget.creates == 4 + 5 + len(CONTENT_RULES)
    assert report.rules_not_exercised() == []


def test_a_run_that_moves_the_fakes_clock_waits_for_nothing_in_real_time(
    breakable: tuple[ServerThread, Breaker], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its tasks are followed and the poll-error task's Retry-After is obeyed on the fake's
    clock: not one real sleep."""
    server, breaker = breakable
    breaker.use()
    slept: list[float] = []
    clock = SimpleNamespace(sleep=slept.append, monotonic=time.monotonic)
    monkeypatch.setattr(lifecycle, "time", clock)
    assert Target.__init__.__kwdefaults__ is not None
    monkeypatch.setitem(Target.__init__.__kwdefaults__, "sleep", slept.append)
    report = _run(server)
    assert report.ok, [(c.name, c.reasons) for c in report.failures()]
    assert report.observations.retry_after == ["429: 1"]
    assert slept == []


def test_every_spelling_the_fake_varies_is_within_the_contract() -> None:
    """The chaos profile varies spellings, create status, error bodies and timestamp precision
    per response; none of that may count as a failure against the contract. Its virtual clock
    moves only when the suite moves it. The one failure is a create answered 200: the contract
    allows it (some clients expect it), the documentation says 202, and the suite says so."""
    chaos = Settings(access_log=False, seed=3, clock="virtual", dialect=DIALECT_PROFILES["chaos"])
    with ServerThread(chaos) as server:
        report = _run(server)
    failures = {c.name: c.reasons for c in report.failures()}
    assert list(failures) == ["lifecycle.accepted_202"], failures
    assert all("accepted with 200" in reason for reason in failures["lifecycle.accepted_202"])
    assert len(report.observations.timestamp_formats) == 2
    assert report.observations.create_status_codes == [200, 202]
    assert len(report.observations.error_shapes["400"]) == 3  # default, envelope, detail


def _share(breaker: Breaker) -> None:
    breaker.use(inbound=broken.share_tasks_between_keys)


# Each variant breaks one promise; the checks named (space-separated) must all fail.
VARIANTS: dict[str, tuple[Callable[[Breaker], None], str]] = {
    "status spelled wrong": (
        lambda b: b.use(broken.misspell_succeeded),
        "lifecycle.known_statuses",
    ),
    "videos missing": (lambda b: b.use(broken.drop_videos), "lifecycle.videos_iff_succeeded"),
    "status goes backwards": (
        lambda b: b.use(broken.go_backwards),
        "lifecycle.forward_only lifecycle.terminal_stays",
    ),
    "500 on bad input": (
        lambda b: b.use(broken.server_error_on_bad_input),
        "contract.no_server_error",
    ),
    "wrong error status": (
        lambda b: b.use(broken.wrong_status_for_unknown_id),
        "lookup.unknown_id_404",
    ),
    "invalid body accepted": (
        lambda b: b.use(broken.accept_invalid_bodies),
        "rules.invalid_rejected rules.every_rule_rejected",
    ),
    "bad auth answered 403": (lambda b: b.use(broken.wrong_status_for_bad_auth), "auth.enforced"),
    "timestamps reversed": (
        lambda b: b.use(broken.reverse_timestamps),
        "lifecycle.timestamps_ordered",
    ),
    "video not mp4": (lambda b: b.use(broken.video_not_mp4), "lifecycle.video_downloads"),
    "failed without error": (lambda b: b.use(broken.drop_task_error), "lifecycle.error_iff_failed"),
    "429 without Retry-After": (lambda b: b.use(broken.drop_retry_after), "lifecycle.retry_after"),
    "undocumented status code": (
        lambda b: b.use(broken.undocumented_status),
        "contract.status_code",
    ),
    "wrong content type": (lambda b: b.use(broken.text_content_type), "contract.content_type"),
    "malformed traceparent": (lambda b: b.use(broken.bad_traceparent), "contract.headers"),
    "tasks visible to other keys": (_share, "lookup.foreign_task_404"),
}


@pytest.mark.parametrize(("variant", "caught_by"), VARIANTS.values(), ids=list(VARIANTS))
def test_each_broken_variant_is_caught(
    breakable: tuple[ServerThread, Breaker], variant: Callable[[Breaker], None], caught_by: str
) -> None:
    server, breaker = breakable
    variant(breaker)
    try:
        report = _run(server)
    finally:
        breaker.use()
    assert not report.ok
    failed = {c.name: c for c in report.failures()}
    for name in caught_by.split():
        assert name in failed, [c.name for c in report.failures()]
        assert failed[name].reasons, "a failure must say why"


def test_a_target_that_is_not_the_fake_is_treated_as_live_and_costs_nothing() -> None:
    # The control plane refuses callers without the admin token, so the run cannot identify
    # the fake: it must behave as it would against the billed API.
    admin = "admin-token-for-this-test"
    with ServerThread(Settings(access_log=False, admin_token=admin)) as server:
        report = _run(server)
        with Control(server.base_url, admin_token=admin) as control:
            created = control.tasks()
    assert report.live
    assert created == []
    assert (report.budget.creates, report.budget.unplanned_creates) == (0, 0)
    outcomes = {c.name: c.outcome for c in report.checks}
    assert outcomes["rules.valid_accepted"] == outcomes["lifecycle.reaches_terminal"] == "skip"
    # What it may send for free still ran, and passed.
    for name in ("auth.enforced", "rules.malformed_rejected", "lookup.unknown_id_404"):
        assert outcomes[name] == "pass", name
    # The rule probes a schema cannot judge were kept back: the check is not a pass.
    assert outcomes["rules.every_rule_rejected"] == "skip"
    assert report.rules_not_exercised() == CONTENT_RULES
    assert {o for k, o in report.rules.items() if k not in CONTENT_RULES} == {"pass"}


def test_a_live_target_that_bills_an_invalid_body_gets_no_more_of_them() -> None:
    admin = "admin-token-for-this-test"
    with ServerThread(Settings(access_log=False, admin_token=admin)) as server:
        breaker = Breaker(server.app)
        server.catcher.app = breaker
        breaker.use(broken.accept_invalid_bodies)
        report = _run(server)
    assert report.live
    assert report.budget.unplanned_creates == 1  # the first, then no invalid create was sent
    failed = {c.name: c for c in report.failures()}
    reasons = failed["rules.every_rule_rejected"].reasons
    assert any("-> 202, expected a 4xx" in r for r in reasons)  # what was seen, no more
    assert any("not exercised" in r and "correct server must refuse" in r for r in reasons)
    assert len(report.rules_not_exercised()) == len(report.rules) - 1


def test_max_creates_is_a_hard_cap(breakable: tuple[ServerThread, Breaker]) -> None:
    server, breaker = breakable
    breaker.use()
    server.control.reset()
    report = _run(server, max_creates=2)
    assert report.budget.creates == 2
    assert len(server.control.tasks()) == 2
    assert report.budget.max_creates == 2


def test_live_polls_are_at_least_five_seconds_apart_and_creates_default_to_none() -> None:
    plan = make_plan(RunOptions("https://api.example", "k", poll_interval=0.5), live=True)
    assert (plan.poll_interval, plan.max_creates, plan.lifecycle_tasks) == (5.0, 0, [])
    plan = make_plan(RunOptions("https://api.example", "k", max_creates=3), live=True)
    assert len(plan.lifecycle_tasks) + plan.positive_creates == 3
    text = "\n".join(plan.describe())
    assert "billed" in text
    assert "at most 3 requests that could create a task" in text


def test_reports_are_written_and_read_back(
    breakable: tuple[ServerThread, Breaker], tmp_path: Path
) -> None:
    server, breaker = breakable
    breaker.use(broken.drop_videos)
    try:
        report = _run(server)
    finally:
        breaker.use()
    paths = write_reports(report, tmp_path / "out")
    assert [p.name for p in paths] == ["report.json", "report.md", "junit.xml"]
    assert load(tmp_path / "out") == report
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert len(suite.findall("testcase")) == len(DESCRIPTIONS)
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed == [c.name for c in report.failures()]
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| `lifecycle.videos_iff_succeeded` | **FAIL** |" in markdown
    for path in paths:
        assert TOKEN not in path.read_text()
