"""Shared plumbing for the benchmark scripts: ports, server processes, RSS, tables.

Only the standard library is used here so the harness itself cannot skew what it measures
(the scripts that need an HTTP client import httpx themselves).
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "benchmarks"
# The console script lives next to the interpreter running the benchmark, so a benchmark run
# with .venv/bin/python measures the package installed in that same venv.
VENV_BIN = Path(sys.executable).parent

HOST = "127.0.0.1"
API_KEY = "bench-key"
CREATE_PATH = "/vendors/alibaba/v1/wan2.6-i2v/generation"
CREATE_BODY: dict[str, Any] = {
    "prompt": (
        "A black cat looks curiously at the sky, camera gradually rises from eye-level to overhead"
    ),
    "image": "https://example.com/first_frame.jpg",
    "resolution": "720P",
    "duration": 5,
}
AUTH_HEADERS: dict[str, str] = {"Authorization": f"Bearer {API_KEY}"}
CREATE_HEADERS: dict[str, str] = {**AUTH_HEADERS, "Content-Type": "application/json"}


class HarnessError(RuntimeError):
    """A benchmark could not be carried out (as opposed to a floor being missed)."""


def poll_path(task_id: str) -> str:
    return f"{CREATE_PATH}/{task_id}"


def create_body_bytes() -> bytes:
    return json.dumps(CREATE_BODY, separators=(",", ":")).encode()


def free_port() -> int:
    # Binding to port 0 lets the kernel pick; the tiny window before the server binds it
    # is acceptable on a loopback-only benchmark box.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wan_mock_cmd(port: int, *extra: str, with_host: bool = True) -> list[str]:
    exe = VENV_BIN / "wan-mock"
    if not exe.exists():
        raise HarnessError(
            f"{exe} not found; install the project into this venv first (pip install -e .)"
        )
    host = ["--host", HOST] if with_host else []
    return [str(exe), "serve", *host, "--port", str(port), "--no-access-log", *extra]


def bare_app_cmd(port: int, app: str = "app") -> list[str]:
    """uvicorn serving ``bare_app:<app>`` (``app`` serialises per request, ``preserialised``
    answers fixed bytes)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        f"bare_app:{app}",
        "--app-dir",
        str(BENCH_DIR),
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def template_cmd(template: str, port: int) -> list[str]:
    """Expand a shell-like command template; `{port}` and `{python}` are substituted."""
    return [
        part.replace("{port}", str(port)).replace("{python}", sys.executable)
        for part in shlex.split(template)
    ]


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise HarnessError(f"`{name}` is not on PATH (Debian: apt-get install -y {name})")
    return path


def pinned(cmd: Sequence[str], cpu: int | None) -> list[str]:
    """Prefix `cmd` with taskset; taskset execs, so the pid we get is the real process."""
    if cpu is None:
        return list(cmd)
    if cpu not in os.sched_getaffinity(0):
        raise HarnessError(f"CPU {cpu} is not available to this process")
    return [require_tool("taskset"), "-c", str(cpu), *cmd]


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # If the benchmark is SIGKILLed its finally blocks never run; the kernel then kills the
    # server for us instead of leaving it bound to a port. Survives taskset's exec.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def http_status(
    port: int, path: str, timeout_s: float = 1.0, headers: dict[str, str] | None = None
) -> int | None:
    """Status of one GET, or None if nothing answered (refused, reset, timed out)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class Server:
    """One server subprocess with a bounded start, a readiness probe and a sure stop."""

    def __init__(self, name: str, cmd: Sequence[str], port: int, cwd: Path = REPO_ROOT) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.port = port
        self.cwd = cwd
        self.started_at = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise HarnessError(f"{self.name} is not running")
        return self._proc.pid

    def start(self) -> None:
        # A file rather than a pipe: nobody reads the server's output while it runs, and a full
        # pipe would stall the server mid-benchmark.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.started_at = time.perf_counter()
        self._proc = subprocess.Popen(
            self.cmd,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Own session: a terminal Ctrl-C reaches only us, and we stop the server in order.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def wait_ready(
        self,
        path: str = "/",
        *,
        deadline_s: float = 15.0,
        interval_s: float = 0.02,
        ready: Callable[[int], bool] = lambda _status: True,
        headers: dict[str, str] | None = None,
    ) -> float:
        """Poll until `ready(status)` holds; return seconds since start(). Never waits forever."""
        if self._proc is None:
            raise HarnessError(f"{self.name} was never started")
        limit = self.started_at + deadline_s
        last: int | None = None
        while True:
            status = http_status(self.port, path, max(interval_s, 0.5), headers)
            now = time.perf_counter()
            if status is not None:
                last = status
                if ready(status):
                    return now - self.started_at
            if self._proc.poll() is not None:
                raise HarnessError(
                    f"{self.name} exited with code {self._proc.returncode} before it was ready\n"
                    f"command: {shlex.join(self.cmd)}\n{self.log_tail()}"
                )
            if now >= limit:
                raise HarnessError(
                    f"{self.name} not ready on GET {path} within {deadline_s:.1f} s "
                    f"(last status: {last})\n{self.log_tail()}"
                )
            time.sleep(interval_s)

    def log_tail(self, lines: int = 30) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- {self.name} output (last {lines} lines) ---\n{tail}" if tail else ""

    def stop(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            # The whole group, in case the server forked helpers of its own.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _status_field_kib(pid: int, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    # /proc/<pid>/task/<tid>/children needs CONFIG_PROC_CHILDREN, which not every kernel has;
    # the parent pid in /proc/<n>/stat is always there.
    kids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses; fields resume after the last ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            kids.append(int(entry.name))
    return kids


def tree_pids(pid: int) -> list[int]:
    seen: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        seen.append(current)
        todo.extend(_children(current))
    return seen


def rss_bytes(pid: int) -> int:
    """VmRSS of `pid` and its descendants, so a launcher wrapper cannot hide the real server."""
    return sum(_status_field_kib(p, "VmRSS") for p in tree_pids(pid)) * 1024


def hwm_bytes(pid: int) -> int:
    return sum(_status_field_kib(p, "VmHWM") for p in tree_pids(pid)) * 1024


def install_sigterm_handler() -> None:
    # SystemExit unwinds through the finally blocks that stop servers; the default SIGTERM
    # action would skip them.
    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


@contextlib.contextmanager
def servers(*items: Server) -> Iterator[tuple[Server, ...]]:
    """Start all, stop all (in reverse) whatever happens in between."""
    with contextlib.ExitStack() as stack:
        for item in items:
            stack.enter_context(item)
        yield items


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain aligned text: first column left, the rest right (they are numbers)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    print(f"results written to {path}")


def run_main(main: Callable[[], int]) -> None:
    """Exit with ``main()``'s code: 2 when the benchmark could not run, 130 on Ctrl-C."""
    try:
        sys.exit(main())
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
