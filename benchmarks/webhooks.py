"""Webhooks under load: every event delivered through a flaky receiver, how soon a delivery
leaves, and what delivering costs the API's create throughput.

Three phases against `wan-mock serve --webhook` (real clock, `--speed 10`, so a dev-timing task
ends within a second):

1. delivery: N tasks (default 1,000) created over a few keep-alive connections, to a receiver
   that refuses 30% of attempts at random (seeded); every `task.created` and `task.succeeded`
   must arrive with a 2xx in the end (counted by event id) within the deadline.
2. latency: creates one at a time, 20 ms apart; the time from each create's answer to the
   first arrival of its `task.created` (floor: p99 <= 50 ms).
3. throughput: creates per second with webhooks on (a receiver answering 200) and off,
   alternating runs; floor: on >= 90% of off (median of the runs). Beside it, the server's
   CPU time per create, deliveries included, which a loaded machine disturbs much less.

    .venv/bin/python benchmarks/webhooks.py [--tasks 1000] [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import _harness as h
import httpx

from mockserver.domain.webhooks import event_id

SECRET = "whsec_YmVuY2htYXJrLXNlY3JldA"
FAIL_SHARE = 0.30
LATENCY_P99_MS = 50.0
THROUGHPUT_FLOOR = 0.90
SETTLE_S = 1.5  # after the creates, for the deliveries they owe (ends within 0.5 s at speed 10)


class Receiver:
    """Counts deliveries by event id; refuses ``fail_share`` of attempts."""

    def __init__(self, fail_share: float, seed: int = 7) -> None:
        self.fail_share = fail_share
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.attempts = 0
        self.delivered: set[str] = set()
        self.first_seen: dict[str, float] = {}

    def take(self, ident: str) -> int:
        now = time.perf_counter()
        with self.lock:
            self.attempts += 1
            self.first_seen.setdefault(ident, now)
            if self.rng.random() < self.fail_share:
                return 503
            self.delivered.add(ident)
            return 200


@contextmanager
def receiving(receiver: Receiver) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            status = receiver.take(self.headers.get("x-mulerouter-webhook-id", ""))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((h.HOST, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{h.HOST}:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def serve(*extra: str) -> h.Server:
    port = h.free_port()
    cmd = h.wan_mock_cmd(port, "--speed", "10", "--webhook-backoff", "2", *extra)
    server = h.Server("wan-mock", cmd, port)
    server.start()
    server.wait_ready("/openapi.json", ready=lambda s: s == 200)
    return server


def create(base_url: str, count: int, threads: int) -> tuple[list[str], dict[str, float], float]:
    """``count`` creates over ``threads`` connections: ids, answer times, seconds taken."""
    ids: list[str] = []
    answered: dict[str, float] = {}
    lock = threading.Lock()
    body = h.create_body_bytes()

    def work(quota: int) -> None:
        with httpx.Client(base_url=base_url, headers=h.CREATE_HEADERS, timeout=30) as client:
            for _ in range(quota):
                answer = client.post(h.CREATE_PATH, content=body)
                if answer.status_code != 202:
                    raise h.HarnessError(f"create answered {answer.status_code}: {answer.text}")
                task_id = answer.json()["task_info"]["id"]
                with lock:
                    ids.append(task_id)
                    answered[task_id] = time.perf_counter()

    share, extra = divmod(count, threads)
    workers = [threading.Thread(target=work, args=(share + (n < extra),)) for n in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return ids, answered, time.perf_counter() - started


def delivery_phase(tasks: int, deadline_s: float) -> dict[str, Any]:
    receiver = Receiver(FAIL_SHARE)
    with receiving(receiver) as url:
        server = serve("--webhook", url, "--webhook-secret", SECRET)
        try:
            ids, _, _ = create(server.base_url, tasks, 4)
            owed = {event_id(t, e) for t in ids for e in ("task.created", "task.succeeded")}
            limit = time.perf_counter() + deadline_s
            while not owed <= receiver.delivered and time.perf_counter() < limit:
                time.sleep(0.2)
            waited = deadline_s - (limit - time.perf_counter())
        finally:
            server.stop()
    missing = len(owed - receiver.delivered)
    return {
        "events": len(owed),
        "delivered": len(owed & receiver.delivered),
        "missing": missing,
        "attempts": receiver.attempts,
        "seconds": round(waited, 1),
    }


def latency_phase(count: int) -> dict[str, Any]:
    receiver = Receiver(0.0)
    with receiving(receiver) as url:
        server = serve("--webhook", url, "--webhook-secret", SECRET)
        try:
            answered: dict[str, float] = {}
            for _ in range(count):
                _, times, _ = create(server.base_url, 1, 1)
                answered.update(times)
                time.sleep(0.02)
            time.sleep(1.0)
        finally:
            server.stop()
    gaps = sorted(
        max(receiver.first_seen[event_id(t, "task.created")] - at, 0.0) * 1000
        for t, at in answered.items()
        if event_id(t, "task.created") in receiver.first_seen
    )
    if len(gaps) < count:
        raise h.HarnessError(f"only {len(gaps)} of {count} task.created events arrived")
    return {
        "p50_ms": round(gaps[len(gaps) // 2], 2),
        "p99_ms": round(gaps[int(len(gaps) * 0.99) - 1], 2),
        "max_ms": round(gaps[-1], 2),
    }


@contextmanager
def receiver_process() -> Iterator[str]:
    """A receiver answering 200 in a process of its own, so that its work does not share this
    process's interpreter lock with the clients whose rate is measured."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--receiver"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(5)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) the process ``pid`` and its children have used so far."""
    total = 0
    for each in h.tree_pids(pid):
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def throughput_phase(creates: int, runs: int) -> dict[str, Any]:
    """Create rates with webhooks off and on, and the server's CPU time per create (the
    creates and the deliveries they owe, which are made by the time ``SETTLE_S`` has passed):
    the rate depends on what else the machine runs, the CPU time much less."""
    rates: dict[str, list[float]] = {"off": [], "on": []}
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    with receiver_process() as url:
        for _ in range(runs):
            for mode in ("off", "on"):
                extra = ("--webhook", url, "--webhook-secret", SECRET) if mode == "on" else ()
                server = serve(*extra)
                try:
                    create(server.base_url, 200, 4)  # warm up
                    time.sleep(SETTLE_S)
                    before = cpu_seconds(server.pid)
                    _, _, took = create(server.base_url, creates, 4)
                    time.sleep(SETTLE_S)
                    used = cpu_seconds(server.pid) - before
                    if mode == "on":  # every delivery owed must be in the CPU time measured
                        owed = httpx.get(server.base_url + "/_mock/webhooks").json()
                        if owed["deliveries"]["pending"]:
                            raise h.HarnessError(f"deliveries still pending: {owed}")
                finally:
                    server.stop()
                rates[mode].append(creates / took)
                cpu[mode].append(used / creates * 1e6)
    off, on = h.median(rates["off"]), h.median(rates["on"])
    cpu_off, cpu_on = h.median(cpu["off"]), h.median(cpu["on"])
    return {
        "off_per_s": round(off, 1),
        "on_per_s": round(on, 1),
        "ratio": round(on / off, 3),
        "runs": {k: [round(v, 1) for v in vs] for k, vs in rates.items()},
        "cpu_us_per_create": {"off": round(cpu_off, 1), "on": round(cpu_on, 1)},
        "cpu_ratio": round(cpu_off / cpu_on, 3),
        "cpu_runs": {k: [round(v, 1) for v in vs] for k, vs in cpu.items()},
    }


def main() -> int:
    if sys.argv[1:] == ["--receiver"]:
        with receiving(Receiver(0.0)) as url:
            print(url, flush=True)
            threading.Event().wait()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--latency-tasks", type=int, default=200)
    parser.add_argument("--creates", type=int, default=6000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=180.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    h.install_sigterm_handler()
    throughput = throughput_phase(args.creates, args.runs)
    delivery = delivery_phase(args.tasks, args.deadline)
    latency = latency_phase(args.latency_tasks)
    checks = [
        ("every event delivered", delivery["missing"] == 0),
        (f"task.created p99 <= {LATENCY_P99_MS:g} ms", latency["p99_ms"] <= LATENCY_P99_MS),
        (f"create rate on/off >= {THROUGHPUT_FLOOR:g}", throughput["ratio"] >= THROUGHPUT_FLOOR),
    ]
    rows = [
        [
            "events owed / delivered / missing",
            f"{delivery['events']} / {delivery['delivered']} / {delivery['missing']}",
        ],
        ["attempts (receiver refuses 30%)", str(delivery["attempts"])],
        ["seconds until all delivered", str(delivery["seconds"])],
        [
            "task.created latency p50 / p99 / max",
            f"{latency['p50_ms']} / {latency['p99_ms']} / {latency['max_ms']} ms",
        ],
        [
            "creates/s off / on (ratio)",
            f"{throughput['off_per_s']} / {throughput['on_per_s']} ({throughput['ratio']})",
        ],
        [
            "server CPU per create off / on, us (off/on)",
            f"{throughput['cpu_us_per_create']['off']} / {throughput['cpu_us_per_create']['on']}"
            f" ({throughput['cpu_ratio']})",
        ],
    ]
    print(h.render_table(["measure", "value"], rows))
    for name, ok in checks:
        print(f"{h.verdict(ok):6}  {name}")
    if args.json:
        h.write_json(
            args.json, {"delivery": delivery, "latency": latency, "throughput": throughput}
        )
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    h.run_main(main)
