"""One run of the contract suite against one base URL: the function the CLI and pytest share.

A target is live unless it identifies itself as wan-mock (its control plane answers
``GET /_mock/health``), and a live target is billed unless the caller declares it free
(``free``: a staging server or a fake of one's own). Against a billed target the run spends
nothing unless ``max_creates`` allows it (the budget's gate, :mod:`.budget`, sees every
request), polls are at least 5 s apart and requests 0.25 s. Against the fake the defaults are
generous, and the run moves the fake's clock and asks for outcomes with the scenario header, so
tasks reach both terminal states in seconds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from mockserver.conformance.budget import Spend
from mockserver.conformance.fuzzing import CREATE, GET, Contract
from mockserver.conformance.lifecycle import Lifecycle
from mockserver.conformance.observer import Observer
from mockserver.conformance.plans import Plan, RunOptions, deadline_note, identify, make_plan
from mockserver.conformance.probe_cache import BodyCache, default_directory
from mockserver.conformance.probes import (
    check_auth,
    check_malformed,
    check_rules,
    check_unknown_ids,
    sanity,
)
from mockserver.conformance.progress import Progress, Silent
from mockserver.conformance.results import (
    DESCRIPTIONS,
    Budget,
    CheckResult,
    Driving,
    Report,
    RunAborted,
    Tally,
)
from mockserver.conformance.target import (
    Redactor,
    Target,
    check_base_url,
    curl,
)
from mockserver.control import Control, ControlError


def run(options: RunOptions, progress: Progress | None = None) -> Report:
    """Run every check against ``options.base_url``; the report says what passed. A run that
    has to stop early still returns its report, with ``aborted`` saying why."""
    check_base_url(options.base_url)
    progress = progress or Silent()
    started, clock = datetime.now(UTC), time.monotonic()
    redact = Redactor([options.token, options.other_token, options.admin_token])
    progress.redact = redact
    progress.phase(f"identifying {options.base_url}")
    unreachable = None
    try:
        fake = identify(options.base_url, options.admin_token)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        origin = httpx.URL(options.base_url).copy_with(path="/", query=None)
        fake, unreachable = None, RunAborted(f"cannot reach {origin}: {exc}")
    plan = make_plan(options, live=fake is None)
    progress.finish(
        f"wan-mock {fake['version']}"
        if fake
        else "unreachable"
        if unreachable
        else "live: budget rules apply"
        if plan.billed
        else "declared free"
    )
    for notice in plan.notices:
        progress.notice(notice)
    observer, tally = Observer(), Tally(curl=curl)
    spend = Spend(plan.max_creates, cautious=plan.billed)
    spend.reserved = len(plan.lifecycle_tasks)
    target = Target(
        options.base_url,
        options.token,
        observer=observer,
        spend=spend,
        tally=tally,
        timeout=plan.timeout,
        min_gap=plan.min_gap,
    )
    contract = Contract(target, tally, redact)
    other = options.other_token
    if other is None and fake is not None:
        other = options.token + "-second-key"  # any key works on a fake unless configured
    control = Control(options.base_url, admin_token=options.admin_token) if fake else None
    advance = _advancer(control) if plan.forced_outcomes else None
    target.move_clock = advance
    aborted: RunAborted | None = unreachable
    try:
        if aborted is None:
            _phases(options, plan, target, contract, tally, spend, progress, other, fake, advance)
    except RunAborted as exc:
        aborted = exc
    except httpx.TransportError as exc:
        aborted = RunAborted(f"the target stopped answering: {exc}")
    except KeyboardInterrupt:
        aborted = RunAborted("interrupted")
    finally:
        target.close()
        if control is not None:
            control.close()
    if aborted is not None:
        progress.notice(f"run aborted: {redact(aborted.reason)}")
    observations = observer.finish()
    observations.identified_as_fake = fake is not None
    observations.fake_version = fake["version"] if fake else None
    checks = [_redacted(c, redact) for c in tally.results()]
    if aborted is not None and aborted.void:
        checks = [_void(c, aborted.reason) for c in checks]
    return Report(
        target=redact(options.base_url),
        live=plan.live,
        started_at=started.isoformat(),
        seconds=round(time.monotonic() - clock, 3),
        checks=checks,
        observations=observations,
        budget=Budget(
            max_creates=plan.max_creates,
            creates=spend.creates,
            unplanned_creates=spend.unplanned,
            accepted_creates=spend.accepted,
            requests=target.requests,
            kept_back=spend.refused,
        ),
        driving=Driving(
            billed=plan.billed,
            forced_outcomes=plan.forced_outcomes,
            clock_moved=advance is not None,
            poll_interval=plan.poll_interval,
            min_gap=plan.min_gap,
            max_creates=plan.max_creates,
            lifecycle_tasks=len(plan.lifecycle_tasks),
            examples=plan.examples,
            seed=options.seed,
        ),
        rules=dict(tally.rules),
        notices=plan.notices,
        aborted=redact(aborted.reason) if aborted is not None else None,
    )


def _phases(
    options: RunOptions,
    plan: Plan,
    target: Target,
    contract: Contract,
    tally: Tally,
    spend: Spend,
    progress: Progress,
    other: str | None,
    fake: dict[str, Any] | None,
    advance: Any,
) -> None:
    progress.phase("auth and lookups")
    accepts_any = fake is not None and not fake["settings"].get("api_keys")
    check_auth(target, contract, tally, accepts_any)
    check_unknown_ids(target, contract, tally)
    sanity(target)  # nothing more is sent when the key or the path is wrong
    progress.finish()
    # Against a target whose clock the run cannot move, the lifecycle's tasks are created first
    # and followed last, so their wait overlaps the rest of the run. A fake whose clock it
    # moves is driven in one go at the end: its tasks progress only when the run says so.
    lifecycle = Lifecycle(
        target,
        contract,
        tally,
        interval=plan.poll_interval,
        deadline=plan.deadline,
        other_token=other,
        advance=advance,
        progress=progress,
        deadline_note=deadline_note(options, plan.live),
    )
    if advance is None:
        _start(lifecycle, plan, target, spend, progress)
    progress.phase("request rules")
    cache = BodyCache(default_directory() if options.cache else None)
    check_rules(target, contract, tally, progress, cache)
    check_malformed(target, tally)
    progress.finish()
    progress.phase("generated requests")
    contract.fuzz(CREATE, "negative", plan.examples, options.seed)
    contract.fuzz(GET, "negative", plan.examples, options.seed)
    contract.fuzz(GET, "positive", plan.examples, options.seed)
    progress.finish()
    if advance is not None:
        _start(lifecycle, plan, target, spend, progress)
    progress.phase("lifecycle: following tasks")
    target.between = None
    lifecycle.follow()
    progress.finish(f"{len(lifecycle.tasks)} tasks")
    progress.phase("generated creates")
    allowed = min(plan.positive_creates, spend.remaining)
    if allowed < plan.positive_creates:
        tally.not_exercised(
            "rules.valid_accepted",
            f"{plan.positive_creates - allowed} generated creates",
            f"not sent: the rest of --max-creates {plan.max_creates} went to earlier probes",
        )
    sent = contract.fuzz(CREATE, "positive", allowed, options.seed)
    progress.finish(f"{sent} sent")
    if not lifecycle.tasks:
        why = lifecycle.kept_back or (
            f"no task created: --max-creates {plan.max_creates} allows none for the lifecycle"
        )
        for name in DESCRIPTIONS:
            if name.startswith("lifecycle.") or name == "lookup.foreign_task_404":
                tally.skip(name, why)
    if not plan.positive_creates:
        tally.skip("rules.valid_accepted", "no creates allowed (--max-creates)")
    tally.skip("lifecycle.retry_after", "the target sent no 429 or 503")
    tally.skip("lifecycle.distinct_ids", "fewer than two creates were accepted")
    tally.skip("lifecycle.accepted_202", "no create was accepted")


def _start(
    lifecycle: Lifecycle, plan: Plan, target: Target, spend: Spend, progress: Progress
) -> None:
    """Create the lifecycle's tasks (their share of the budget is no longer held back), and
    follow them between the run's other requests from then on."""
    progress.phase("lifecycle: creating tasks")
    spend.reserved = 0
    lifecycle.start(plan.lifecycle_tasks)
    target.between = lifecycle.tick
    progress.finish(f"{len(lifecycle.tasks)} tasks")


def _advancer(control: Control | None) -> Any:
    if control is None:
        return None

    def advance(seconds: float) -> bool:
        # A fake that refuses (admin token needed): its tasks finish in real time instead.
        try:
            control.advance(seconds)
        except ControlError:
            return False
        return True

    return advance


def _redacted(check: CheckResult, redact: Redactor) -> CheckResult:
    return msgspec.structs.replace(
        check,
        reasons=[redact(r) for r in check.reasons],
        curls=[redact(c) for c in check.curls],
        not_exercised=[redact(r) for r in check.not_exercised],
    )


def _void(check: CheckResult, reason: str) -> CheckResult:
    """A verdict reached on evidence the run no longer trusts: a skip, saying why."""
    if check.outcome == "skip":
        return check
    return msgspec.structs.replace(
        check, outcome="skip", reasons=[f"not trusted: the run stopped because {reason}"]
    )
