"""50 concurrent clients create and poll 10,000 tasks to the end; nothing may be lost.

Runs the same load against the fake as one in-memory process (the default) and with
``--state`` on 1, 2 and 4 workers, and reports throughput beside the counts that must be zero:
acknowledged tasks lost or not terminal, and 5xx answers (no faults are injected).

    .venv/bin/python benchmarks/load.py [--tasks 10000] [--clients 50] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

import _harness as h
import _load

# Tasks finish in about 3 s of fake time; at 100x they end within a few polls.
SPEED = "100"


def run_one(label: str, extra: list[str], args: argparse.Namespace) -> dict[str, Any]:
    port = h.free_port()
    with h.Server(label, h.wan_mock_cmd(port, "--speed", SPEED, *extra), port) as server:
        server.wait_ready("/openapi.json", ready=lambda status: status == 200)
        tally, took = asyncio.run(
            _load.run(
                port,
                tasks=args.tasks,
                clients=args.clients,
                poll_interval=args.poll_interval,
                deadline_s=args.deadline,
            )
        )
    acked = len(tally.acknowledged)
    return {
        "config": label,
        "acknowledged": acked,
        "terminal": tally.terminal,
        "lost": len(tally.lost),
        "not_terminal": acked - tally.terminal - len(tally.lost),
        "server_errors": tally.server_errors,
        "transport_errors": tally.transport_errors,
        "requests": tally.requests,
        "seconds": took,
        "requests_per_s": tally.requests / took,
        "tasks_per_s": acked / took,
        "workers_seen": len(tally.workers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks per run (10000)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument(
        "--workers", default="1,2,4", help="worker counts to run with --state (1,2,4)"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=0.02, help="seconds between polls (0.02)"
    )
    parser.add_argument(
        "--deadline", type=float, default=300.0, help="give up on a run after this (300 s)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",") if n.strip()]

    h.install_sigterm_handler()
    results = [run_one("1 process, memory", [], args)]
    with tempfile.TemporaryDirectory(prefix="wan-mock-load-") as tmp:
        for n in counts:
            state = str(Path(tmp) / f"state-{n}.db")
            extra = ["--state", state, "--workers", str(n)]
            results.append(run_one(f"{n} worker(s), --state", extra, args))
    print(
        h.render_table(
            ["config", "acked", "terminal", "lost", "5xx", "req/s", "tasks/s", "s", "workers"],
            [
                [
                    r["config"],
                    str(r["acknowledged"]),
                    str(r["terminal"]),
                    str(r["lost"] + r["not_terminal"]),
                    str(r["server_errors"]),
                    f"{r['requests_per_s']:.0f}",
                    f"{r['tasks_per_s']:.0f}",
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
