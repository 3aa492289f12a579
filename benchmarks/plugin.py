"""What the pytest plugin costs a test: lifecycle, set-up, server start and per-test reset.

Four measures, each built the way the fixtures in ``mockserver.testing.plugin`` build things:

- lifecycle: one task through the ``wan_mock`` machinery in-process (create with an
  ``httpx.Client`` to https://api.mulerouter.ai, advance the clock 60 s, poll to succeeded,
  HEAD the video), per iteration. Every task has a fresh id and the same request body as the
  ones before it, so its video is the encode the first task made, stamped with its own id
  (the first lifecycle, which renders, is a warm-up and reported apart), with the render
  cache in a directory of its own as the plugin's is;
- wan_mock set-up: ``create_app`` + ``AppTransport`` + ``Control`` + ``WanRouter`` entered and
  left, then closed, as one test's fixture does;
- wan_server first start: ``ServerThread(Settings(clock="virtual", seed=0)).start()`` in a
  fresh interpreter each run (imports timed apart);
- wan_server per-test reset: what the fixture does before each test on the running server
  (a new ``Control``, ``reset()``, the settings check, ``update_settings(seed=0,
  dialect="default")``, ``take_errors()``), after a few tasks were made.

    .venv/bin/python benchmarks/plugin.py [--iterations 500] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _harness as h
import httpx

from mockserver.control import Control
from mockserver.domain.loading import merge_settings
from mockserver.domain.settings import Settings
from mockserver.server.app import create_app
from mockserver.testing.bridge import AppTransport
from mockserver.testing.router import DEFAULT_BASE_URLS, WanRouter
from mockserver.testing.server import ServerThread

FLOORS = {
    "lifecycle": 5.0,  # ms, median per task
    "setup": 50.0,  # ms, median per wan_mock fixture
    "start": 1.0,  # s, median first start of a ServerThread in a fresh process
    "reset": 5.0,  # ms, median per-test reset of a running server
}
BASE_URL = DEFAULT_BASE_URLS[0]
FIXTURE_CHANGES: dict[str, Any] = {"seed": 0, "dialect": "default"}

# Run in a fresh interpreter: the first start of the served fake, imports timed apart.
START_SCRIPT = """
import json, time, urllib.request
started = time.perf_counter()
from mockserver.domain.settings import Settings
from mockserver.testing.server import ServerThread
imported = time.perf_counter()
server = ServerThread(Settings(clock="virtual", seed=0)).start()
ready = time.perf_counter()
with urllib.request.urlopen(server.base_url + "/_mock/health", timeout=5) as answer:
    status = answer.status
answered = time.perf_counter()
server.stop()
stopped = time.perf_counter()
print(json.dumps({
    "import_s": imported - started,
    "start_s": ready - imported,
    "first_answer_s": answered - ready,
    "stop_s": stopped - answered,
    "health_status": status,
}))
"""


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def timed_ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def check(response: httpx.Response, expected: int, what: str) -> httpx.Response:
    if response.status_code != expected:
        raise h.HarnessError(
            f"{what}: HTTP {response.status_code}, expected {expected}: {response.text[:300]}"
        )
    return response


# (a) lifecycle


def lifecycle(api: httpx.Client, control: Control) -> None:
    """One task, start to finish, as a test drives it through ``wan_mock``."""
    created = check(api.post(h.CREATE_PATH, json=h.CREATE_BODY), 202, "create")
    task_id = created.json()["task_info"]["id"]
    control.advance(60)
    polled = check(api.get(h.poll_path(task_id)), 200, "poll").json()
    if polled["task_info"]["status"] != "succeeded":
        raise h.HarnessError(f"task {task_id} is {polled['task_info']['status']!r} after 60 s")
    check(api.head(polled["videos"][0]), 200, "HEAD video")


def measure_lifecycle(iterations: int, warmup: int) -> tuple[float, list[float]]:
    """The first lifecycle (its video rendered), then ``iterations`` timed ones."""
    with tempfile.TemporaryDirectory() as cache:
        settings = Settings(clock="virtual", seed=0, render_cache_dir=cache)
        transport = AppTransport(create_app(settings))
        control = Control(BASE_URL, transport=transport)
        try:
            with (
                WanRouter(transport, DEFAULT_BASE_URLS),
                httpx.Client(base_url=BASE_URL, headers=h.AUTH_HEADERS) as api,
            ):
                first = timed_ms(lambda: lifecycle(api, control))
                for _ in range(warmup):
                    lifecycle(api, control)
                return first, [timed_ms(lambda: lifecycle(api, control)) for _ in range(iterations)]
        finally:
            control.close()
            transport.close()


# (b) wan_mock set-up


def fixture_setup(first_call: bool) -> None:
    """One ``wan_mock`` fixture's set-up and teardown (optionally with the first call, which
    also starts the transport's event-loop thread)."""
    transport = AppTransport(create_app(Settings(clock="virtual", seed=0)))
    control = Control(BASE_URL, transport=transport)
    try:
        with WanRouter(transport, DEFAULT_BASE_URLS):
            if first_call:
                control.clock()
    finally:
        control.close()
        transport.close()


def measure_setup(runs: int, warmup: int, first_call: bool) -> list[float]:
    for _ in range(warmup):
        fixture_setup(first_call)
    return [timed_ms(lambda: fixture_setup(first_call)) for _ in range(runs)]


# (c) wan_server first start


def measure_start(runs: int, warmup: int, timeout: float) -> list[dict[str, float]]:
    results: list[dict[str, float]] = []
    for index in range(warmup + runs):
        try:
            done = subprocess.run(
                [sys.executable, "-c", START_SCRIPT],
                cwd=h.REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise h.HarnessError(f"a ServerThread start took over {timeout} s") from None
        if done.returncode != 0:
            raise h.HarnessError(f"the start script failed ({done.returncode}):\n{done.stderr}")
        result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        if result["health_status"] != 200:
            raise h.HarnessError(f"the started server answered {result['health_status']}")
        label = "warmup" if index < warmup else f"run {index - warmup + 1}"
        print(
            f"start {label}: import {result['import_s']:.3f} s, start {result['start_s']:.3f} s, "
            f"stop {result['stop_s']:.3f} s"
        )
        if index >= warmup:
            results.append(result)
    return results


# (d) wan_server per-test reset


def per_test_reset(server: ServerThread, built: list[float]) -> None:
    """What the ``wan_server`` fixture does before each test (no marker), on the session's one
    ``Control`` (``server.control``); ``built`` gets 0: nothing is built per test."""
    built.append(0.0)
    control = server.control
    control.reset()
    merge_settings(server.app.backend.settings, FIXTURE_CHANGES, "benchmark")
    control.update_settings(**FIXTURE_CHANGES)
    server.take_errors()


def make_tasks(api: httpx.Client, count: int) -> None:
    for _ in range(count):
        check(api.post(h.CREATE_PATH, json=h.CREATE_BODY), 202, "create")


def measure_reset(
    runs: int, warmup: int, tasks: int
) -> tuple[list[float], list[float], list[float]]:
    """The fixture's sequence with a new Control each test, the time of building that Control,
    and the same calls on one kept Control."""
    fresh: list[float] = []
    built: list[float] = []
    kept: list[float] = []
    with (
        ServerThread(Settings(clock="virtual", seed=0)) as server,
        httpx.Client(base_url=server.base_url, headers=h.AUTH_HEADERS) as api,
        Control(server.base_url) as control,
    ):

        def reset_kept() -> None:
            control.reset()
            control.update_settings(**FIXTURE_CHANGES)

        for index in range(warmup + runs):
            make_tasks(api, tasks)
            took = timed_ms(lambda: per_test_reset(server, built))
            if api.get("/_mock/health").json()["tasks"] != 0:
                raise h.HarnessError("the per-test reset left tasks behind")
            make_tasks(api, tasks)
            took_kept = timed_ms(reset_kept)
            if index >= warmup:
                fresh.append(took)
                kept.append(took_kept)
        errors = server.take_errors()
        if errors:
            raise h.HarnessError(f"the server raised: {errors[0]!r}")
    return fresh, built[warmup:], kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=500, help="lifecycles timed (500)")
    parser.add_argument("--setup-runs", type=int, default=50, help="wan_mock set-ups (50)")
    parser.add_argument("--start-runs", type=int, default=5, help="ServerThread starts (5)")
    parser.add_argument("--reset-runs", type=int, default=200, help="per-test resets (200)")
    parser.add_argument(
        "--reset-tasks", type=int, default=10, help="tasks made before each reset (10)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed rounds first, per measure (20; 1 start)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    counts = (args.iterations, args.setup_runs, args.start_runs, args.reset_runs)
    if min(counts) < 1 or args.warmup < 0 or args.reset_tasks < 0:
        parser.error("runs and iterations >= 1, --warmup and --reset-tasks >= 0")

    h.install_sigterm_handler()
    first_lifecycle_ms, lifecycle_ms = measure_lifecycle(args.iterations, args.warmup)
    print(
        f"lifecycle: {args.iterations} tasks, median {h.median(lifecycle_ms):.3f} ms "
        f"(the first, which rendered the video: {first_lifecycle_ms:.0f} ms)"
    )
    setup_ms = measure_setup(args.setup_runs, min(args.warmup, 5), first_call=False)
    first_call_ms = measure_setup(args.setup_runs, min(args.warmup, 5), first_call=True)
    print(f"wan_mock set-up: {args.setup_runs} runs, median {h.median(setup_ms):.3f} ms")
    starts = measure_start(args.start_runs, min(args.warmup, 1), timeout=30.0)
    start_s = [run["start_s"] for run in starts]
    import_s = [run["import_s"] for run in starts]
    reset_ms, control_ms, reset_kept_ms = measure_reset(
        args.reset_runs, args.warmup, args.reset_tasks
    )
    print(f"per-test reset: {args.reset_runs} runs, median {h.median(reset_ms):.3f} ms")

    medians = {
        "lifecycle": h.median(lifecycle_ms),
        "setup": h.median(setup_ms),
        "start": h.median(start_s),
        "reset": h.median(reset_ms),
    }
    ok = {name: medians[name] <= floor for name, floor in FLOORS.items()}

    def row(label: str, values: list[float], unit: str, floor: str = "") -> list[str]:
        stats = (h.median(values), percentile(values, 0.95), max(values))
        return [label, *(f"{value:.3f}" for value in stats), unit, floor]

    rows = [
        row(
            f"lifecycle in-process ({args.iterations})",
            lifecycle_ms,
            "ms",
            f"<= {FLOORS['lifecycle']:.0f} ms {h.verdict(ok['lifecycle'])}",
        ),
        row(
            f"wan_mock set-up ({args.setup_runs})",
            setup_ms,
            "ms",
            f"<= {FLOORS['setup']:.0f} ms {h.verdict(ok['setup'])}",
        ),
        row("  + first call (loop thread)", first_call_ms, "ms"),
        row(
            f"wan_server first start ({args.start_runs})",
            start_s,
            "s",
            f"<= {FLOORS['start']:.1f} s {h.verdict(ok['start'])}",
        ),
        row("  imports before it", import_s, "s"),
        row(
            f"wan_server per-test reset ({args.reset_runs})",
            reset_ms,
            "ms",
            f"<= {FLOORS['reset']:.0f} ms {h.verdict(ok['reset'])}",
        ),
        row("  of which Control() built", control_ms, "ms"),
        row("  same calls, kept Control", reset_kept_ms, "ms"),
    ]
    print()
    print(h.render_table(["measure (runs)", "median", "p95", "max", "unit", "floor"], rows))
    passed = all(ok.values())
    missed = ", ".join(name for name, good in ok.items() if not good)
    print("PASS" if passed else f"FAIL: floor missed: {missed}")
    if args.json:
        h.write_json(
            args.json,
            {
                "benchmark": "plugin",
                "config": {
                    "iterations": args.iterations,
                    "setup_runs": args.setup_runs,
                    "start_runs": args.start_runs,
                    "reset_runs": args.reset_runs,
                    "reset_tasks": args.reset_tasks,
                    "warmup": args.warmup,
                },
                "first_lifecycle_ms": first_lifecycle_ms,
                "lifecycle_ms": lifecycle_ms,
                "setup_ms": setup_ms,
                "setup_first_call_ms": first_call_ms,
                "start": starts,
                "reset_ms": reset_ms,
                "reset_control_built_ms": control_ms,
                "reset_kept_control_ms": reset_kept_ms,
                "medians": medians,
                "floors": FLOORS,
                "passed": passed,
            },
        )
    return 0 if passed else 1


if __name__ == "__main__":
    h.run_main(main)
