"""Resident memory the fake gains per stored task, measured over HTTP.

The fake keeps every task it creates, so RSS grows with traffic; this bounds that growth.

    .venv/bin/python benchmarks/memory.py [--tasks 100000] [--concurrency 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
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


def _request_bytes() -> bytes:
    body = h.create_body_bytes()
    head = "".join(f"{k}: {v}\r\n" for k, v in h.CREATE_HEADERS.items())
    return (
        f"POST {h.CREATE_PATH} HTTP/1.1\r\nHost: {h.HOST}\r\n{head}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server wants to close). Only Content-Length framing is supported."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip().lower()
    if "content-length" not in headers:
        raise h.HarnessError(f"response without Content-Length (unsupported framing): {head!r}")
    body = await reader.readexactly(int(headers["content-length"]))
    return status, body, headers.get("connection") == "close"


async def create_many(port: int, count: int, concurrency: int, deadline: float) -> Tally:
    """`count` creates over `concurrency` keep-alive connections, stopping at `deadline`.

    A bare asyncio-streams client rather than httpx: on the 2-core reference box httpx's
    AsyncClient managed about 1,000 creates/s (15x fewer than this), which would stretch
    100,000 creates past two minutes and make the client, not the fake, the bottleneck.
    """
    tally = Tally()
    tickets = itertools.count()
    request = _request_bytes()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(h.HOST, port)
        try:
            # Each worker takes the next ticket, so exactly `count` requests go out in total.
            while next(tickets) < count:
                if time.monotonic() > deadline:
                    tally.timed_out = True
                    return
                try:
                    writer.write(request)
                    status, body, closing = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                    tally.transport_errors += 1
                    tally.note(f"{type(exc).__name__}: {exc}")
                    closing = True
                else:
                    if 200 <= status < 300:
                        tally.ok += 1
                    else:
                        tally.statuses[status] += 1
                        tally.note(f"{status}: {body[:300].decode(errors='replace')}")
                if closing:
                    writer.close()
                    reader, writer = await asyncio.open_connection(h.HOST, port)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


def check_one_create(base_url: str) -> str:
    """One create through a real HTTP client, so the fast path above is checked against it."""
    resp = httpx.post(
        base_url + h.CREATE_PATH, content=h.create_body_bytes(), headers=h.CREATE_HEADERS
    )
    if not resp.is_success:
        raise h.HarnessError(f"POST {h.CREATE_PATH} answered {resp.status_code}: {resp.text}")
    try:
        return str(resp.json()["task_info"]["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise h.HarnessError(f"no task_info.id in the create answer: {resp.text!r}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=100_000, help="measured creates (100000)")
    parser.add_argument("--warmup", type=int, default=1_000, help="creates before baseline (1000)")
    parser.add_argument("--concurrency", type=int, default=16, help="client connections (16)")
    parser.add_argument(
        "--max-seconds", type=float, default=120.0, help="give up creating after this (120)"
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

        print(f"fake answers creates (task {check_one_create(server.base_url)})")
        warm = asyncio.run(
            create_many(port, args.warmup, args.concurrency, started + args.max_seconds)
        )
        time.sleep(args.settle)
        rss_before = h.rss_bytes(server.pid)

        t0 = time.monotonic()
        tally = asyncio.run(create_many(port, args.tasks, args.concurrency, t0 + args.max_seconds))
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
        [
            "non-2xx / transport errors",
            f"{sum(tally.statuses.values())} / {tally.transport_errors}",
        ],
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
    h.run_main(main)
