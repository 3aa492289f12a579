"""The dashboard under load: the tasks page's first render with 10,000 tasks held, and create
throughput while a page is open and updating, against `wan-mock serve`.

An open page asks, every second, for the clock and for its page of tasks (what the htmx
polls of `/_mock/ui` send); the "page open" runs make exactly those requests from a thread of
this script, so what is measured is the fake's cost of serving the page, not a browser's own
CPU. Creates are sent over keep-alive connections for `--seconds`, alternately with the page
closed and open, `--rounds` times each; the medians are compared.

    .venv/bin/python benchmarks/dashboard.py [--tasks 10000] [--rounds 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time
from pathlib import Path
from typing import Any

import _harness as h
from reset import fill

FLOOR_RENDER_MS = 300.0  # the tasks page with --tasks held, first and median render
FLOOR_RATIO = 0.90  # create req/s with the page open / closed (medians)
PAGE = "/_mock/ui"
POLLS = ("/_mock/ui/clock", "/_mock/ui/tasks?page=1")  # what an open page asks every second


def timed_get(conn: http.client.HTTPConnection, path: str) -> float:
    """One GET on a kept-alive connection, in ms; fails on anything but 200."""
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    took = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise h.HarnessError(f"GET {path}: {response.status}")
    return took


def creates_per_second(port: int, seconds: float, threads: int) -> float:
    """Creates answered per second by `threads` keep-alive clients over `seconds`."""
    body = h.create_body_bytes()
    headers = {**h.CREATE_HEADERS, "Content-Length": str(len(body))}
    stop = time.monotonic() + seconds
    done = [0] * threads
    failed: list[str] = []

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(h.HOST, port, timeout=10)
        try:
            while time.monotonic() < stop:
                conn.request("POST", h.CREATE_PATH, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 202:
                    failed.append(str(response.status))
                    return
                done[index] += 1
        finally:
            conn.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if failed:
        raise h.HarnessError(f"creates answered {failed[:5]}")
    return sum(done) / (time.perf_counter() - started)


class OpenPage:
    """A thread asking what an open dashboard asks, every second, until stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.polls: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        conn = http.client.HTTPConnection(h.HOST, self.port, timeout=10)
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                for path in POLLS:
                    self.polls.append(timed_get(conn, path))
                self._stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))
        finally:
            conn.close()

    def __enter__(self) -> OpenPage:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks held (10000)")
    parser.add_argument("--renders", type=int, default=15, help="timed page renders (15)")
    parser.add_argument("--rounds", type=int, default=3, help="throughput runs per mode (3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run (5)")
    parser.add_argument("--threads", type=int, default=4, help="client threads creating (4)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    if args.tasks < 0 or args.renders < 1 or args.rounds < 1 or args.seconds <= 0:
        parser.error("--tasks >= 0, --renders >= 1, --rounds >= 1, --seconds > 0")

    h.install_sigterm_handler()
    port = h.free_port()
    closed: list[float] = []
    opened: list[float] = []
    polls: list[float] = []
    with h.Server("fake", h.wan_mock_cmd(port, "--seed", "1"), port) as server:
        server.wait_ready("/openapi.json", ready=lambda status: status == 200)
        bad = fill(port, args.tasks, args.threads)
        if bad:
            raise h.HarnessError(f"filling: creates answered {dict(bad)}")
        conn = http.client.HTTPConnection(h.HOST, port, timeout=30)
        first = timed_get(conn, PAGE)  # the first render of the page, templates not yet warm
        renders = [timed_get(conn, PAGE) for _ in range(args.renders)]
        deep = timed_get(conn, f"{PAGE}/tasks?page={max(1, args.tasks // 50)}")
        conn.close()
        for _ in range(args.rounds):
            closed.append(creates_per_second(port, args.seconds, args.threads))
            with OpenPage(port) as page:
                opened.append(creates_per_second(port, args.seconds, args.threads))
            polls += page.polls

    median_render = h.median(renders)
    ratio = h.median(opened) / h.median(closed)
    render_ok = first <= FLOOR_RENDER_MS and median_render <= FLOOR_RENDER_MS
    ratio_ok = ratio >= FLOOR_RATIO
    rows = [
        [f"tasks page, first render ({args.tasks:,} tasks)", f"{first:.1f} ms", ""],
        [
            f"tasks page, median of {args.renders}",
            f"{median_render:.1f} ms",
            f"<= {FLOOR_RENDER_MS:.0f} {h.verdict(render_ok)}",
        ],
        [f"last page of tasks (page {max(1, args.tasks // 50)})", f"{deep:.1f} ms", ""],
        ["creates/s, page closed (median)", f"{h.median(closed):,.0f}", ""],
        ["creates/s, page open (median)", f"{h.median(opened):,.0f}", ""],
        ["open / closed", f"{ratio:.3f}", f">= {FLOOR_RATIO:.2f} {h.verdict(ratio_ok)}"],
        ["a page poll while creating (median)", f"{h.median(polls):.1f} ms", ""],
    ]
    print(h.render_table(["measure", "value", "floor"], rows))
    passed = render_ok and ratio_ok
    print("PASS" if passed else "FAIL")
    if args.json:
        results: dict[str, Any] = {
            "first_render_ms": first,
            "renders_ms": renders,
            "last_page_ms": deep,
            "creates_per_s_closed": closed,
            "creates_per_s_open": opened,
            "poll_ms": polls,
            "ratio": ratio,
        }
        h.write_json(
            args.json,
            {
                "benchmark": "dashboard",
                "config": vars(args) | {"json": str(args.json)},
                "results": results,
                "floor_render_ms": FLOOR_RENDER_MS,
                "floor_ratio": FLOOR_RATIO,
                "passed": passed,
            },
        )
    return 0 if passed else 1


if __name__ == "__main__":
    h.run_main(main)
