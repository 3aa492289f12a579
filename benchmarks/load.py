"""50 concurrent clients create and poll 10,000 tasks to the end; nothing may be lost.

Runs the same load against the fake as one in-memory process (the default) and with
``--state`` on 1, 2 and 4 workers, and reports throughput beside the counts that must be zero:
acknowledged tasks lost or not terminal, and 5xx answers (no faults are injected).

    .venv/bin/python benchmarks/load.py [--tasks 10000] [--clients 50] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import _harness as h
import _load


def _part(
    port: int, tasks: int, clients: int, poll_interval: float, deadline: float
) -> dict[str, Any]:
    """One client process's share of the load (run in a process pool)."""
    tally, took = asyncio.run(
        _load.run(
            port, tasks=tasks, clients=clients, poll_interval=poll_interval, deadline_s=deadline
        )
    )
    return {
        **tally.counts(),
        "requests": tally.requests,
        "seconds": took,
        "workers": sorted(tally.workers),
        "latencies": tally.latencies,
    }


def wait_for_workers(port: int, count: int, deadline_s: float = 15.0) -> None:
    """Until ``count`` different workers have answered (each on a new connection), so the
    load does not start while some are still starting."""
    seen: set[str] = set()
    limit = time.monotonic() + deadline_s
    while len(seen) < count:
        if time.monotonic() > limit:
            raise h.HarnessError(f"only {len(seen)} of {count} workers answered")
        conn = http.client.HTTPConnection(h.HOST, port, timeout=2)
        try:
            conn.request("GET", "/openapi.json")
            worker = conn.getresponse().getheader("x-wan-mock-worker")
        finally:
            conn.close()
        if worker:
            seen.add(worker)


def run_one(label: str, extra: list[str], workers: int, args: argparse.Namespace) -> dict[str, Any]:
    port = h.free_port()
    procs = args.client_procs
    with h.Server(label, h.wan_mock_cmd(port, "--speed", str(args.speed), *extra), port) as server:
        server.wait_ready("/openapi.json", ready=lambda status: status == 200)
        if workers > 1:
            wait_for_workers(port, workers)
        shares = [args.tasks // procs + (i < args.tasks % procs) for i in range(procs)]
        with ProcessPoolExecutor(procs) as pool:
            parts = list(
                pool.map(
                    _part,
                    [port] * procs,
                    shares,
                    [max(1, args.clients // procs)] * procs,
                    [args.poll_interval] * procs,
                    [args.deadline] * procs,
                )
            )
    total: dict[str, Any] = {"config": label}
    for key in (
        "acknowledged",
        "terminal",
        "lost",
        "not_terminal",
        "server_errors",
        "transport_errors",
        "requests",
    ):
        total[key] = sum(part[key] for part in parts)
    took = max(part["seconds"] for part in parts)
    total["seconds"] = took
    total["requests_per_s"] = total["requests"] / took
    total["tasks_per_s"] = total["acknowledged"] / took
    total["workers_seen"] = len({w for part in parts for w in part["workers"]})
    latencies = sorted(x for part in parts for x in part["latencies"])
    total["p50_ms"] = 1000 * latencies[len(latencies) // 2] if latencies else float("nan")
    total["p99_ms"] = 1000 * latencies[int(len(latencies) * 0.99)] if latencies else float("nan")
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks per run (10000)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument(
        "--workers", default="1,2,4", help="worker counts to run with --state (1,2,4)"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=0.0, help="seconds between polls (0: at once)"
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=10_000.0,
        help="the fake's clock speed; tasks take ~3 s of fake time, so at 10000 a task is over "
        "in well under a millisecond and the server, not the schedule, sets the pace (10000)",
    )
    parser.add_argument(
        "--deadline", type=float, default=300.0, help="give up on a run after this (300 s)"
    )
    parser.add_argument(
        "--client-procs",
        type=int,
        default=2,
        help="client processes sharing the clients, so one client core is not the limit (2)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",") if n.strip()]

    h.install_sigterm_handler()
    results = [run_one("1 process, memory", [], 1, args)]
    with tempfile.TemporaryDirectory(prefix="wan-mock-load-") as tmp:
        for n in counts:
            state = str(Path(tmp) / f"state-{n}.db")
            extra = ["--state", state, "--workers", str(n)]
            results.append(run_one(f"{n} worker(s), --state", extra, n, args))
    print(
        h.render_table(
            [
                "config",
                "acked",
                "terminal",
                "lost",
                "5xx",
                "req/s",
                "tasks/s",
                "p50 ms",
                "p99 ms",
                "s",
                "workers",
            ],
            [
                [
                    r["config"],
                    str(r["acknowledged"]),
                    str(r["terminal"]),
                    str(r["lost"] + r["not_terminal"]),
                    str(r["server_errors"]),
                    f"{r['requests_per_s']:.0f}",
                    f"{r['tasks_per_s']:.0f}",
                    f"{r['p50_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                    f"{r['seconds']:.1f}",
                    str(r["workers_seen"]),
                ]
                for r in results
            ],
        )
    )
    ok = all(
        r["acknowledged"] == args.tasks
        and r["lost"] == r["not_terminal"] == r["server_errors"] == 0
        for r in results
    )
    print(h.verdict(ok))
    if args.json:
        h.write_json(
            args.json,
            {"benchmark": "load", "config": vars(args) | {"json": None}, "results": results},
        )
    return 0 if ok else 1


if __name__ == "__main__":
    h.run_main(main)
