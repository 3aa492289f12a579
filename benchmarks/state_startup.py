"""Launch to first answer on a state file holding 100,000 tasks: ready in <= 1 s.

The file is written directly through the SQLite store's codec (as the fake would have written
it), then ``wan-mock serve --state FILE`` is launched ``--runs`` times; each launch is timed to
its first ``200`` on a poll of a task stored in the file, so "ready" means serving old state,
not just listening. An empty state file is timed the same way for comparison.

    .venv/bin/python benchmarks/state_startup.py [--tasks 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import _harness as h

from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.sqlite_store import encode_task, open_database, transaction
from mockserver.domain.store import retired_at
from mockserver.domain.tasks import Plan, Status, Task

FLOOR_S = 1.0
PLAN = Plan((Status.PENDING, Status.RUNNING, Status.SUCCEEDED), (0.0, 0.5, 3.0))


def fill(path: Path, count: int) -> str:
    """Write ``count`` tasks owned by the benchmark key; returns the id of the middle one."""
    request = GenerationRequest(
        h.CREATE_BODY["prompt"], ImageRef("url", url=h.CREATE_BODY["image"])
    )
    now = time.time()
    conn = open_database(path)
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(count)]
    with transaction(conn):
        conn.executemany(
            "INSERT INTO tasks (id, retired_at, data) VALUES (?, ?, ?)",
            (
                (t.id, retired_at(t), encode_task(t))
                for t in (Task(i, h.API_KEY, now, request, PLAN) for i in ids)
            ),
        )
    conn.close()
    return ids[count // 2] if ids else ""


def time_launches(state: Path, probe: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        port = h.free_port()
        with h.Server("fake", h.wan_mock_cmd(port, "--state", str(state)), port) as server:
            ready = server.wait_ready(
                probe, interval_s=0.005, ready=lambda s: s == 200, headers=h.AUTH_HEADERS
            )
            times.append(ready)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks in the file (100000)")
    parser.add_argument("--runs", type=int, default=3, help="timed launches each (3)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)

    h.install_sigterm_handler()
    with tempfile.TemporaryDirectory(prefix="wan-mock-state-") as tmp:
        full, empty = Path(tmp) / "full.db", Path(tmp) / "empty.db"
        began = time.perf_counter()
        middle = fill(full, args.tasks)
        written = time.perf_counter() - began
        fill(empty, 0)
        size = full.stat().st_size
        loaded = time_launches(full, h.poll_path(middle), args.runs)
        bare = time_launches(empty, "/openapi.json", args.runs)
    med = h.median(loaded)
    print(f"wrote {args.tasks} tasks ({size / 1e6:.1f} MB) in {written:.1f} s")
    print(
        h.render_table(
            ["launch to first 200", "median s", "max s"],
            [
                [f"{args.tasks} tasks (poll of a stored task)", f"{med:.3f}", f"{max(loaded):.3f}"],
                ["empty state (openapi.json)", f"{h.median(bare):.3f}", f"{max(bare):.3f}"],
                ["floor (median)", f"<= {FLOOR_S:.3f}", ""],
            ],
        )
    )
    print(h.verdict(med <= FLOOR_S))
    if args.json:
        results = {"tasks": args.tasks, "file_mb": size / 1e6, "launch_s": loaded, "empty_s": bare}
        h.write_json(args.json, {**results, "median_s": med, "floor_s": FLOOR_S})
    return 0 if med <= FLOOR_S else 1


if __name__ == "__main__":
    h.run_main(main)
