"""``wan-mock contract run`` and ``wan-mock contract drift``: the command line of the suite.

``mockserver.cli`` hands every ``wan-mock contract ...`` invocation here, importing this
module only then, so ``wan-mock serve`` never loads schemathesis. Exit status: 0 when every
check passed (or, for drift, nothing differs), 1 when one failed (or something differs),
2 for bad input or a run that had to stop (its reports are written all the same).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

import httpx

from mockserver.conformance.drift import compare, write_drift
from mockserver.conformance.drift import markdown as drift_markdown
from mockserver.conformance.plans import RunOptions, identify, make_plan
from mockserver.conformance.progress import Progress
from mockserver.conformance.receiver import check_receiver, write_receiver_reports
from mockserver.conformance.receiver import summary as receiver_summary
from mockserver.conformance.results import Report, ReportError, load
from mockserver.conformance.runner import run
from mockserver.conformance.target import check_base_url
from mockserver.conformance.writers import summary, write_reports
from mockserver.domain.webhooks import EVENTS

DEFAULT_TOKEN_ENV = "MULEROUTER_API_KEY"
FAKE_TOKEN = "wan-mock-contract"  # any key works on a fake that was not given keys


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wan-mock contract",
        description="Check the fake or the live API against the contract and the task "
        "lifecycle, within a budget; compare two targets or two recorded runs.",
    )
    commands = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run_parser = commands.add_parser(
        "run",
        help="run the suite against one base URL",
        description="Run the contract suite against one base URL, the fake or the live API: "
        "auth, lookups, every request rule, generated requests and, within --max-creates, "
        "tasks polled to the end. Against the live API nothing that could create a task is "
        "sent unless --max-creates allows it. Exit status 0 when every check passed, 1 when "
        "one failed, 2 for bad input, a target that cannot be reached, a rejected key or a "
        "wrong path (reports are written all the same).",
    )
    run_parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000")
    _target_options(run_parser)
    run_parser.add_argument(
        "--dry-run", action="store_true", help="list what would be sent and its cost; send nothing"
    )
    drift = commands.add_parser(
        "drift",
        help="compare two targets (base URLs) or two recorded runs (report.json)",
        description="Compare two targets (base URLs, each run first) or two recorded runs "
        "(report.json) and report what differs. Exit status 0 when nothing differs, 1 when "
        "something does, 2 for bad input.",
    )
    drift.add_argument("a", help="a base URL, a report.json, or a --report directory")
    drift.add_argument("b", help="the same, for the other side")
    _target_options(drift)
    drift.add_argument(
        "--force-outcomes",
        action="store_true",
        help="ask a fake for each outcome with the scenario header (both sides must be fakes); "
        "by default neither side's outcomes are forced, so the two runs are driven alike",
    )
    hook = commands.add_parser(
        "webhook",
        help="check a webhook receiver (signature, staleness, duplicates, time)",
        description="Send a webhook receiver a genuine event, one signed with another secret, "
        "a stale one and a duplicate, and judge its answers. Exit status 0 when every check "
        "passed, 1 when one failed, 2 when the receiver could not be reached.",
    )
    hook.add_argument("--to", required=True, metavar="URL", help="the receiver's URL")
    hook.add_argument("--secret", required=True, help="the endpoint's signing secret")
    hook.add_argument("--event", default="task.succeeded", choices=EVENTS)
    hook.add_argument("--timeout", type=_seconds, default=10.0, help="seconds (default: 10)")
    hook.add_argument("--key-reading", default="utf8", choices=("utf8", "base64"))
    hook.add_argument("--digest", default="hex", choices=("hex", "base64"))
    hook.add_argument("--report", type=Path, metavar="DIR", help="write the reports into DIR")
    return parser


def _webhook(args: argparse.Namespace, out: TextIO) -> int:
    if args.report is not None:
        _written(lambda: [_directory(args.report)])
    report = check_receiver(
        args.to,
        args.secret,
        event=args.event,
        timeout=args.timeout,
        key=args.key_reading,
        digest=args.digest,
    )
    for check in report.checks:
        note = "" if check.outcome == "pass" else f"  {'; '.join(check.reasons)}"
        print(f"{check.outcome.upper():4}  {check.name}{note}", file=out)
    print(f"{receiver_summary(report)}; {report.seconds:.1f} s against {args.to}", file=out)
    if args.report is not None:
        for path in _written(lambda: write_receiver_reports(report, args.report)):
            print(f"wrote {path}", file=out)
    if report.unreachable:
        return 2
    return 0 if report.ok else 1


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token-env",
        default=DEFAULT_TOKEN_ENV,
        metavar="VAR",
        help=f"environment variable holding the API key ({DEFAULT_TOKEN_ENV})",
    )
    parser.add_argument(
        "--other-token-env",
        metavar="VAR",
        help="variable holding a second key, to check that tasks are private to their key",
    )
    parser.add_argument(
        "--admin-token-env", metavar="VAR", help="variable holding the fake's admin token"
    )
    parser.add_argument(
        "--max-creates",
        type=_count,
        metavar="N",
        help="hard cap on tasks created (billed on a live API); live default 0, fake 200",
    )
    parser.add_argument(
        "--poll-interval",
        type=_seconds,
        metavar="S",
        help="seconds between polls of a task; billed default and floor 5 (a lower value is "
        "raised, with a notice), fake 0.1, free 1",
    )
    parser.add_argument(
        "--deadline",
        type=_seconds,
        metavar="S",
        help="seconds the lifecycle waits for its tasks, from their creates: the vendor's API 900, "
        "wan-mock 60, any other target 30",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        metavar="S",
        help="seconds for one answer; a request past it is a failed check, not the end of the "
        "run (30)",
    )
    parser.add_argument(
        "--free",
        action="store_true",
        help="the target is yours (staging, your own fake): no budget floor (default "
        "--max-creates 200), no pacing, no --poll-interval floor",
    )
    parser.add_argument(
        "--examples", type=_count, default=25, metavar="N", help="generated requests per kind (25)"
    )
    parser.add_argument("--seed", type=_count, help="hypothesis seed (default: derandomized)")
    parser.add_argument("--report", type=Path, metavar="DIR", help="write reports into DIR")
    parser.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="make the rule probes' bodies afresh and keep none (default: kept in "
        "$XDG_CACHE_HOME/wan-mock/contract, about 0.8 s of CPU saved per run)",
    )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 3600: {text!r}")
    return value


def main(
    argv: Sequence[str], env: Mapping[str, str] | None = None, out: TextIO | None = None
) -> int:
    env = os.environ if env is None else env
    out = out if out is not None else sys.stdout
    args = build_parser().parse_args(argv)
    try:
        if args.action == "run":
            return _run(args, env, out)
        if args.action == "webhook":
            return _webhook(args, out)
        return _drift(args, env, out)
    except (UsageError, ReportError) as exc:
        print(f"wan-mock contract: {exc}", file=sys.stderr)
        return 2
    except httpx.TransportError as exc:  # the run cannot go on without its target
        # Its origin: the path of the request that failed says nothing about why.
        origin = exc.request.url.copy_with(path="/", query=None) if _has_request(exc) else None
        where = str(origin) if origin else "the target"
        print(f"wan-mock contract: cannot reach {where}: {exc}", file=sys.stderr)
        return 2


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when the error carries no request
    except RuntimeError:
        return False
    return True


def _base_url(url: str) -> str:
    try:
        return check_base_url(url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _options(args: argparse.Namespace, base_url: str, env: Mapping[str, str]) -> RunOptions:
    _base_url(base_url)
    admin = env.get(args.admin_token_env) if args.admin_token_env else None
    token = env.get(args.token_env)
    if not token:
        if identify(base_url, admin) is None:
            raise UsageError(
                f"{base_url} is not wan-mock, so it needs a key: set {args.token_env} "
                "(or name another variable with --token-env)"
            )
        token = FAKE_TOKEN
    other = None
    if args.other_token_env:
        other = env.get(args.other_token_env)
        if not other:
            raise UsageError(f"--other-token-env: {args.other_token_env} is not set")
    return RunOptions(
        base_url=base_url,
        token=token,
        other_token=other,
        max_creates=args.max_creates,
        poll_interval=args.poll_interval,
        examples=args.examples,
        seed=args.seed,
        admin_token=admin,
        deadline=args.deadline,
        timeout=args.timeout,
        free=args.free,
        cache=args.cache,
    )


def _run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    if args.dry_run:
        _base_url(args.base_url)
        options = RunOptions(
            args.base_url,
            "",
            max_creates=args.max_creates,
            poll_interval=args.poll_interval,
            deadline=args.deadline,
            timeout=args.timeout,
            examples=args.examples,
            free=args.free,
        )
        plan = make_plan(options, live=True)
        kind = "a target declared free" if args.free else "a live target"
        print(f"Dry run against {args.base_url}: nothing is sent. A dry run cannot tell", file=out)
        print(f"the fake from the live API, so this is the plan for {kind}:", file=out)
        for line in plan.describe():
            print(f"  - {line}", file=out)
        return 0
    options = _options(args, args.base_url, env)
    if args.report is not None:  # found out now, not after a run that may have cost credits
        _written(lambda: [_directory(args.report)])
    report = run(options, Progress(env=env))
    _summary(report, out)
    if args.report is not None:
        for path in _written(lambda: write_reports(report, args.report)):
            print(f"wrote {path}", file=out)
    if report.aborted:
        print(f"wan-mock contract: aborted: {report.aborted}", file=sys.stderr)
        return 2
    return 0 if report.ok else 1


def _directory(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _written(write: Callable[[], list[Path]]) -> list[Path]:
    try:
        return write()
    except OSError as exc:
        raise UsageError(f"cannot write the reports: {exc}") from None


def _summary(report: Report, out: TextIO) -> None:
    for check in report.checks:
        note = "" if check.outcome == "pass" else f"  {'; '.join(check.reasons)}"
        print(f"{check.outcome.upper():4}  {check.name}{note}", file=out)
    where = "the live API" if report.live else "wan-mock"
    print(f"{summary(report)}; {report.seconds:.1f} s against {where}", file=out)
    if report.aborted:
        print(f"ABORTED: {report.aborted}", file=out)


def _is_url(spec: str) -> bool:
    return "://" in spec


def _drift(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    if args.report is not None:
        _written(lambda: [_directory(args.report)])
    specs = {"a": args.a, "b": args.b}
    urls = {name: _options(args, spec, env) for name, spec in specs.items() if _is_url(spec)}
    reports = {name: load(Path(spec)) for name, spec in specs.items() if not _is_url(spec)}
    for name, options in _alike(urls, reports, args.force_outcomes).items():
        report = run(options, Progress(env=env))
        if args.report is not None:
            _written(lambda: write_reports(report, args.report / name))  # noqa: B023
        if report.aborted:
            raise UsageError(f"the run against side {name.upper()} aborted: {report.aborted}")
        reports[name] = report
    drift = compare(reports["a"], reports["b"])
    out.write(drift_markdown(drift))
    if args.report is not None:
        for path in _written(lambda: write_drift(drift, args.report)):
            print(f"wrote {path}", file=out)
    return 0 if drift.same else 1


def _alike(
    urls: dict[str, RunOptions], reports: dict[str, Report], force: bool
) -> dict[str, RunOptions]:
    """The options of each side to run, driven alike: the same pacing and deadline, the smaller
    budget, and outcomes forced on neither side unless asked. A recorded side sets the pace
    (never the budget above what this run allows)."""
    options = {n: dataclasses.replace(o, force_outcomes=force) for n, o in urls.items()}
    plans = [
        make_plan(o, live=identify(o.base_url, o.admin_token) is None) for o in options.values()
    ]
    intervals = [p.poll_interval for p in plans]
    gaps = [p.min_gap for p in plans]
    caps = [p.max_creates for p in plans]
    deadlines = [p.deadline for p in plans]
    for report in reports.values():
        if report.driving is not None:
            intervals.append(report.driving.poll_interval)
            gaps.append(report.driving.min_gap)
    return {
        name: dataclasses.replace(
            o,
            poll_interval=max(intervals),
            min_gap=max(gaps),
            max_creates=min(caps),
            deadline=max(deadlines),
        )
        for name, o in options.items()
    }
