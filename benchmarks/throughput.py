"""Create and poll throughput of the fake against a bare Starlette app, paired round by round.

Each server runs alone on one CPU (taskset), wrk runs on the other, so the comparison is
server CPU against server CPU. Rounds interleave the two targets and the ratio is taken within
each round, which cancels most of the drift (thermal, noisy neighbours) a 2-core box shows.

    .venv/bin/python benchmarks/throughput.py [--rounds 5] [--duration 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _harness as h
import httpx

# Ratios to meet, per baseline: the pre-serialised app is the issue-11 measure (at least as fast
# as a minimal honest stateful Starlette fake); the per-request-dict app is the older one.
BASELINES = {
    "preserialised": {
        "floors": {"create": 0.45, "poll": 0.70},
        "aims": {"create": 0.5, "poll": 0.8},
    },
    "app": {"floors": {"create": 0.30, "poll": 0.50}, "aims": {"create": 0.50, "poll": 0.70}},
}
TARGETS = ("fake", "bare")
OPS = ("create", "poll")

_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_RE_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_RE_TOTAL = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_RE_PCT = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RE_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_RE_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def parse_wrk(output: str) -> WrkResult:
    rps = _RE_RPS.search(output)
    total = _RE_TOTAL.search(output)
    pct = {m.group(1): float(m.group(2)) * _UNIT_MS[m.group(3)] for m in _RE_PCT.finditer(output)}
    if rps is None or total is None or "50" not in pct or "99" not in pct:
        raise h.HarnessError(f"could not parse wrk output:\n{output}")
    non2xx = _RE_NON2XX.search(output)
    sock = _RE_SOCKET.search(output)
    return WrkResult(
        requests=int(total.group(1)),
        rps=float(rps.group(1)),
        p50_ms=pct["50"],
        p99_ms=pct["99"],
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
    )


def lua_string(text: str) -> str:
    # wrk embeds LuaJIT (Lua 5.1 escapes): JSON's \uXXXX would not survive, so escape by hand
    # and insist on ASCII.
    if not text.isascii():
        raise h.HarnessError("wrk script strings must be ASCII")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def lua_script(method: str, headers: dict[str, str], body: bytes | None) -> str:
    # Setting wrk.method/body/headers once lets wrk build the request a single time, so the
    # load generator stays cheap (no per-request Lua callback).
    lines = [f"wrk.method = {lua_string(method)}"]
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body.decode())}")
    lines.extend(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
    return "\n".join(lines) + "\n"


def run_wrk(
    url: str, script: Path, connections: int, duration_s: int, cpu: int | None
) -> WrkResult:
    cmd = h.pinned(
        [
            h.require_tool("wrk"),
            "-t1",
            f"-c{connections}",
            f"-d{duration_s}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        cpu,
    )
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration_s + 20, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise h.HarnessError(f"wrk did not finish within {duration_s + 20} s: {url}") from exc
    if done.returncode != 0:
        raise h.HarnessError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def preflight(server: h.Server, target: str) -> str:
    """One create and one poll through httpx, so a broken server fails loudly before wrk.

    Returns the id to poll: the fake only answers ids it issued for the same key.
    """
    with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
        created = client.post(
            h.CREATE_PATH, content=h.create_body_bytes(), headers=h.CREATE_HEADERS
        )
        if not created.is_success:
            raise h.HarnessError(
                f"{target}: POST {h.CREATE_PATH} answered {created.status_code}: {created.text}"
            )
        if target == "fake":
            try:
                task_id = str(created.json()["task_info"]["id"])
            except (ValueError, KeyError, TypeError) as exc:
                raise h.HarnessError(f"{target}: no task_info.id in {created.text!r}") from exc
        else:
            task_id = str(uuid.uuid4())
        polled = client.get(h.poll_path(task_id), headers=h.AUTH_HEADERS)
        if polled.status_code != 200:
            raise h.HarnessError(
                f"{target}: GET {h.poll_path(task_id)} answered {polled.status_code}: {polled.text}"
            )
    print(f"{target}: create -> {created.status_code}, poll -> {polled.status_code} (id {task_id})")
    return task_id


def round_order(index: int) -> list[tuple[str, str]]:
    # Swapping which target goes first each round spreads any within-round drift evenly.
    first, second = TARGETS if index % 2 == 0 else TARGETS[::-1]
    return [(first, "create"), (second, "create"), (first, "poll"), (second, "poll")]


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds (default 5)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds of discarded warmup per cell (default 2)"
    )
    parser.add_argument(
        "--connections", type=int, default=64, help="wrk open connections (default 64)"
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU for servers (default 0)")
    parser.add_argument("--wrk-cpu", type=int, default=1, help="CPU for wrk (default 1)")
    parser.add_argument(
        "--baseline",
        choices=sorted(BASELINES),
        default="preserialised",
        help="the bare app compared with: fixed bytes (default) or a dict serialised per request",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    # Lets the harness be exercised before the fake exists, e.g.
    # --fake-cmd '{python} -m uvicorn bare_app:app --app-dir benchmarks --port {port}'
    parser.add_argument("--fake-cmd", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0 or args.connections < 1:
        parser.error("--rounds, --duration and --connections must be >= 1, --warmup >= 0")

    h.install_sigterm_handler()
    h.require_tool("wrk")
    fake_port, bare_port = h.free_port(), h.free_port()
    fake_cmd = (
        h.template_cmd(args.fake_cmd, fake_port)
        if args.fake_cmd
        else h.wan_mock_cmd(fake_port, "--seed", "1")
    )
    fake = h.Server("fake", h.pinned(fake_cmd, args.server_cpu), fake_port)
    bare_cmd = h.bare_app_cmd(bare_port, args.baseline)
    bare = h.Server("bare", h.pinned(bare_cmd, args.server_cpu), bare_port)
    per_round = 4 * args.duration
    estimate = 4 * args.warmup + args.rounds * per_round
    print(
        f"{args.rounds} rounds x 4 runs x {args.duration} s, wrk -t1 -c{args.connections}, "
        f"servers on CPU {args.server_cpu}, wrk on CPU {args.wrk_cpu}: about {estimate} s"
    )

    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, h.servers(fake, bare):
        for server in (fake, bare):
            server.wait_ready(deadline_s=20.0)
        ids = {"fake": preflight(fake, "fake"), "bare": preflight(bare, "bare")}
        servers = {"fake": fake, "bare": bare}
        scripts = {
            "create": Path(tmp, "create.lua"),
            "poll": Path(tmp, "poll.lua"),
        }
        scripts["create"].write_text(lua_script("POST", h.CREATE_HEADERS, h.create_body_bytes()))
        scripts["poll"].write_text(lua_script("GET", h.AUTH_HEADERS, None))

        def url(target: str, op: str) -> str:
            path = h.CREATE_PATH if op == "create" else h.poll_path(ids[target])
            return servers[target].base_url + path

        def measure(target: str, op: str, seconds: int) -> WrkResult:
            return run_wrk(url(target, op), scripts[op], args.connections, seconds, args.wrk_cpu)

        started = time.monotonic()
        warmup_errors = 0
        if args.warmup:
            for target, op in round_order(0):
                res = measure(target, op, args.warmup)
                warmup_errors += res.non_2xx + res.socket_errors
            print(f"warmup done ({warmup_errors} errors)")
        for index in range(args.rounds):
            results: dict[str, WrkResult] = {}
            for target, op in round_order(index):
                results[f"{target}-{op}"] = measure(target, op, args.duration)
            ratios = {op: results[f"fake-{op}"].rps / results[f"bare-{op}"].rps for op in OPS}
            rounds.append(
                {
                    "round": index + 1,
                    "order": [f"{t}-{o}" for t, o in round_order(index)],
                    "results": {k: asdict(v) for k, v in results.items()},
                    "ratios": ratios,
                }
            )
            print(
                f"round {index + 1}/{args.rounds}: "
                + ", ".join(f"{k} {v.rps:,.0f} req/s" for k, v in results.items())
                + f"  | create {ratios['create']:.2f}, poll {ratios['poll']:.2f}"
            )
        elapsed = time.monotonic() - started

    return report(args, rounds, warmup_errors, elapsed)


def report(
    args: argparse.Namespace, rounds: list[dict[str, Any]], warmup_errors: int, elapsed: float
) -> int:
    cells: dict[str, dict[str, Any]] = {}
    rows = []
    for op in OPS:
        for target in TARGETS:
            key = f"{target}-{op}"
            runs = [r["results"][key] for r in rounds]
            cell = {
                "median_rps": h.median([x["rps"] for x in runs]),
                "median_p50_ms": h.median([x["p50_ms"] for x in runs]),
                "median_p99_ms": h.median([x["p99_ms"] for x in runs]),
                "requests": sum(x["requests"] for x in runs),
                "non_2xx": sum(x["non_2xx"] for x in runs),
                "socket_errors": sum(x["socket_errors"] for x in runs),
            }
            cells[key] = cell
            rows.append(
                [
                    f"{target} {op}",
                    fmt(cell["median_rps"], 0),
                    fmt(cell["median_p50_ms"]),
                    fmt(cell["median_p99_ms"]),
                    f"{cell['requests']:,}",
                    str(cell["non_2xx"]),
                    str(cell["socket_errors"]),
                ]
            )
    print()
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s, {len(rounds)} rounds (medians)")
    print(
        h.render_table(
            ["target", "req/s", "p50 ms", "p99 ms", "requests", "non-2xx", "sock err"], rows
        )
    )

    floors, aims = BASELINES[args.baseline]["floors"], BASELINES[args.baseline]["aims"]
    summary: dict[str, dict[str, Any]] = {}
    ratio_rows = []
    for op in OPS:
        values = [float(r["ratios"][op]) for r in rounds]
        med, low = h.median(values), min(values)
        ok = med >= floors[op]
        summary[op] = {
            "ratios": values,
            "median": med,
            "min": low,
            "floor": floors[op],
            "aim": aims[op],
            "meets_floor": ok,
            "meets_aim": med >= aims[op],
        }
        ratio_rows.append(
            [
                f"{op} fake/bare",
                *(f"{v:.2f}" for v in values),
                f"{med:.2f}",
                f"{low:.2f}",
                f"{floors[op]:.2f}",
                f"{aims[op]:.2f}",
                verdict_text(ok, med >= aims[op]),
            ]
        )
    print()
    print(f"throughput ratio to bare_app:{args.baseline}, paired round by round (floor: median)")
    round_heads = [f"r{r['round']}" for r in rounds]
    print(
        h.render_table(
            ["ratio", *round_heads, "median", "min", "floor", "aim", "verdict"], ratio_rows
        )
    )

    errors = sum(c["non_2xx"] + c["socket_errors"] for c in cells.values()) + warmup_errors
    floors_ok = all(s["meets_floor"] for s in summary.values())
    print()
    if errors:
        print(f"FAIL: {errors} non-2xx responses or socket errors (see table; warmup included)")
    print(f"{'PASS' if floors_ok and not errors else 'FAIL'} in {elapsed:.0f} s")
    if args.json:
        h.write_json(
            args.json,
            {
                "benchmark": "throughput",
                "config": {
                    "rounds": args.rounds,
                    "duration_s": args.duration,
                    "warmup_s": args.warmup,
                    "connections": args.connections,
                    "server_cpu": args.server_cpu,
                    "wrk_cpu": args.wrk_cpu,
                    "baseline": args.baseline,
                    "fake_cmd": args.fake_cmd,
                },
                "rounds": rounds,
                "cells": cells,
                "ratios": summary,
                "warmup_errors": warmup_errors,
                "passed": floors_ok and not errors,
            },
        )
    return 0 if floors_ok and not errors else 1


def verdict_text(meets_floor: bool, meets_aim: bool) -> str:
    if not meets_floor:
        return "MISSED floor"
    return "ok, aim met" if meets_aim else "ok, below aim"


if __name__ == "__main__":
    h.run_main(main)
