"""Moderate load for ten minutes: the fake's resident memory must stay flat.

Tasks are kept only ``--task-retention`` seconds of fake time after they finish (the server
runs ``--speed 10 --task-retention 60``: six real seconds), so what the fake holds is bounded
by its retention, its journal (1,000 requests) and its caches; RSS is sampled every
``--sample-every`` seconds and the peak of the last third of the run is compared with the peak
of the first third (after a warm-up minute, which is not judged).

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--clients 10] [--state]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import _harness as h
import _load

MB = 1_000_000


async def soak(
    port: int, pid: int, args: argparse.Namespace
) -> tuple[_load.Tally, list[tuple[float, int]]]:
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    load = asyncio.create_task(
        _load.run(
            port,
            tasks=10**9,  # until the deadline
            clients=args.clients,
            poll_interval=0.05,
            deadline_s=args.minutes * 60,
            pause_s=args.pause,
        )
    )
    while not load.done():
        samples.append((time.monotonic() - started, h.rss_bytes(pid)))
        await asyncio.wait({load}, timeout=args.sample_every)
    tally, _took = load.result()
    return tally, samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the run (10)")
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients (10)")
    parser.add_argument(
        "--pause", type=float, default=0.05, help="seconds each client rests between tasks"
    )
    parser.add_argument("--sample-every", type=float, default=10.0, help="RSS sample period (10 s)")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds not judged (60)")
    parser.add_argument("--floor-mb", type=float, default=10.0, help="allowed growth (10 MB)")
    parser.add_argument("--state", action="store_true", help="run the fake with a state file")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)

    h.install_sigterm_handler()
    with tempfile.TemporaryDirectory(prefix="wan-mock-soak-") as tmp:
        extra = ["--speed", "10", "--task-retention", "60"]
        if args.state:
            extra += ["--state", str(Path(tmp) / "state.db")]
        port = h.free_port()
        with h.Server("soak", h.wan_mock_cmd(port, *extra), port) as server:
            server.wait_ready("/openapi.json", ready=lambda status: status == 200)
            tally, samples = asyncio.run(soak(port, server.pid, args))
    judged = [(t, rss) for t, rss in samples if t >= args.warmup]
    third = max(len(judged) // 3, 1)
    first = max(rss for _, rss in judged[:third]) if judged else 0
    last = max(rss for _, rss in judged[-third:]) if judged else 0
    growth = (last - first) / MB
    for t, rss in samples:
        print(f"{t:7.1f} s  RSS {rss / MB:7.1f} MB")
    print()
    print(
        h.render_table(
            ["soak", "value"],
            [
                ["tasks acknowledged", str(len(tally.acknowledged))],
                ["requests", str(tally.requests)],
                ["5xx", str(tally.server_errors)],
                ["lost", str(len(tally.lost))],
                ["RSS peak, first third (MB)", f"{first / MB:.1f}"],
                ["RSS peak, last third (MB)", f"{last / MB:.1f}"],
                ["growth (MB)", f"{growth:.1f} (floor <= {args.floor_mb:g})"],
            ],
        )
    )
    ok = bool(judged) and growth <= args.floor_mb and not tally.lost and not tally.server_errors
    print(h.verdict(ok))
    if args.json:
        config = {k: v for k, v in vars(args).items() if k != "json"}
        payload = {"benchmark": "soak", "config": config, "samples": samples, "growth_mb": growth}
        h.write_json(args.json, payload)
    return 0 if ok else 1


if __name__ == "__main__":
    h.run_main(main)
