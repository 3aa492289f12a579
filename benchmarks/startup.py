"""Time from launching `wan-mock serve` to its first 200 on GET /openapi.json.

Test suites start the fake once per session (or per test), so its start-up is paid often.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _harness as h

FLOOR_MEDIAN_S = 0.5
READY_PATH = "/openapi.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="timed launches (default 5)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="untimed launches first, so bytecode compilation and a cold page cache "
        "do not count (default 1)",
    )
    parser.add_argument(
        "--interval", type=float, default=0.005, help="seconds between probes (default 0.005)"
    )
    parser.add_argument(
        "--deadline", type=float, default=10.0, help="give up on a launch after this (10)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--fake-cmd", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.interval <= 0 or args.deadline <= 0:
        parser.error("--runs >= 1, --warmup >= 0, --interval and --deadline > 0")

    h.install_sigterm_handler()
    times: list[float] = []
    for index in range(args.warmup + args.runs):
        port = h.free_port()
        cmd = h.template_cmd(args.fake_cmd, port) if args.fake_cmd else h.wan_mock_cmd(port)
        with h.Server("fake", cmd, port) as server:
            elapsed = server.wait_ready(
                READY_PATH,
                deadline_s=args.deadline,
                interval_s=args.interval,
                ready=lambda status: status == 200,
            )
        label = "warmup" if index < args.warmup else f"run {index - args.warmup + 1}"
        print(f"{label}: {elapsed:.3f} s")
        if index >= args.warmup:
            times.append(elapsed)

    med, worst = h.median(times), max(times)
    passed = med <= FLOOR_MEDIAN_S
    print()
    print(
        h.render_table(
            ["startup to first 200", "seconds"],
            [
                ["median", f"{med:.3f}"],
                ["min", f"{min(times):.3f}"],
                ["max", f"{worst:.3f}"],
                ["floor (median)", f"<= {FLOOR_MEDIAN_S:.3f}"],
            ],
        )
    )
    print("PASS" if passed else f"FAIL: median {med:.3f} s > {FLOOR_MEDIAN_S} s")
    if args.json:
        h.write_json(
            args.json,
            {
                "benchmark": "startup",
                "config": {"runs": args.runs, "warmup": args.warmup, "fake_cmd": args.fake_cmd},
                "seconds": times,
                "median_s": med,
                "max_s": worst,
                "floor_median_s": FLOOR_MEDIAN_S,
                "passed": passed,
            },
        )
    return 0 if passed else 1


if __name__ == "__main__":
    h.run_main(main)
