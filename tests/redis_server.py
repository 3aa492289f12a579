"""A real ``redis-server`` for the tests, on a free loopback port in a directory of its own.

``scripts/test`` installs Debian's redis-server when it is missing; without it the tests that
need one skip on a developer machine and fail under CI. No mock of Redis anywhere.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

START_S = 10.0
_prefixes = itertools.count()


def require_redis() -> str:
    found = shutil.which("redis-server")
    if found is None:
        message = "redis-server is not installed (scripts/test installs it with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process; ``stop`` and ``start`` again keep its port (a restart).

    ``persistent`` turns on the append-only file with an fsync per write, so a restart keeps
    everything acknowledged; otherwise nothing is saved and a restart comes back empty.
    """

    def __init__(
        self, directory: Path, *, persistent: bool = False, password: str | None = None
    ) -> None:
        self.binary = require_redis()
        self.directory = directory
        self.port = free_port()
        self.persistent = persistent
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def prefix(self) -> str:
        """A key prefix no other test of the session uses (tests share one server)."""
        return f"t{next(_prefixes)}-{os.getpid()}:"

    def start(self) -> None:
        durability = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent
            else ["--appendonly", "no"]
        )
        if self.password is not None:
            durability += ["--requirepass", self.password]
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", str(self.directory), "--protected-mode", "yes", *durability],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = self.client()
        deadline = time.monotonic() + START_S
        try:
            while True:
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=START_S)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(
            port=self.port, password=self.password, socket_timeout=2, socket_connect_timeout=2
        )
