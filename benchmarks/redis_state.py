"""Redis state: throughput beside the in-memory fake, three replicas under load, exact limits.

Three parts, against a redis-server this script starts (append-only file, fsync every second,
as compose.yaml runs it):

1. create and poll throughput of one ``--state redis://`` process as a ratio of one in-memory
   process, measured in the same run (paired rounds, order swapped every other round);
2. three replicas on one machine: 10,000 tasks from 50 clients spread over them, each task
   polled to the end, then every acknowledged task checked again through another replica:
   lost and 5xx must be 0;
3. rate limits across replicas: clients of five keys create as fast as they can through all
   three replicas under ``submissions_per_second = 10``; the accepted creates' times (read
   back from Redis, the fake's own clock) must never put more than 10 of one key in any
   window of one second.

    .venv/bin/python benchmarks/redis_state.py [--rounds 3] [--duration 5] [--tasks 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import _harness as h
import _load

from mockserver.domain.keys import fingerprint
from mockserver.domain.redis_store import RedisStore, connect

RATE = 10
KEYS = 5


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise h.HarnessError("redis-server is not installed (apt-get install redis-server)")
    port = h.free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", h.HOST, "--dir", str(directory), "--save", "",
         "--appendonly", "yes", "--appendfsync", "everysec"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://{h.HOST}:{port}/0"
    try:
        client = connect(url)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(Exception):
                if client.client.ping():
                    break
            if time.monotonic() > deadline:
                raise h.HarnessError("redis-server did not start")
            time.sleep(0.05)
        client.close()
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def replicas(count: int, *extra: str) -> Iterator[list[int]]:
    ports = [h.free_port() for _ in range(count)]
    servers = [h.Server(f"replica {n}", h.wan_mock_cmd(p, *extra), p) for n, p in enumerate(ports)]
    with h.servers(*servers):
        for server in servers:
            server.wait_ready("/openapi.json", ready=lambda status: status == 200)
        yield ports


# 1. Throughput.


async def _hammer(port: int, what: str, seconds: float, connections: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    body = h.create_body_bytes()
    setup = _load.Connection(port)
    _, _, data = await setup.request("POST", h.CREATE_PATH, body)
    setup.close()
    task_id = json.loads(data)["task_info"]["id"]
    deadline = time.monotonic() + seconds

    async def one() -> None:
        conn = _load.Connection(port)
        try:
            while time.monotonic() < deadline:
                if what == "create":
                    status, _, _ = await conn.request("POST", h.CREATE_PATH, body)
                else:
                    status, _, _ = await conn.request("GET", h.poll_path(task_id))
                statuses[status] += 1
        finally:
            conn.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return statuses


def _rate(port: int, what: str, seconds: float, connections: int) -> dict[str, float]:
    statuses = asyncio.run(_hammer(port, what, seconds, connections))
    good = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {"per_s": good / seconds, "bad": sum(statuses.values()) - good}


def throughput(url: str, args: argparse.Namespace) -> dict[str, Any]:
    memory_port, redis_port = h.free_port(), h.free_port()
    memory = h.Server("memory", h.wan_mock_cmd(memory_port, "--seed", "1"), memory_port)
    shared = h.Server(
        "redis",
        h.wan_mock_cmd(redis_port, "--state", url, "--state-prefix", "bench-throughput:"),
        redis_port,
    )
    rounds: list[dict[str, float]] = []
    bad = 0
    with h.servers(memory, shared), ProcessPoolExecutor(args.client_procs) as pool:
        for server in (memory, shared):
            server.wait_ready("/openapi.json", ready=lambda status: status == 200)
        share = max(1, args.connections // args.client_procs)
        for n in range(args.rounds):
            found: dict[str, float] = {}
            order = [("memory", memory_port), ("redis", redis_port)]
            for label, port in order if n % 2 == 0 else order[::-1]:
                for what in ("create", "poll"):
                    procs = args.client_procs
                    parts = list(
                        pool.map(
                            _rate,
                            [port] * procs,
                            [what] * procs,
                            [args.duration] * procs,
                            [share] * procs,
                        )
                    )
                    found[f"{label} {what}"] = sum(p["per_s"] for p in parts)
                    bad += int(sum(p["bad"] for p in parts))
            found["create ratio"] = found["redis create"] / found["memory create"]
            found["poll ratio"] = found["redis poll"] / found["memory poll"]
            rounds.append(found)
    return {
        "rounds": rounds,
        "create_ratio": h.median([r["create ratio"] for r in rounds]),
        "poll_ratio": h.median([r["poll ratio"] for r in rounds]),
        "non_2xx": bad,
    }


# 2. Three replicas under load.


def _part(port: int, tasks: int, clients: int, deadline: float) -> dict[str, Any]:
    tally, took = asyncio.run(
        _load.run(port, tasks=tasks, clients=clients, poll_interval=0.0, deadline_s=deadline)
    )
    return {**tally.counts(), "ids": list(tally.acknowledged), "seconds": took}


def _verify_elsewhere(port: int, ids: list[str], deadline: float) -> _load.Tally:
    tally = _load.Tally()
    tally.acknowledged = dict.fromkeys(ids, "pending")
    asyncio.run(_load.verify(port, tally, time.monotonic() + deadline))
    return tally


def load(url: str, args: argparse.Namespace) -> dict[str, Any]:
    # At speed 10000 the default retention (a day of fake time) is under 9 s of real time:
    # kept the longest allowed, so that no acknowledged task is purged during the run.
    extra = ["--state", url, "--state-prefix", "bench-load:", "--speed", "10000"]
    extra += ["--task-retention", "315360000"]
    with replicas(3, *extra) as ports, ProcessPoolExecutor(3) as pool:
        tasks = [args.tasks // 3 + (i < args.tasks % 3) for i in range(3)]
        clients = [args.clients // 3 + (i < args.clients % 3) for i in range(3)]
        parts = list(pool.map(_part, ports, tasks, clients, [args.deadline] * 3))
        # Every task acknowledged by one replica, looked up through the next one.
        checks = list(
            pool.map(
                _verify_elsewhere,
                ports[1:] + ports[:1],
                [p["ids"] for p in parts],
                [args.deadline] * 3,
            )
        )
    counts = {
        key: sum(p[key] for p in parts)
        for key in ("acknowledged", "terminal", "lost", "not_terminal", "server_errors")
    }
    counts["lost"] += sum(len(c.lost) for c in checks)
    counts["server_errors"] += sum(c.server_errors for c in checks)
    counts["seconds"] = max(p["seconds"] for p in parts)
    counts["tasks_per_s"] = counts["acknowledged"] / counts["seconds"]
    return counts


# 3. Rate limits across replicas.


async def _creates(ports: list[int], seconds: float, clients: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    body = h.create_body_bytes()
    deadline = time.monotonic() + seconds

    async def one(n: int) -> None:
        conn = _load.Connection(ports[n % len(ports)])
        headers = {"Authorization": f"Bearer bench-key-{n % KEYS}"} | {
            "Content-Type": "application/json"
        }
        try:
            while time.monotonic() < deadline:
                status, _, _ = await conn.request("POST", h.CREATE_PATH, body, headers)
                statuses[status] += 1
        finally:
            conn.close()

    await asyncio.gather(*(one(n) for n in range(clients)))
    return statuses


def limits(url: str, args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    config = directory / "limits.toml"
    config.write_text(f"[limits]\nsubmissions_per_second = {RATE}\n")
    prefix = "bench-limits:"
    extra = ("--state", url, "--state-prefix", prefix, "--config", str(config))
    with replicas(3, *extra) as ports:
        statuses = asyncio.run(_creates(ports, args.duration, args.limit_clients))
    store = RedisStore(connect(url), prefix)
    times: dict[str, list[float]] = defaultdict(list)
    for task in store.tasks():
        times[task.owner].append(task.created_at)
    store.close()
    worst = {}
    for n in range(KEYS):
        moments = sorted(times[f"bench-key-{n}"])
        # The most accepted creates of this key in any one-second window [t, t + 1).
        worst[fingerprint(f"bench-key-{n}")] = max(
            (bisect.bisect_left(moments, t + 1.0) - i for i, t in enumerate(moments)), default=0
        )
    return {
        "accepted": statuses[200] + statuses[202],
        "refused_429": statuses[429],
        "server_errors": sum(n for s, n in statuses.items() if s >= 500),
        "max_per_window": worst,
        "limit": RATE,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="paired throughput rounds (3)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measure (5)")
    parser.add_argument("--connections", type=int, default=32, help="throughput clients (32)")
    parser.add_argument("--client-procs", type=int, default=2, help="client processes (2)")
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks of the load (10000)")
    parser.add_argument("--clients", type=int, default=50, help="clients of the load (50)")
    parser.add_argument("--limit-clients", type=int, default=30, help="clients of part 3 (30)")
    parser.add_argument("--deadline", type=float, default=300.0, help="load deadline (300 s)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    h.install_sigterm_handler()
    with (
        tempfile.TemporaryDirectory(prefix="wan-mock-redis-") as tmp,
        redis_server(Path(tmp)) as url,
    ):
        speed = throughput(url, args)
        loaded = load(url, args)
        limited = limits(url, args, Path(tmp))
    print(
        h.render_table(
            [
                "round",
                "memory create/s",
                "redis create/s",
                "ratio",
                "memory poll/s",
                "redis poll/s",
                "ratio",
            ],
            [
                [
                    str(n + 1),
                    f"{r['memory create']:.0f}",
                    f"{r['redis create']:.0f}",
                    f"{r['create ratio']:.2f}",
                    f"{r['memory poll']:.0f}",
                    f"{r['redis poll']:.0f}",
                    f"{r['poll ratio']:.2f}",
                ]
                for n, r in enumerate(speed["rounds"])
            ],
        )
    )
    print(
        f"median ratio redis/memory: create {speed['create_ratio']:.2f}, "
        f"poll {speed['poll_ratio']:.2f}; non-2xx {speed['non_2xx']}"
    )
    print(
        f"3 replicas: {loaded['acknowledged']} acknowledged, {loaded['terminal']} terminal, "
        f"lost {loaded['lost'] + loaded['not_terminal']}, 5xx {loaded['server_errors']}, "
        f"{loaded['tasks_per_s']:.0f} tasks/s over {loaded['seconds']:.1f} s"
    )
    print(
        f"limits across 3 replicas: {limited['accepted']} accepted, {limited['refused_429']} "
        f"refused (429), 5xx {limited['server_errors']}; most accepted in any 1 s per key: "
        f"{sorted(limited['max_per_window'].values())} (limit {RATE})"
    )
    ok = (
        speed["non_2xx"] == 0
        and loaded["acknowledged"] == args.tasks
        and loaded["lost"] == loaded["not_terminal"] == loaded["server_errors"] == 0
        and limited["server_errors"] == 0
        and max(limited["max_per_window"].values()) <= RATE
    )
    print(h.verdict(ok))
    if args.json:
        h.write_json(
            args.json,
            {
                "benchmark": "redis",
                "config": vars(args) | {"json": None},
                "throughput": speed,
                "load": loaded,
                "limits": limited,
            },
        )
    return 0 if ok else 1


if __name__ == "__main__":
    h.run_main(main)
