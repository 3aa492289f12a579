"""Run ``wan-mock serve`` as a real subprocess for tests, with deadlines everywhere."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

_BASE_URL = re.compile(r"at (http://\S+)")


@dataclass
class ServerProcess:
    base_url: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)


@contextmanager
def running_server(
    *args: str, env: dict[str, str] | None = None, open_files: int | None = None
) -> Iterator[ServerProcess]:
    """Start the CLI on a free port and yield once it answers HTTP (10 s deadline);
    ``open_files`` pins its file-descriptor limit (soft and hard) as a small machine's."""

    def limit_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    command = [sys.executable, "-m", "mockserver", "serve", "--port", "0", *args]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=limit_files if open_files is not None else None,
    )
    output: list[str] = []
    found = threading.Event()

    def drain() -> None:  # keeps the pipe from filling up and blocking the server
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if _BASE_URL.search(line):
                found.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not found.wait(10):
            raise RuntimeError(f"wan-mock did not print its URL in 10 s: {''.join(output)}")
        match = _BASE_URL.search("".join(output))
        assert match is not None
        base_url = match.group(1)
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(base_url + "/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"wan-mock did not answer: {''.join(output)}") from None
                time.sleep(0.02)
        yield ServerProcess(base_url, process, output)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
