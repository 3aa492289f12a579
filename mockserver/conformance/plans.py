"""How a contract run is driven, decided before it starts: whether the target is the fake, the
pace, the budget and the deadline (``make_plan``), from the caller's options (``RunOptions``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from mockserver.conformance.probes import (
    BAD_AUTH,
    enum_neighbours,
)
from mockserver.conformance.target import (
    QUERY_GAP,
)
from mockserver.control import Control
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
    cache: bool = True  # keep the rule probes' bodies on disk for the next run (probe_cache.py)


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
            pace = (
                "as the run moves the fake's clock"
                if self.forced_outcomes
                else f"every {self.poll_interval:g} s"
            )
            lines.append(
                f"lifecycle: {len(self.lifecycle_tasks)} tasks created ({cost}), each polled "
                f"{pace} until done (at most {self.deadline:g} s, --deadline), then each video "
                "downloaded"
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
