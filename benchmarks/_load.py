"""The load generator for load.py, kill.py and soak.py: asyncio streams, keep-alive, no httpx.

httpx's AsyncClient tops out near 1,000 requests/s on a 2-core box, which would measure the
client; raw HTTP/1.1 over ``asyncio`` streams costs a fraction of that. Each client creates a
task, polls it every ``poll_interval`` seconds until it is terminal, and starts the next. A
create counts as acknowledged only when its 2xx answer (with the id) arrived; every
acknowledged task is checked again at the end, so a task that vanished is counted as lost.
Dropped connections and refused connects (a killed worker, a restarting server) are retried
after a short pause: they are not answers, so they never count as lost or as 5xx.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import _harness as h

TERMINAL = frozenset({"succeeded", "failed"})
RETRY_PAUSE_S = 0.05


@dataclass
class Tally:
    acknowledged: dict[str, str] = field(default_factory=dict)  # id -> last status seen
    statuses: Counter[int] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    transport_errors: int = 0
    requests: int = 0
    workers: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests only

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def terminal(self) -> int:
        return sum(1 for status in self.acknowledged.values() if status in TERMINAL)

    def counts(self) -> dict[str, int]:
        """What every load report states: acknowledged tasks and what became of them."""
        acked = len(self.acknowledged)
        return {
            "acknowledged": acked,
            "terminal": self.terminal,
            "lost": len(self.lost),
            "not_terminal": acked - self.terminal - len(self.lost),
            "server_errors": self.server_errors,
            "transport_errors": self.transport_errors,
        }


class Connection:
    """One keep-alive HTTP/1.1 connection that reconnects when the server drops it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(h.HOST, self.port)
        assert self.reader is not None
        sent = h.CREATE_HEADERS if headers is None else headers
        head = "".join(f"{k}: {v}\r\n" for k, v in sent.items())
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {h.HOST}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *lines = raw.decode("latin-1").split("\r\n")
            answered = {}
            for line in lines:
                name, _, value = line.partition(":")
                answered[name.strip().lower()] = value.strip()
            data = await self.reader.readexactly(int(answered.get("content-length", "0")))
        except BaseException:
            self.close()
            raise
        if answered.get("connection", "").lower() == "close":
            self.close()
        return int(status_line.split(" ", 2)[1]), answered, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _call(
    conn: Connection, tally: Tally, method: str, path: str, body: bytes, deadline: float
) -> tuple[int, bytes] | None:
    """One request, retried across dropped connections until ``deadline`` (then None)."""
    while time.monotonic() < deadline:
        sent = time.perf_counter()
        try:
            status, headers, data = await conn.request(method, path, body)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            tally.transport_errors += 1
            await asyncio.sleep(RETRY_PAUSE_S)
            continue
        tally.latencies.append(time.perf_counter() - sent)
        tally.requests += 1
        tally.statuses[status] += 1
        if "x-wan-mock-worker" in headers:
            tally.workers[headers["x-wan-mock-worker"]] += 1
        return status, data
    return None


async def _poll_to_end(
    conn: Connection, tally: Tally, task_id: str, interval: float, deadline: float
) -> None:
    while time.monotonic() < deadline:
        answer = await _call(conn, tally, "GET", h.poll_path(task_id), b"", deadline)
        if answer is None:
            return
        status, data = answer
        if status == 404:  # acknowledged, now unknown: lost
            tally.lost.append(task_id)
            return
        if status == 200:
            tally.acknowledged[task_id] = json.loads(data)["task_info"]["status"]
            if tally.acknowledged[task_id] in TERMINAL:
                return
        await asyncio.sleep(interval)


async def run(
    port: int,
    *,
    tasks: int,
    clients: int,
    poll_interval: float,
    deadline_s: float,
    pause_s: float = 0.0,
    on_progress: object = None,
) -> tuple[Tally, float]:
    """Create ``tasks`` tasks from ``clients`` concurrent clients, each polled to the end;
    then re-check every acknowledged task. Returns the tally and the seconds the load took."""
    tally = Tally()
    deadline = time.monotonic() + deadline_s
    remaining = iter(range(tasks))
    body = h.create_body_bytes()

    async def client() -> None:
        conn = Connection(port)
        try:
            for _ in remaining:
                answer = await _call(conn, tally, "POST", h.CREATE_PATH, body, deadline)
                if answer is None:
                    return
                status, data = answer
                if 200 <= status < 300:
                    task_id = json.loads(data)["task_info"]["id"]
                    tally.acknowledged[task_id] = "pending"
                    await _poll_to_end(conn, tally, task_id, poll_interval, deadline)
                if callable(on_progress):
                    await on_progress(tally)
                if pause_s:
                    await asyncio.sleep(pause_s)
        finally:
            conn.close()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    took = time.monotonic() - started
    await verify(port, tally, deadline)
    return tally, took


async def verify(port: int, tally: Tally, deadline: float) -> None:
    """Every acknowledged task once more: still there, and terminal."""
    conn = Connection(port)
    try:
        for task_id in list(tally.acknowledged):
            if task_id in tally.lost:
                continue
            await _poll_to_end(conn, tally, task_id, 0.05, deadline)
    finally:
        conn.close()
