"""Resident memory the fake gains per stored task, measured over HTTP.

The fake keeps every task it creates, so RSS grows with traffic; this bounds that growth.

    .venv/bin/python benchmarks/memory.py [--tasks 100000] [--concurrency 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import _harness as h
import httpx

# 100 MB for 100,000 tasks (MB = 10**6 bytes), scaled linearly when --tasks differs.
FLOOR_BYTES_PER_TASK = 1_000
MB = 1_000_000


@dataclass
class Tally:
    ok: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    transport_errors: int = 0
    timed_out: bool = False

    @property
    def failed(self) -> int:
        return sum(self.statuses.values()) + self.transport_errors

    def note(self, text: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(text)


async def create_many(base_url: str, count: int, concurrency: int, deadline: float) -> Tally:
    """`count` creates from `concurrency` keep-alive connections, stopping at `deadline`."""
    tally = Tally()
    tickets = itertools.count()
    body = h.create_body_bytes()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        # Each worker takes the next ticket, so exactly `count` requests go out in total.
        while next(tickets) < count:
            if time.monotonic() > deadline:
                tally.timed_out = True
                return
            try:
                resp = await client.post(h.CREATE_PATH, content=body, headers=h.CREATE_HEADERS)
            except httpx.HTTPError as exc:
                tally.transport_errors += 1
                tally.note(f"{type(exc).__name__}: {exc}")
                continue
            if resp.is_success:
                tally.ok += 1
            else:
                tally.statuses[resp.status_code] += 1
                tally.note(f"{resp.status_code}: {resp.text[:300]}")

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=100_000, help="measured creates (100000)")
    parser.add_argument("--warmup", type=int, default=1_000, help="creates before baseline (1000)")
    parser.add_argument("--concurrency", type=int, default=32, help="client connections (32)")
    parser.add_argument(
        "--max-seconds", type=float, default=180.0, help="give up creating after this (180)"
    )
    parser.add_argument(
        "--settle", type=float, default=1.0, help="idle seconds before each RSS read (1.0)"
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU for the server (0)")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU for this client (1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--fake-cmd", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tasks < 1 or args.warmup < 0 or args.concurrency < 1:
        parser.error("--tasks and --concurrency must be >= 1, --warmup >= 0")

    h.install_sigterm_handler()
    port = h.free_port()
    cmd = (
        h.template_cmd(args.fake_cmd, port)
        if args.fake_cmd
        else h.wan_mock_cmd(port, "--seed", "1")
    )
    server = h.Server("fake", h.pinned(cmd, args.server_cpu), port)
    with server:
        server.wait_ready(deadline_s=20.0)
        # Started before pinning ourselves, so the server does not inherit the client's CPU.
        os.sched_setaffinity(0, {args.client_cpu})
        started = time.monotonic()

        warm = asyncio.run(
            create_many(server.base_url, args.warmup, args.concurrency, started + args.max_seconds)
        ) if args.warmup else Tally()
        time.sleep(args.settle)
        rss_before = h.rss_bytes(server.pid)

        t0 = time.monotonic()
        tally = asyncio.run(
            create_many(server.base_url, args.tasks, args.concurrency, t0 + args.max_seconds)
        )
        create_s = time.monotonic() - t0
        time.sleep(args.settle)
        rss_after = h.rss_bytes(server.pid)
        hwm = h.hwm_bytes(server.pid)
        alive = h.http_status(port, "/") is not None

    delta = rss_after - rss_before
    per_task = delta / tally.ok if tally.ok else float("nan")
    floor = FLOOR_BYTES_PER_TASK * args.tasks
    floor_ok = delta <= floor
    rows = [
        ["tasks created (2xx)", f"{tally.ok:,}"],
        ["non-2xx / transport errors", f"{sum(tally.statuses.values())} / {tally.transport_errors}"],
        ["create phase", f"{create_s:.1f} s ({tally.ok / create_s:,.0f} req/s)"],
        ["RSS after warmup", f"{rss_before / MB:.1f} MB ({args.warmup:,} creates)"],
        ["RSS after creates", f"{rss_after / MB:.1f} MB"],
        ["peak RSS (VmHWM)", f"{hwm / MB:.1f} MB"],
        ["RSS delta", f"{delta / MB:.1f} MB"],
        ["per task", f"{per_task:,.0f} bytes"],
        ["floor", f"<= {floor / MB:.0f} MB ({FLOOR_BYTES_PER_TASK:,} bytes/task)"],
    ]
    print(h.render_table(["memory", "value"], rows))

    problems = []
    if warm.failed or tally.failed:
        problems.append(
            f"{warm.failed + tally.failed} failed creates: statuses "
            f"{dict(warm.statuses + tally.statuses)}, transport errors "
            f"{warm.transport_errors + tally.transport_errors}; samples:\n  "
            + "\n  ".join(warm.samples + tally.samples)
        )
    if tally.timed_out:
        problems.append(f"only {tally.ok:,} of {args.tasks:,} creates within {args.max_seconds} s")
    if not alive:
        problems.append("the server stopped answering during the run")
    if not floor_ok:
        problems.append(f"RSS delta {delta / MB:.1f} MB exceeds the floor {floor / MB:.0f} MB")
    for problem in problems:
        print(f"FAIL: {problem}")
    passed = not problems
    print("PASS" if passed else "FAIL")
    if args.json:
        h.write_json(
            args.json,
            {
                "benchmark": "memory",
                "config": {
                    "tasks": args.tasks,
                    "warmup": args.warmup,
                    "concurrency": args.concurrency,
                    "fake_cmd": args.fake_cmd,
                },
                "created": tally.ok,
                "failed": tally.failed,
                "failed_statuses": {str(k): v for k, v in tally.statuses.items()},
                "error_samples": warm.samples + tally.samples,
                "create_seconds": create_s,
                "rss_before_bytes": rss_before,
                "rss_after_bytes": rss_after,
                "hwm_bytes": hwm,
                "delta_bytes": delta,
                "bytes_per_task": per_task,
                "floor_bytes": floor,
                "passed": passed,
            },
        )
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except h.HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
