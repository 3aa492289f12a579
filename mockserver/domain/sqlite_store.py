"""Tasks in a SQLite file: durable across restarts and shared by several worker processes.

Why SQLite: it is in the standard library, one file, and in WAL mode readers never wait for the
writer, so several workers on one machine can poll while another creates. Each task is one row
keyed by id (a primary-key lookup per poll, nothing loaded at start-up, so a file of 100,000
tasks opens in milliseconds); the task itself is a msgpack blob (msgspec), with the moment its
retention starts kept beside it, indexed, so purging is one range delete.

Durability: every write is its own committed transaction before the call returns, so a create
is on disk before it is acknowledged. ``synchronous=NORMAL`` in WAL mode keeps every committed
transaction through a crash or ``kill -9`` of the process (the WAL is in the OS's hands); only
a power loss or OS crash can drop the last commits, which would need ``FULL`` (an fsync per
create) and is not worth its cost for a development fake.

The file holds the API keys and the admin token, so it is private to its user: created 0600
(SQLite gives its ``-wal`` and ``-shm`` companions the database file's mode), and an existing
file or companion readable by others is made private when it is opened. A file that is not a
state file of this fake (not SQLite, damaged, other tables) is refused with one
:class:`StateFileError`; a single task row that cannot be decoded is skipped and reported, so
one bad row never takes the rest down.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import msgspec

from mockserver.domain.generation import GenerationRequest
from mockserver.domain.planning import Decision, Source
from mockserver.domain.scenarios import Scenario
from mockserver.domain.store import retired_at
from mockserver.domain.tasks import Failure, Plan, Status, Task

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    retired_at REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_retired_at ON tasks (retired_at);
CREATE TABLE IF NOT EXISTS control (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    initial BLOB NOT NULL,
    settings BLOB NOT NULL,
    clock BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY,
    token TEXT NOT NULL,
    remaining INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id TEXT PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    state TEXT NOT NULL,
    next_at REAL NOT NULL,
    lease REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_task ON webhook_deliveries (task_id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_event ON webhook_deliveries (event_id);
"""

# Each table's columns, in order: a file whose tables differ is not a state file of this fake.
COLUMNS = {
    "tasks": ("seq", "id", "retired_at", "data"),
    "control": ("id", "version", "epoch", "initial", "settings", "clock"),
    "queue": ("seq", "token", "remaining"),
    "secrets": ("name", "value"),
    "webhook_endpoints": ("id", "data"),  # the webhook outbox (outbox.py)
    "webhook_deliveries": ("id", "event_id", "task_id", "state", "next_at", "lease", "data"),
}
COMPANIONS = ("-wal", "-shm")  # SQLite's files beside the database in WAL mode
BUSY_TIMEOUT_MS = 10_000  # another worker holding the write lock: wait, do not fail

logger = logging.getLogger(__name__)


class StateFileError(Exception):
    """The state file cannot be used as it is (the message says what is wrong with it)."""


def open_database(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) a private state file in WAL mode with the fake's tables;
    raises :class:`StateFileError` for a SQLite file that is not one of this fake's."""
    make_private(path)
    # Autocommit (isolation_level=None): each statement commits when it returns, and the few
    # multi-statement changes open their own BEGIN IMMEDIATE. check_same_thread is off
    # because in-process transports call the backend from a helper thread.
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise sqlite3.OperationalError(f"{path}: cannot use WAL mode (got {mode!r})")
    conn.execute("PRAGMA synchronous = NORMAL")
    # Statement by statement inside one transaction (executescript would commit first), so
    # workers starting together create the tables once.
    try:
        with transaction(conn):
            _check_tables(conn)
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    return conn


def make_private(path: str | Path) -> None:
    """Create the state file 0600 if it is missing, and take the group's and others' access
    away from it and its companions if they have any. A file this user does not own keeps its
    mode, with a warning."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for name in (str(path), *(f"{path}{suffix}" for suffix in COMPANIONS)):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            try:
                os.chmod(name, mode & 0o700)
            except OSError as exc:
                logger.warning(
                    "%s is readable by other users (mode %o) and cannot be made private: %s",
                    name,
                    mode,
                    exc.strerror,
                )


def _check_tables(conn: sqlite3.Connection) -> None:
    """Refuse a database whose tables are not (a subset of) the fake's, column for column."""
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    foreign = sorted(set(names) - set(COLUMNS))
    if foreign:
        raise StateFileError(
            f"it is a SQLite database but not a wan-mock state file (tables {', '.join(foreign)})"
        )
    for name in names:
        columns = tuple(row[1] for row in conn.execute(f"PRAGMA table_info({name})"))
        if columns != COLUMNS[name]:
            raise StateFileError(
                f"its table {name} has columns ({', '.join(columns)}), "
                f"expected ({', '.join(COLUMNS[name])})"
            )


def check_integrity(conn: sqlite3.Connection) -> None:
    """Raise :class:`StateFileError` if SQLite finds the file damaged (a truncated or
    overwritten file). Reads every page once: about 0.2 s for 100,000 tasks."""
    try:
        found = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StateFileError(f"it is damaged ({exc})") from None
    if found != "ok":
        raise StateFileError(f"it is damaged (SQLite's check: {found})")


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, *, write: bool = True) -> Iterator[sqlite3.Connection]:
    """One transaction, rolled back on error. A writing one is ``BEGIN IMMEDIATE``: it takes
    the write lock at once, so two workers never both read and then both write. A reading one
    sees one consistent snapshot and never waits for a writer (WAL)."""
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class _Row(msgspec.Struct, array_like=True, frozen=True):
    """A task as stored: positional, so field names are not repeated in every row."""

    owner: str
    created_at: float
    request: GenerationRequest
    statuses: tuple[Status, ...]
    offsets: tuple[float, ...]
    failure: Failure | None
    scenario: Scenario | None
    source: Source | None


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Row)


def encode_task(task: Task) -> bytes:
    decision = task.decision
    scenario, source = (
        (decision.scenario, decision.source) if isinstance(decision, Decision) else (None, None)
    )
    plan = task.plan
    row = _Row(
        task.owner,
        task.created_at,
        task.request,
        plan.statuses,
        plan.offsets,
        plan.failure,
        scenario,
        source,
    )
    return _encoder.encode(row)


# What decoding a damaged row raises: msgspec's errors (ValidationError is a DecodeError), a
# plan the transition table refuses (PlanError, a ValueError), or a column that is not bytes.
UNREADABLE = (msgspec.DecodeError, ValueError, TypeError)


def decode_task(task_id: str, data: bytes) -> Task:
    row = _decoder.decode(data)
    decision = Decision(row.scenario, row.source) if row.scenario and row.source else None
    plan = Plan(row.statuses, row.offsets, row.failure)
    return Task(task_id, row.owner, row.created_at, row.request, plan, decision)


class TaskReader:
    """Decodes stored tasks for a store: a damaged one is None (treated as absent, since
    neither its owner nor its plan can be known), logged once per id with ``where`` it was."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._reported: set[str] = set()

    def decode(self, task_id: str, data: bytes) -> Task | None:
        try:
            return decode_task(task_id, data)
        except UNREADABLE as exc:
            if task_id not in self._reported:
                self._reported.add(task_id)
                logger.warning("%s: task %s cannot be read, skipped: %s", self.where, task_id, exc)
            return None

    def forget(self) -> None:
        """Log again what is found damaged from now on (the store was cleared)."""
        self._reported.clear()


class SQLiteStore:
    """The :class:`~mockserver.domain.store.TaskStore` over one SQLite connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._closed = False
        self._reader = TaskReader("state file")

    def add(self, task: Task) -> None:
        try:
            self.conn.execute(
                "INSERT INTO tasks (id, retired_at, data) VALUES (?, ?, ?)",
                (task.id, retired_at(task), encode_task(task)),
            )
        except sqlite3.IntegrityError:
            raise KeyError(f"task {task.id} already exists") from None

    def get(self, task_id: str) -> Task | None:
        row = self.conn.execute("SELECT data FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return None if row is None else self._reader.decode(task_id, row[0])

    def save(self, task: Task) -> None:
        self.conn.execute(
            "UPDATE tasks SET retired_at = ?, data = ? WHERE id = ?",
            (retired_at(task), encode_task(task), task.id),
        )

    def __contains__(self, task_id: object) -> bool:
        found = self.conn.execute("SELECT 1 FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return found is not None

    def tasks(self, skipped: list[str] | None = None) -> Iterator[Task]:
        return self._listed("SELECT id, data FROM tasks ORDER BY seq", skipped)

    def newest(self, skipped: list[str] | None = None) -> Iterator[Task]:
        return self._listed("SELECT id, data FROM tasks ORDER BY seq DESC", skipped)

    def _listed(self, query: str, skipped: list[str] | None) -> Iterator[Task]:
        # Fetched in pages, so listing many tasks never holds them all as rows and objects.
        cursor = self.conn.execute(query)
        while page := cursor.fetchmany(512):
            for task_id, data in page:
                task = self._reader.decode(task_id, data)
                if task is not None:
                    yield task
                elif skipped is not None:
                    skipped.append(task_id)

    def __len__(self) -> int:
        count: int = self.conn.execute("SELECT count(*) FROM tasks").fetchone()[0]
        return count

    def purge(self, before: float) -> int:
        return self.conn.execute("DELETE FROM tasks WHERE retired_at < ?", (before,)).rowcount

    def clear(self) -> None:
        self.conn.execute("DELETE FROM tasks")
        self._reader.forget()

    def close(self) -> None:
        # Fold the WAL back into the database file so the state is one file at rest (the last
        # connection to close would do it too; a killed one leaves the WAL, which SQLite
        # replays on the next open, losing nothing).
        # (If another worker is busy writing, its own close checkpoints later.)
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(sqlite3.OperationalError):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()
