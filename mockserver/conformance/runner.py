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

import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from mockserver.conformance.budget import Spend
from mockserver.conformance.fuzzing import CREATE, GET, Contract
from mockserver.conformance.lifecycle import Lifecycle
from mockserver.conformance.probes import (
    BAD_AUTH,
    check_auth,
    check_malformed,
    check_rules,
    check_unknown_ids,
    enum_neighbours,
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
    QUERY_GAP,
    Observer,
    Redactor,
    Target,
    check_base_url,
    curl,
)
from mockserver.control import Control, ControlError
from mockserver.domain.contract import load_contract
from mockserver.domain.paths import VENDOR_HOSTS
from mockserver.testing.strategies import rules

LIVE_MIN_INTERVAL = 5.0  # the floor of --poll-interval against a billed target
LIVE_MIN_GAP = 0.25  # at most 4 creates a second to a live API (its upstream allows 5 creates/s)
FREE_INTERVAL = 1.0  # polls of a free target that is not the fake (its clock cannot be moved)
FAKE_SCENARIOS: list[str | None] = ["succeed", "fail", "poll-error:429", None]
FAKE_MAX_CREATES = 200
# How long the lifecycle waits for its tasks, counted from their creates, unless --deadline says:
VENDOR_DEADLINE = 900.0  # the live API's tasks take minutes (more for 1080P, 15 s, multi-shot)
OTHER_DEADLINE = 30.0  # any other target (Prism, a fake of your own, a proxy): fail fast
FAKE_DEADLINE = 60.0  # wan-mock, whose clock the run moves
SCHEMA_RULES = frozenset(
    {"required", "type", "enum", "minLength", "maxLength", "minimum", "maximum"}
)


@dataclass(frozen=True)
class RunOptions:
    """What to run against. ``None`` picks the default for a billed, a free or a fake target."""

    base_url: str
    token: str
    other_token: str | None = None
    max_creates: int | None = None  # billed: 0; free or fake: 200
    poll_interval: float | None = None  # billed: 5 s (the floor); fake: 0.1 s; free: 1 s
    examples: int = 25  # generated requests per operation and kind
    deadline: float | None = None  # seconds for tasks to finish; live: 900, fake: 60
    seed: int | None = None
    admin_token: str | None = None  # the fake's control plane token, if it has one
    min_gap: float | None = None  # seconds between requests; billed: 0.25, otherwise 0
    timeout: float = 30.0  # seconds for one answer; past it, a failed check, and the run goes on
    free: bool = False  # the caller owns the target: no budget floor, no pacing
    force_outcomes: bool | None = None  # scenario headers; default: only for the fake


@dataclass(frozen=True)
class Plan:
    """What a run will do: the dry run prints it, the run follows it."""

    live: bool
    max_creates: int
    lifecycle_tasks: list[str | None]
    positive_creates: int
    poll_interval: float
    deadline: float
    examples: int
    billed: bool = True
    min_gap: float = LIVE_MIN_GAP
    timeout: float = 30.0
    notices: list[str] = field(default_factory=list)

    @property
    def forced_outcomes(self) -> bool:
        return any(s is not None for s in self.lifecycle_tasks)

    def describe(self) -> list[str]:
        cost = "billed" if self.billed else "free"
        content = sum(rule not in SCHEMA_RULES for _, rule in rules())
        probes = len(rules()) + len(enum_neighbours())
        lines = [
            f"auth: {2 * len(BAD_AUTH)} requests with missing or malformed keys (creates with "
            "a body no server may accept), 1 with an unknown key (refused: free)",
            "lookups: 2 GETs of unknown task ids (404: free)",
            f"rules: {probes} create bodies, each breaking one rule or using a value beside an "
            f"enum's (refused: free); {content} of them break a rule the schema cannot state "
            "(image contents, URLs), so they count against --max-creates and are sent only "
            "while it allows, after the lifecycle's share",
            "malformed: malformed JSON, an empty body, a form-encoded body, a wrong method "
            "(refused: free)",
            f"fuzz: up to {self.examples} schema-invalid creates and {self.examples} "
            "schema-invalid GETs (refused: free)",
            f"fuzz: up to {self.examples} schema-valid GETs of random ids (404: free)",
        ]
        if self.lifecycle_tasks:
            lines.append(
                f"lifecycle: {len(self.lifecycle_tasks)} tasks created ({cost}), each polled "
                f"every {self.poll_interval:g} s until done (at most {self.deadline:g} s, "
                "--deadline), then each video downloaded"
            )
        else:
            lines.append("lifecycle: skipped (no creates allowed; pass --max-creates N)")
        if self.positive_creates:
            lines.append(f"fuzz: up to {self.positive_creates} schema-valid creates ({cost})")
        if self.min_gap:
            lines.append(
                f"pace: at most {1 / self.min_gap:g} creates and "
                f"{1 / min(self.min_gap, QUERY_GAP):g} queries a second; every Retry-After "
                "obeyed"
            )
        lines.append(f"timeout: {self.timeout:g} s per request (past it: a failed check)")
        lines.append(
            f"cost: at most {self.max_creates} requests that could create a task (the cap; "
            "every create with the key and a body the schema accepts counts, whatever it "
            "tests); "
            + (
                "each accepted one is a billed wan2.6-i2v generation"
                if self.billed and self.max_creates
                else "nothing"
            )
        )
        return lines + [f"notice: {n}" for n in self.notices]


def make_plan(options: RunOptions, live: bool) -> Plan:
    if options.max_creates is not None and options.max_creates < 0:
        raise ValueError("max_creates must be >= 0")
    billed = live and not options.free
    cap = options.max_creates
    if cap is None:
        cap = 0 if billed else FAKE_MAX_CREATES
    notices: list[str] = []
    interval = options.poll_interval
    if interval is None:
        interval = LIVE_MIN_INTERVAL if billed else FREE_INTERVAL if live else 0.1
    if billed and interval < LIVE_MIN_INTERVAL:
        notices.append(
            f"--poll-interval {interval:g} raised to {LIVE_MIN_INTERVAL:g} s, the floor for a "
            "billed target (declare a target you own with --free)"
        )
        interval = LIVE_MIN_INTERVAL
    forced = options.force_outcomes if options.force_outcomes is not None else not live
    if forced and live:
        notices.append("outcomes cannot be forced on a target that is not wan-mock: not forced")
        forced = False
    scenarios: list[str | None] = FAKE_SCENARIOS[:cap] if forced else [None] * min(cap, 2)
    deadline = options.deadline or default_deadline(options.base_url, live)
    positive = max(0, min(options.examples, cap - len(scenarios)))
    gap = options.min_gap
    if gap is None:
        gap = LIVE_MIN_GAP if billed else 0.0
    return Plan(
        live,
        cap,
        scenarios,
        positive,
        interval,
        deadline,
        options.examples,
        billed=billed,
        min_gap=gap,
        timeout=options.timeout,
        notices=notices,
    )


def default_deadline(base_url: str, live: bool) -> float:
    """The lifecycle's wait without ``--deadline``: minutes for the vendor's hosts only, whose
    tasks are known to take that long; seconds for any other target, whose tasks have no reason
    to (a staging copy of the real service needs ``--deadline``)."""
    if not live:
        return FAKE_DEADLINE
    host = httpx.URL(base_url).host
    return VENDOR_DEADLINE if host in VENDOR_HOSTS else OTHER_DEADLINE


def deadline_note(options: RunOptions, live: bool) -> str:
    """How the deadline was chosen, for the failure that waited it out."""
    if options.deadline is not None or not live:
        return ""
    if httpx.URL(options.base_url).host in VENDOR_HOSTS:
        return ": the default for the vendor's API"
    return ": the default for a target that is not the vendor's API; raise it for real timing"


def identify(base_url: str, admin_token: str | None) -> dict[str, Any] | None:
    """The fake's health and settings, or None when the target is not wan-mock: its control
    plane must answer, and it must serve this package's contract at ``/openapi.json``. Raises
    :class:`httpx.TransportError` when nothing answers at ``base_url`` at all."""
    try:
        with Control(base_url, admin_token=admin_token, timeout=5.0) as control:
            health = control.health()
            if health.get("status") != "ok" or "version" not in health:
                return None
            served = httpx.get(base_url.rstrip("/") + "/openapi.json", timeout=5.0).json()
            if served.get("info") != load_contract()["info"]:
                return None
            return {"version": str(health["version"]), "settings": control.settings()}
    except (httpx.ConnectError, httpx.ConnectTimeout):
        raise  # no target to run against, fake or live
    except Exception:  # refused, not JSON, an error: whatever else it is, treat it as live
        return None


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
    check_rules(target, contract, tally, progress)
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

    def advance(seconds: float) -> None:
        # A fake that refuses (admin token needed): its tasks finish in real time instead.
        with contextlib.suppress(ControlError):
            control.advance(seconds)

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
