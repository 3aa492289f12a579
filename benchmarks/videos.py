"""How long a test waits for a result video, in-process (the ``wan_mock`` fixture's way).

Three measures, each a HEAD of ``videos[0]`` through ``AppTransport``, timed to the answer
(its head is the first byte a client gets: the video is rendered before it is sent;
``AppTransport`` hands back whole answers, so a GET would time the body too):

- first-ever 720P 5 s (URL image, sound on): a request no video was ever made for (its prompt
  is new each run), in a process that has rendered before (PyAV imported);
- first-ever 1080P 15 s, the same way;
- cached: a fresh task whose request equals an earlier task's, so its video is the shared
  encode, stamped with the new task's id.

Plus, for information, the first video in a fresh interpreter (PyAV and numpy imported on
the way), and what each render cost in CPU time (all threads), which a loaded machine does not
inflate as much as wall time. The render cache is a new temporary directory per run.

    .venv/bin/python benchmarks/videos.py [--runs 7] [--cached 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h
import httpx

from mockserver.control import Control
from mockserver.domain.settings import Settings
from mockserver.server.app import create_app
from mockserver.testing.bridge import AppTransport
from mockserver.testing.router import DEFAULT_BASE_URLS

BASE_URL = DEFAULT_BASE_URLS[0]
FLOORS_MS = {"first_720p_5s": 100.0, "first_1080p_15s": 500.0, "cached": 1.0}

COLD_SCRIPT = """
import json, sys, tempfile, time
started = time.perf_counter()
sys.path.insert(0, "benchmarks")
import videos
with tempfile.TemporaryDirectory() as cache:
    with videos.Fake(cache) as fake:
        loaded = time.perf_counter()
        first = fake.first_byte(fake.video_url(videos.body("cold start", "720P", 5)))
print(json.dumps({"import_s": loaded - started, "first_byte_ms": first}))
"""


def body(prompt: str, resolution: str, duration: int) -> dict[str, Any]:
    return {**h.CREATE_BODY, "prompt": prompt, "resolution": resolution, "duration": duration}


class Fake:
    """An in-process fake on a virtual clock, with a client and the control plane."""

    def __init__(self, cache: str) -> None:
        settings = Settings(clock="virtual", seed=0, render_cache_dir=cache)
        self.transport = AppTransport(create_app(settings))
        self.control = Control(BASE_URL, transport=self.transport)
        self.api = httpx.Client(
            base_url=BASE_URL, headers=h.AUTH_HEADERS, transport=self.transport, timeout=60
        )

    def __enter__(self) -> Fake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.close()
        self.control.close()
        self.transport.close()

    def video_url(self, request: dict[str, Any]) -> str:
        created = self.api.post(h.CREATE_PATH, json=request)
        if created.status_code != 202:
            raise h.HarnessError(f"create: HTTP {created.status_code}: {created.text[:300]}")
        task_id = created.json()["task_info"]["id"]
        self.control.advance(600)
        task = self.api.get(h.poll_path(task_id)).json()
        if task["task_info"]["status"] != "succeeded":
            raise h.HarnessError(f"task {task_id} is {task['task_info']['status']!r}")
        url: str = task["videos"][0]
        return url

    def first_byte(self, url: str, method: str = "HEAD") -> float:
        """Milliseconds from asking for ``url`` to the whole answer (for HEAD: its head)."""
        started = time.perf_counter()
        answer = self.api.request(method, url)
        took = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            raise h.HarnessError(f"{method} {url}: HTTP {answer.status_code}")
        return took


def cpu_seconds() -> float:
    """CPU time of this process, every thread included."""
    times = os.times()
    return times.user + times.system


def first_ever(
    fake: Fake, resolution: str, duration: int, runs: int
) -> tuple[list[float], list[float]]:
    """(first-byte ms, render CPU ms) for ``runs`` videos never made before."""
    firsts: list[float] = []
    cpu: list[float] = []
    for run in range(runs):
        url = fake.video_url(
            body(f"first-ever {resolution} {duration} s, run {run}", resolution, duration)
        )
        before = cpu_seconds()
        firsts.append(fake.first_byte(url))
        cpu.append((cpu_seconds() - before) * 1000)
    return firsts, cpu


def cold_start(timeout: float) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", COLD_SCRIPT],
        cwd=h.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise h.HarnessError(f"the cold-start script failed ({done.returncode}):\n{done.stderr}")
    import json

    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="first-ever videos per size (7)")
    parser.add_argument("--cached", type=int, default=200, help="cached downloads timed (200)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.cached < 1:
        parser.error("--runs and --cached must be at least 1")

    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as cache, Fake(cache) as fake:
        fake.first_byte(fake.video_url(body("warm-up", "720P", 5)))  # PyAV imported, one render
        first_720, cpu_720 = first_ever(fake, "720P", 5, args.runs)
        first_1080, cpu_1080 = first_ever(fake, "1080P", 15, args.runs)
        shared = body("cached", "720P", 5)
        fake.first_byte(fake.video_url(shared))
        cached = [fake.first_byte(fake.video_url(shared)) for _ in range(args.cached)]
        whole = [fake.first_byte(fake.video_url(shared), "GET") for _ in range(args.cached)]
    cold = cold_start(timeout=60)

    def row(label: str, values: list[float], floor: float | None) -> list[str]:
        ok = "" if floor is None else f"<= {floor:g} {h.verdict(h.median(values) <= floor)}"
        return [label, f"{min(values):.2f}", f"{h.median(values):.2f}", f"{max(values):.2f}", ok]

    runs, floors = args.runs, FLOORS_MS
    rows = [
        row(f"first-ever 720P 5 s, first byte ({runs})", first_720, floors["first_720p_5s"]),
        row("  its render, CPU ms (all threads)", cpu_720, None),
        row(f"first-ever 1080P 15 s, first byte ({runs})", first_1080, floors["first_1080p_15s"]),
        row("  its render, CPU ms (all threads)", cpu_1080, None),
        row(
            f"cached (new task, same request), first byte ({args.cached})", cached, floors["cached"]
        ),
        row(f"  the same, whole GET of 720P 5 s ({args.cached})", whole, None),
    ]
    print(h.render_table(["measure (runs), ms", "best", "median", "max", "floor (median)"], rows))
    print(
        f"fresh interpreter: imports {cold['import_s']:.2f} s, then its first 720P 5 s video "
        f"{cold['first_byte_ms']:.0f} ms to the first byte (PyAV and numpy loaded on the way)"
    )
    print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    medians = {
        "first_720p_5s": h.median(first_720),
        "first_1080p_15s": h.median(first_1080),
        "cached": h.median(cached),
    }
    passed = all(medians[name] <= floor for name, floor in FLOORS_MS.items())
    if args.json:
        h.write_json(
            args.json,
            {
                "benchmark": "videos",
                "load_average": load,
                "first_720p_5s_ms": first_720,
                "first_720p_5s_cpu_ms": cpu_720,
                "first_1080p_15s_ms": first_1080,
                "first_1080p_15s_cpu_ms": cpu_1080,
                "cached_ms": cached,
                "cached_get_ms": whole,
                "cold": cold,
                "medians": medians,
                "floors": FLOORS_MS,
                "passed": passed,
            },
        )
    return 0 if passed else 1


if __name__ == "__main__":
    h.install_sigterm_handler()
    h.run_main(main)
