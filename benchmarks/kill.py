"""The load of load.py with a kill -9 in the middle: no acknowledged task may be lost.

Two runs, both with ``--state``: ``worker`` kills one of two workers (uvicorn's supervisor
starts a new one); ``server`` kills the whole single-process server and starts it again on the
same port and state file. Clients retry refused and dropped connections (those are not
answers); every task whose create was acknowledged must still be found and reach a terminal
state, with no 5xx.

    .venv/bin/python benchmarks/kill.py [--tasks 10000] [--clients 50] [--mode worker,server]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h
import _load

SPEED = "100"


def run_one(mode: str, state: str, args: argparse.Namespace) -> dict[str, Any]:
    port = h.free_port()
    extra = ["--speed", SPEED, "--state", state]
    if mode == "worker":
        extra += ["--workers", "2"]
    servers = [h.Server(mode, h.wan_mock_cmd(port, *extra), port)]
    servers[0].start()
    servers[0].wait_ready("/openapi.json", ready=lambda status: status == 200)
    killed: dict[str, Any] = {}

    async def kill_midway(tally: _load.Tally) -> None:
        if killed or len(tally.acknowledged) < args.tasks * args.kill_at:
            return
        killed["acknowledged_before"] = len(tally.acknowledged)
        started = time.monotonic()
        if mode == "worker":
            victim = int(tally.workers.most_common(1)[0][0])
            os.kill(victim, signal.SIGKILL)
            killed["pid"] = victim
        else:
            os.kill(servers[0].pid, signal.SIGKILL)
            killed["pid"] = servers[0].pid
            restarted = h.Server("restarted", h.wan_mock_cmd(port, *extra), port)
            servers.append(restarted)
            restarted.start()
            await asyncio.to_thread(restarted.wait_ready, "/openapi.json")
            killed["restart_s"] = time.monotonic() - started

    try:
        tally, took = asyncio.run(
            _load.run(
                port,
                tasks=args.tasks,
                clients=args.clients,
                poll_interval=args.poll_interval,
                deadline_s=args.deadline,
                on_progress=kill_midway,
            )
        )
    finally:
        for server in reversed(servers):
            server.stop()
    return {
        "mode": mode,
        "killed": killed,
        **tally.counts(),
        "seconds": took,
        "requests_per_s": tally.requests / took,
        "workers_seen": len(tally.workers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks per run (10000)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--mode", default="worker,server", help="runs to make (worker,server)")
    parser.add_argument(
        "--kill-at", type=float, default=0.3, help="kill after this share is acknowledged (0.3)"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=0.02, help="seconds between polls (0.02)"
    )
    parser.add_argument(
        "--deadline", type=float, default=300.0, help="give up on a run after this (300 s)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)

    h.install_sigterm_handler()
    results = []
    with tempfile.TemporaryDirectory(prefix="wan-mock-kill-") as tmp:
        for mode in [m.strip() for m in args.mode.split(",") if m.strip()]:
            if mode not in ("worker", "server"):
                parser.error(f"unknown mode {mode!r}")
            results.append(run_one(mode, str(Path(tmp) / f"{mode}.db"), args))
    print(
        h.render_table(
            ["kill -9 of", "acked", "terminal", "lost", "5xx", "dropped", "req/s", "restart s"],
            [
                [
                    r["mode"],
                    str(r["acknowledged"]),
                    str(r["terminal"]),
                    str(r["lost"] + r["not_terminal"]),
                    str(r["server_errors"]),
                    str(r["transport_errors"]),
                    f"{r['requests_per_s']:.0f}",
                    f"{r['killed'].get('restart_s', float('nan')):.2f}",
                ]
                for r in results
            ],
        )
    )
    ok = all(
        r["killed"]
        and r["acknowledged"] == args.tasks
        and r["lost"] == r["not_terminal"] == r["server_errors"] == 0
        for r in results
    )
    print(h.verdict(ok))
    if args.json:
        config = {k: v for k, v in vars(args).items() if k != "json"}
        h.write_json(args.json, {"benchmark": "kill", "config": config, "results": results})
    return 0 if ok else 1


if __name__ == "__main__":
    h.run_main(main)
