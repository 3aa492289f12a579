"""Wall time of the full contract suite against `wan-mock serve` in a subprocess.

The suite (`wan-mock contract run` with its defaults against the fake) is what CI runs on every
change, so it must stay well inside a minute: 25 generated requests per kind, one invalid body
per request rule, four tasks polled to the end, 25 generated creates.

    .venv/bin/python benchmarks/contract.py [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _harness as h

from mockserver.conformance import RunOptions, run

FLOOR_MAX_S = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of the suite (3)")
    parser.add_argument("--examples", type=int, default=25, help="generated requests per kind")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.examples < 0:
        parser.error("--runs >= 1 and --examples >= 0")

    h.install_sigterm_handler()
    port = h.free_port()
    times: list[float] = []
    rows: list[list[str]] = []
    failed: list[str] = []
    with h.Server("fake", h.wan_mock_cmd(port), port) as server:
        server.wait_ready("/openapi.json", ready=lambda status: status == 200)
        for index in range(args.runs):
            started = time.perf_counter()
            report = run(RunOptions(server.base_url, "bench-key", examples=args.examples))
            elapsed = time.perf_counter() - started
            times.append(elapsed)
            failed += [check.name for check in report.failures()]
            counts = report.counts()
            rows.append(
                [
                    f"run {index + 1}",
                    f"{elapsed:.2f}",
                    str(report.budget.requests),
                    str(report.budget.creates),
                    f"{counts['pass']}/{counts['fail']}/{counts['skip']}",
                ]
            )
    worst = max(times)
    passed = worst <= FLOOR_MAX_S and not failed
    print(h.render_table(["run", "seconds", "requests", "creates", "pass/fail/skip"], rows))
    print(f"median {h.median(times):.2f} s, max {worst:.2f} s, floor (max) <= {FLOOR_MAX_S:g} s")
    if failed:
        print(f"FAIL: checks failed against the fake: {sorted(set(failed))}")
    print("PASS" if passed else "FAIL")
    if args.json:
        h.write_json(
            args.json,
            {
                "benchmark": "contract",
                "config": {"runs": args.runs, "examples": args.examples},
                "seconds": times,
                "median_s": h.median(times),
                "max_s": worst,
                "floor_max_s": FLOOR_MAX_S,
                "failed_checks": sorted(set(failed)),
                "passed": passed,
            },
        )
    return 0 if passed else 1


if __name__ == "__main__":
    h.run_main(main)
