"""Stoplight's Prism serving the project's contract: a mock server the project did not write.

``./scripts/test`` installs the pinned ``@stoplight/prism-cli`` into ``.tools/`` with npm; the
tests that need it skip when it is missing (and fail under CI, where it must be there).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from tests.targets.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
PRISM = ROOT / ".tools" / "node_modules" / ".bin" / "prism"
CONTRACT = ROOT / "contracts" / "openapi.yaml"
START_DEADLINE = 60.0  # Prism parses the contract before it listens: seconds under load


def prism_command() -> Path | None:
    """The installed ``prism`` command, or None."""
    return PRISM if PRISM.is_file() and os.access(PRISM, os.X_OK) else None


@contextmanager
def prism_mock(*, dynamic: bool) -> Iterator[str]:
    """Prism mocking the contract on a free loopback port, static or ``--dynamic``; yields its
    base URL and stops it when the block ends."""
    command = prism_command()
    if command is None:
        raise FileNotFoundError(f"{PRISM} is missing: run ./scripts/test to install it")
    port = free_port()
    argv = [str(command), "mock", "--host", "127.0.0.1", "--port", str(port), str(CONTRACT)]
    if dynamic:
        argv.append("--dynamic")
    env = {**os.environ, "SCARF_ANALYTICS": "false", "DO_NOT_TRACK": "1"}
    base_url = f"http://127.0.0.1:{port}"
    # Prism logs every request: into a file, since a full pipe would stall it.
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_listening(process, base_url, log)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_listening(process: subprocess.Popen[bytes], base_url: str, log: IO[str]) -> None:
    deadline = time.monotonic() + START_DEADLINE
    with httpx.Client(timeout=1, trust_env=False) as client:  # one client: its setup costs CPU
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                output = log.read()[-2000:]
                raise RuntimeError(f"prism exited with {process.returncode}: {output}")
            try:
                client.get(base_url + "/")
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            return
    raise RuntimeError(f"prism did not listen on {base_url} within {START_DEADLINE} s")
