"""One run of the contract suite against one base URL: the function the CLI and pytest share.

A target is live unless it identifies itself as wan-mock (its control plane answers
``GET /_mock/health``). Against a live target the run spends nothing unless ``max_creates``
allows it: only requests the API must refuse are sent, and polls are at least 5 s apart.
Against the fake the defaults are generous, and the run moves the fake's clock and asks for
outcomes with the scenario header, so tasks reach both terminal states in seconds.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from mockserver.conformance.fuzzing import CREATE, GET, Contract
from mockserver.conformance.lifecycle import Lifecycle
from mockserver.conformance.probes import BAD_AUTH, check_auth, check_rules, check_unknown_ids
from mockserver.conformance.progress import Progress, Silent
from mockserver.conformance.results import DESCRIPTIONS, Budget, CheckResult, Report, Tally
from mockserver.conformance.target import Observer, Redactor, Spend, Target
from mockserver.control import Control, ControlError
from mockserver.domain.contract import load_contract
from mockserver.testing.strategies import rules

LIVE_MIN_INTERVAL = 5.0
LIVE_MIN_GAP = 0.25  # at most 4 requests a second to a live API (its upstream allows 5 creates/s)
FAKE_SCENARIOS: list[str | None] = ["succeed", "fail", "poll-error:429", None]
FAKE_MAX_CREATES = 200


@dataclass(frozen=True)
class RunOptions:
    """What to run against. ``None`` picks the default for a live or a fake target."""

    base_url: str
    token: str
    other_token: str | None = None
    max_creates: int | None = None  # live: 0; fake: 200
    poll_interval: float | None = None  # live: 5 s (the minimum); fake: 0.1 s
    examples: int = 25  # generated requests per operation and kind
    deadline: float | None = None  # seconds for tasks to finish; live: 900, fake: 60
    seed: int | None = None
    admin_token: str | None = None  # the fake's control plane token, if it has one
    min_gap: float | None = None  # seconds between requests; live: 0.25, fake: 0


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

    def describe(self) -> list[str]:
        cost = "billed" if self.live else "free (the fake)"
        lines = [
            f"auth: {2 * len(BAD_AUTH)} requests with missing or malformed keys, 1 with an "
            "unknown key (refused: free)",
            "lookups: 2 GETs of unknown task ids (404: free)",
            f"rules: {len(rules())} create bodies, each breaking one request rule (refused: free)",
            f"fuzz: up to {self.examples} schema-invalid creates and {self.examples} "
            "schema-invalid GETs (refused: free)",
            f"fuzz: up to {self.examples} schema-valid GETs of random ids (404: free)",
        ]
        if self.lifecycle_tasks:
            lines.append(
                f"lifecycle: {len(self.lifecycle_tasks)} tasks created ({cost}), each polled "
                f"every {self.poll_interval:g} s until done (at most {self.deadline:g} s), "
                "then each video downloaded"
            )
        else:
            lines.append("lifecycle: skipped (no creates allowed; pass --max-creates N)")
        if self.positive_creates:
            lines.append(f"fuzz: {self.positive_creates} schema-valid creates ({cost})")
        if self.live:
            lines.append(
                f"pace: at most {1 / LIVE_MIN_GAP:g} requests a second; every Retry-After obeyed"
            )
        creates = len(self.lifecycle_tasks) + self.positive_creates
        lines.append(
            f"cost: at most {creates} tasks created (cap {self.max_creates}); "
            + ("each is a billed wan2.6-i2v generation" if self.live and creates else "nothing")
        )
        return lines


def make_plan(options: RunOptions, live: bool) -> Plan:
    if options.max_creates is not None and options.max_creates < 0:
        raise ValueError("max_creates must be >= 0")
    cap = options.max_creates
    if cap is None:
        cap = 0 if live else FAKE_MAX_CREATES
    interval = options.poll_interval
    if interval is None:
        interval = LIVE_MIN_INTERVAL if live else 0.1
    if live:
        interval = max(interval, LIVE_MIN_INTERVAL)
    scenarios: list[str | None] = [None] * min(cap, 2) if live else FAKE_SCENARIOS[:cap]
    deadline = options.deadline or (900.0 if live else 60.0)
    positive = min(options.examples, cap - len(scenarios))
    return Plan(live, cap, scenarios, positive, interval, deadline, options.examples)


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
    """Run every check against ``options.base_url``; the report says what passed."""
    progress = progress or Silent()
    started, clock = datetime.now(UTC), time.monotonic()
    redact = Redactor([options.token, options.other_token, options.admin_token])
    progress.phase(f"identifying {options.base_url}")
    fake = identify(options.base_url, options.admin_token)
    plan = make_plan(options, live=fake is None)
    progress.finish(f"wan-mock {fake['version']}" if fake else "live: budget rules apply")
    observer, tally, spend = Observer(), Tally(), Spend(plan.max_creates, cautious=plan.live)
    gap = options.min_gap if options.min_gap is not None else LIVE_MIN_GAP if plan.live else 0.0
    target = Target(options.base_url, options.token, observer=observer, min_gap=gap)
    contract = Contract(target, tally, spend, redact)
    other = options.other_token
    if other is None and fake is not None:
        other = options.token + "-second-key"  # any key works on a fake unless configured
    control = Control(options.base_url, admin_token=options.admin_token) if fake else None
    try:
        progress.phase("auth and lookups")
        accepts_any = fake is not None and not fake["settings"].get("api_keys")
        check_auth(target, contract, tally, accepts_any)
        check_unknown_ids(target, contract, tally)
        progress.finish()
        progress.phase("request rules")
        check_rules(target, contract, tally, spend, progress)
        progress.finish()
        progress.phase("generated requests")
        contract.fuzz(CREATE, "negative", plan.examples, options.seed)
        contract.fuzz(GET, "negative", plan.examples, options.seed)
        contract.fuzz(GET, "positive", plan.examples, options.seed)
        progress.finish()
        progress.phase("lifecycle")
        lifecycle = Lifecycle(
            target,
            contract,
            tally,
            spend,
            interval=plan.poll_interval,
            deadline=plan.deadline,
            other_token=other,
            advance=_advancer(control),
            progress=progress,
        )
        lifecycle.run(plan.lifecycle_tasks)
        progress.finish(f"{len(lifecycle.tasks)} tasks")
        progress.phase("generated creates")
        sent = contract.fuzz(CREATE, "positive", plan.positive_creates, options.seed)
        progress.finish(f"{sent} sent")
        if not plan.lifecycle_tasks:
            for name in DESCRIPTIONS:
                if name.startswith("lifecycle.") or name == "lookup.foreign_task_404":
                    tally.skip(name, "no task created: the run may not create any (--max-creates)")
        if not plan.positive_creates:
            tally.skip("rules.valid_accepted", "no creates allowed (--max-creates)")
        tally.skip("lifecycle.retry_after", "the target sent no 429 or 503")
    finally:
        contract.close()
        target.close()
        if control is not None:
            control.close()
    observations = observer.finish()
    observations.identified_as_fake = fake is not None
    observations.fake_version = fake["version"] if fake else None
    return Report(
        target=redact(options.base_url),
        live=plan.live,
        started_at=started.isoformat(),
        seconds=round(time.monotonic() - clock, 3),
        checks=[_redacted(c, redact) for c in tally.results()],
        observations=observations,
        budget=Budget(
            max_creates=plan.max_creates,
            creates=spend.creates,
            unplanned_creates=spend.unplanned,
            requests=target.requests,
        ),
    )


def _advancer(control: Control | None) -> Any:
    if control is None:
        return None

    def advance(seconds: float) -> None:
        # A fake that refuses (admin token needed): its tasks finish in real time instead.
        with contextlib.suppress(ControlError):
            control.advance(seconds)

    return advance


def _redacted(check: CheckResult, redact: Redactor) -> CheckResult:
    return msgspec.structs.replace(check, reasons=[redact(r) for r in check.reasons])
