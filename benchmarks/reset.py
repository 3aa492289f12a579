"""Latency of `POST /_mock/reset` against a `wan-mock serve` holding N tasks.

Test suites reset the fake before every test, so a reset must stay cheap however many tasks
the previous test left behind. Each sample fills the fake with N tasks over HTTP (a few
threads, keep-alive connections), then times one reset from the client's side, either as a
plain `POST /_mock/reset` (httpx, keep-alive) or through `mockserver.Control.reset()`.

    .venv/bin/python benchmarks/reset.py [--tasks 1000 10000] [--runs 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _harness as h
import httpx

from mockserver import Control

FLOOR_MEDIAN_MS = 5.0
FLOOR_TASKS = 1_000  # the floor applies to this task count (when it is measured)
RESET_PATH = "/_mock/reset"
HEALTH_PATH = "/_mock/health"
METHODS = ("POST /_mock/reset", "Control.reset()")


@dataclass
class Samples:
    """Round-trip times (client side) and the server's own `took_ms`, in milliseconds."""

    round_trip_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (`share` in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def fill(port: int, count: int, threads: int) -> Counter[int]:
    """Create `count` tasks over `threads` keep-alive connections; returns non-202 statuses."""
    body = h.create_body_bytes()
    headers = {**h.CREATE_HEADERS, "Content-Length": str(len(body))}
    bad: Counter[int] = Counter()
    lock = threading.Lock()
    share, extra = divmod(count, threads)

    def worker(quota: int) -> None:
        conn = http.client.HTTPConnection(h.HOST, port, timeout=10)
        failed: Counter[int] = Counter()
        try:
            for _ in range(quota):
                conn.request("POST", h.CREATE_PATH, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 202:
                    failed[response.status] += 1
        except (OSError, http.client.HTTPException):
            failed[0] += 1  # 0: no answer (connection refused, reset or timed out)
        finally:
            conn.close()
            with lock:
                bad.update(failed)

    workers = [
        threading.Thread(target=worker, args=(share + (1 if index < extra else 0),))
        for index in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return bad


def task_count(api: httpx.Client) -> int:
    response = api.get(HEALTH_PATH)
    response.raise_for_status()
    return int(response.json()["tasks"])


def timed_reset(method: str, api: httpx.Client, control: Control) -> tuple[float, float | None]:
    """One reset: (round trip in ms, the server's took_ms if the answer carries it)."""
    if method == METHODS[0]:
        started = time.perf_counter()
        response = api.post(RESET_PATH, json={})  # the control plane takes JSON only
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise h.HarnessError(f"POST {RESET_PATH}: {response.status_code} {response.text}")
        return elapsed, float(response.json()["took_ms"])
    started = time.perf_counter()
    control.reset()
    return (time.perf_counter() - started) * 1000, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--tasks",
        type=int,
        nargs="+",
        default=[1_000, 10_000],
        metavar="N",
        help="task counts to measure (default 1000 10000)",
    )
    parser.add_argument(
        "--runs", type=int, default=15, help="timed resets per task count and method (15)"
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="client threads creating the tasks (4)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        help="stop and fail if the whole run takes longer (300)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    if min(args.tasks) < 0 or args.runs < 1 or args.threads < 1 or args.max_seconds <= 0:
        parser.error("--tasks >= 0, --runs >= 1, --threads >= 1, --max-seconds > 0")

    h.install_sigterm_handler()
    deadline = time.monotonic() + args.max_seconds
    port = h.free_port()
    results: dict[int, dict[str, Samples]] = {}
    fill_rates: list[float] = []
    with (
        h.Server("fake", h.wan_mock_cmd(port, "--seed", "1"), port) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as api,
        Control(server.base_url, timeout=30) as control,
    ):
        server.wait_ready("/openapi.json", ready=lambda status: status == 200)
        for method in METHODS:  # untimed: connections opened, code paths warm
            timed_reset(method, api, control)
        for count in args.tasks:
            results[count] = {method: Samples() for method in METHODS}
            for run in range(args.runs):
                # Alternate which method goes first, so neither always follows a fill.
                order = METHODS if run % 2 == 0 else METHODS[::-1]
                for method in order:
                    if time.monotonic() > deadline:
                        raise h.HarnessError(f"gave up after --max-seconds {args.max_seconds}")
                    started = time.perf_counter()
                    bad = fill(port, count, args.threads)
                    if count:
                        fill_rates.append(count / (time.perf_counter() - started))
                    if bad:
                        print(f"FAIL: creates answered {dict(bad)} (status 0: no answer)")
                        print(server.log_tail())
                        return 1
                    held = task_count(api)
                    if held != count:
                        raise h.HarnessError(f"the fake holds {held} tasks, expected {count}")
                    round_trip, took = timed_reset(method, api, control)
                    if task_count(api) != 0:
                        raise h.HarnessError(f"{method} left tasks behind")
                    results[count][method].round_trip_ms.append(round_trip)
                    if took is not None:
                        results[count][method].server_ms.append(took)
            rt = results[count][METHODS[0]].round_trip_ms
            print(f"{count} tasks: {args.runs} runs per method, median {h.median(rt):.3f} ms")

    rows: list[list[str]] = []
    passed = True
    summary: list[dict[str, Any]] = []
    for count, by_method in results.items():
        for method, samples in by_method.items():
            med = h.median(samples.round_trip_ms)
            p95 = percentile(samples.round_trip_ms, 0.95)
            server_med = h.median(samples.server_ms)
            floored = count == FLOOR_TASKS
            ok = med <= FLOOR_MEDIAN_MS
            if floored:
                passed = passed and ok
            rows.append(
                [
                    f"{count:,}",
                    method,
                    f"{med:.3f}",
                    f"{p95:.3f}",
                    f"{max(samples.round_trip_ms):.3f}",
                    "-" if math.isnan(server_med) else f"{server_med:.3f}",
                    f"<= {FLOOR_MEDIAN_MS:.1f} {h.verdict(ok)}" if floored else "",
                ]
            )
            summary.append(
                {
                    "tasks": count,
                    "method": method,
                    "round_trip_ms": samples.round_trip_ms,
                    "server_took_ms": samples.server_ms,
                    "median_ms": med,
                    "p95_ms": p95,
                    "floor_median_ms": FLOOR_MEDIAN_MS if floored else None,
                }
            )
    print()
    print(
        h.render_table(
            ["tasks", "reset via", "median ms", "p95 ms", "max ms", "server ms", "floor"],
            rows,
        )
    )
    if fill_rates:
        print(f"(tasks created at a median {h.median(fill_rates):,.0f}/s between resets)")
    if FLOOR_TASKS not in results:
        print(f"note: the floor applies to --tasks {FLOOR_TASKS}, which was not measured")
    print("PASS" if passed else f"FAIL: median reset of {FLOOR_TASKS} tasks > {FLOOR_MEDIAN_MS} ms")
    if args.json:
        h.write_json(
            args.json,
            {
                "benchmark": "reset",
                "config": {"tasks": args.tasks, "runs": args.runs, "threads": args.threads},
                "results": summary,
                "floor_median_ms": FLOOR_MEDIAN_MS,
                "floor_tasks": FLOOR_TASKS,
                "passed": passed,
            },
        )
    return 0 if passed else 1


if __name__ == "__main__":
    h.run_main(main)
