"""The state file as something others could read, share or damage: it is private to its user,
one server holds it at a time, and a file that is not a usable state file is one clear line."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

import mockserver.domain.sqlite_store as sqlite_store
import mockserver.launch as launch
from mockserver.cli import build_parser, main, serve_settings
from mockserver.domain.settings import Settings
from mockserver.domain.shared import SharedState
from mockserver.domain.sqlite_store import SQLiteStore, encode_task, open_database
from mockserver.domain.store import retired_at
from mockserver.domain.tasks import Task
from mockserver.launch import media_beside_state, secured
from tests.helpers import SHARED_SETTINGS, open_backend, task
from tests.server_process import running_server

COMPANIONS = ("-wal", "-shm")


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems run with (0o022), under which a file is created 0644 unless the
    fake asks for less."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_state_file_and_its_companions_are_private(tmp_path: Path, usual_umask: None) -> None:
    """The file holds API keys and the admin token: no other user may read it, nor the WAL
    and shared-memory files SQLite makes beside it."""
    path = tmp_path / "state.db"
    store = SQLiteStore(open_database(path))
    store.add(task(1))  # a write, so the WAL and the shared-memory index exist
    for name in (str(path), *(f"{path}{suffix}" for suffix in COMPANIONS)):
        assert os.path.exists(name), name
        assert mode(name) == 0o600, (name, oct(mode(name)))
    store.close()


def test_an_existing_state_file_readable_by_others_is_made_private(
    tmp_path: Path, usual_umask: None
) -> None:
    """A file an earlier version left 0644 (with its WAL) is tightened when it is opened."""
    path = tmp_path / "state.db"
    earlier = sqlite3.connect(path)
    earlier.execute("PRAGMA journal_mode = WAL")
    earlier.execute("CREATE TABLE queue (seq INTEGER PRIMARY KEY, token TEXT, remaining INT)")
    names = [str(path), *(f"{path}{suffix}" for suffix in COMPANIONS)]
    for name in names:
        os.chmod(name, 0o644)
    conn = open_database(path)
    assert [oct(mode(name)) for name in names] == [oct(0o600)] * 3
    conn.close()
    earlier.close()


def _serve(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``wan-mock serve`` on ``state`` as a process that is expected to stop by itself."""
    command = [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--state", str(state)]
    return subprocess.run(
        [*command, "--no-access-log", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_second_server_on_a_state_file_in_use_is_refused(tmp_path: Path, workers: str) -> None:
    """A second ``wan-mock serve`` used to take over the first one's settings and admin token;
    now it stops at once with one line naming the file and the first server's pid, the first
    keeps its settings, and its files are private. After ``kill -9`` of the first (of its
    supervisor, with workers, which then stop too) the file is free again."""
    state = tmp_path / "state.db"
    first_args = ("--state", str(state), "--workers", workers, "--failure-rate", "0.5")
    with running_server(*first_args, "--no-access-log") as first:
        second = _serve(state, "--failure-rate", "1", "--admin-token", "taken-over")
        assert second.returncode == 2, second
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert f"state file {state} is in use by another wan-mock server" in lines[0]
        assert f"(pid {first.process.pid})" in lines[0]
        settings = httpx.get(first.base_url + "/_mock/settings")  # still no token needed
        assert settings.json()["failure_rate"] == 0.5
        for name in [str(state), *(f"{state}{suffix}" for suffix in (".lock", *COMPANIONS))]:
            assert mode(name) == 0o600, name
        serving = {
            int(httpx.get(first.base_url + "/_mock/health").headers.get("x-wan-mock-worker", 0))
            for _ in range(20)
        } - {0, first.process.pid}
        assert serving if workers == "2" else not serving  # the workers' own pids
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(10)
    deadline = time.monotonic() + 20
    while any(_running(pid) for pid in serving):
        assert time.monotonic() < deadline, f"workers {serving} outlived their supervisor"
        time.sleep(0.1)
    with running_server("--state", str(state), "--no-access-log") as again:
        assert httpx.get(again.base_url + "/_mock/health").status_code == 200


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie nobody reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


# --- a file that is not a usable state file -----------------------------------------------


SERVE = ["serve", "--port", "0", "--no-access-log"]


def _started_with(state: Path) -> Settings:
    """The settings ``main([*SERVE, "--state", state])`` starts a server with."""
    args = build_parser().parse_args([*SERVE, "--state", str(state)])
    return media_beside_state(secured(serve_settings(args, os.environ)))


def _state_with_tasks(path: Path, count: int) -> None:
    # The tables and the control row as the server of the test left them.
    open_backend(path, _started_with(path)).store.close()
    conn = open_database(path)
    tasks: list[Task] = [task(n) for n in range(count)]
    with sqlite_store.transaction(conn):
        conn.executemany(
            "INSERT INTO tasks (id, retired_at, data) VALUES (?, ?, ?)",
            [(t.id, retired_at(t), encode_task(t)) for t in tasks],
        )
    SQLiteStore(conn).close()  # folds the WAL in: the file alone is the state


def _not_sqlite(path: Path) -> None:
    path.write_text("name,key\nci,sk-123\n" * 200)


def _truncated(path: Path) -> None:
    _state_with_tasks(path, 3000)
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def _sql(*statements: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        _state_with_tasks(path, 3)
        conn = sqlite3.connect(path)
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()

    return damage


def _foreign(*statements: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        conn = sqlite3.connect(path)
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()

    return make


DAMAGED: dict[str, tuple[Callable[[Path], None], str]] = {
    # name: (how the file is made, what the one line says is wrong)
    "not SQLite": (
        _not_sqlite,
        "it is not a SQLite database (SQLite: file is not a database)",
    ),
    "truncated": (_truncated, "is damaged"),
    "another program's database": (
        _foreign("CREATE TABLE users (name TEXT, password TEXT)"),
        "it is a SQLite database but not a wan-mock state file (tables users)",
    ),
    "tasks table of another shape": (
        _foreign("CREATE TABLE tasks (id TEXT, body BLOB)"),
        "its table tasks has columns (id, body), expected (seq, id, retired_at, data)",
    ),
    "unreadable settings": (
        _sql("UPDATE control SET settings = x'00ff'"),
        "its stored settings or clock cannot be read",
    ),
    "settings of another shape": (
        _sql("""UPDATE control SET settings = '{"timing": 5}'"""),
        "its stored settings or clock cannot be read",
    ),
    "unknown queued scenario": (
        _sql("INSERT INTO queue (token, remaining) VALUES ('explode', 2)"),
        "its scenario queue cannot be read",
    ),
}


@pytest.mark.parametrize("name", list(DAMAGED))
def test_a_damaged_state_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Each of these used to print a traceback (or serve, and answer 500 later); now the
    server does not start, and says in one line which file and what is wrong with it."""
    make, reason = DAMAGED[name]
    state = tmp_path / "state.db"
    make(state)

    def serving(settings: Settings) -> int:
        raise AssertionError(f"{name}: the server started on it")

    monkeypatch.setattr(launch, "_run", serving)  # a failure, not a server that never returns
    assert main([*SERVE, "--state", str(state)]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"wan-mock: cannot use state file {state}: "), lines[0]
    assert reason in lines[0], lines[0]
    assert "wan-mock" not in captured.out  # no banner: it never started serving


def test_unreadable_settings_of_another_start_are_replaced_not_refused(tmp_path: Path) -> None:
    """A file last served with other starting settings (an older version's, say) gets the new
    ones at start whatever its stored settings, clock and queue hold, so they are not checked:
    only a server that would read them refuses them."""
    path = tmp_path / "state.db"
    open_backend(path).store.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE control SET settings = x'00', clock = x'00'")
    conn.execute("INSERT INTO queue (token, remaining) VALUES ('explode', 2)")
    conn.commit()
    conn.close()
    checked = open_database(path)
    with pytest.raises(sqlite_store.StateFileError, match="stored settings or clock"):
        SharedState(checked).check(SHARED_SETTINGS)
    other = Settings(clock="virtual", seed=8)
    SharedState(checked).check(other)
    checked.close()
    backend = open_backend(path, other)
    assert backend.settings == other
    assert not backend.queue
    backend.store.close()
