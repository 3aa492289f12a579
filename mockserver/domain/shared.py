"""Control state shared by every process on one state file: settings changed through the
control plane, the clock, the scenario queue and reset.

Tasks are shared through the store; this is the rest of what must agree for several workers to
behave as one fake. It lives in the ``control`` row (and the ``queue`` table) of the SQLite
file, with a version number that every change bumps: a worker compares the version once per
request (a one-row primary-key read) and reloads only when it moved. ``epoch`` counts resets,
so that a worker also drops what it keeps only for itself (journal, rate-limit windows).

Last writer wins for settings and clock: two control-plane calls racing on two workers is not
a case a test suite produces. The queue is different, as every create may consume it, so taking
from it is one atomic statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import msgspec

from mockserver.domain.behaviour import Limits
from mockserver.domain.clock import ClockSnapshot
from mockserver.domain.journal import Journal, Journals
from mockserver.domain.limits import Limiter, RateLimiter
from mockserver.domain.outbox import SQLiteWebhooks, WebhookStore
from mockserver.domain.scenarios import ScenarioError, parse_scenario
from mockserver.domain.settings import Settings
from mockserver.domain.sqlite_store import StateFileError, transaction
from mockserver.domain.store import ImageShelf


@dataclass(frozen=True, slots=True)
class ControlState:
    """One reading of the shared control state."""

    version: int
    epoch: int
    settings: Settings
    clock: ClockSnapshot
    queue: tuple[tuple[str, int], ...]  # (scenario token, tasks remaining), oldest first


class Shared(Protocol):
    """What the backend needs of state shared by several processes: the SQLite file's
    :class:`SharedState`, or Redis's (``redis_shared.RedisShared``)."""

    def join(self, initial: Settings, clock: ClockSnapshot) -> ControlState: ...

    def secret(self, name: str, make: Callable[[], bytes]) -> bytes: ...

    def version(self) -> int: ...

    def load(self) -> ControlState: ...

    def publish(self, settings: Settings, clock: ClockSnapshot) -> None: ...

    def reset(self, settings: Settings, clock: ClockSnapshot) -> None: ...

    def push(self, token: str, count: int) -> None: ...

    def clear_queue(self) -> None: ...

    def take(self) -> str | None: ...

    def outbox(self) -> WebhookStore:
        """Where webhook deliveries live, beside the tasks."""

    def limiter(self, limits: Limits) -> Limiter:
        """The rate limits: per process, or shared when the state can keep them exactly."""

    def journal(self, size: int) -> Journals:
        """The request journal: per process, or shared by every replica."""

    def images(self, seconds: float) -> ImageShelf | None:
        """Where input images are kept for every replica (kept ``seconds``), or None when they
        share a disk (the render cache beside the state file)."""


class SharedState:
    """The control row and queue of a state file, over one connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def outbox(self) -> WebhookStore:
        return SQLiteWebhooks(self.conn)

    def limiter(self, limits: Limits) -> Limiter:
        """Per process: a limiter on the hot path must not take the file's write lock."""
        return RateLimiter(limits)

    def journal(self, size: int) -> Journals:
        """Per process, for the same reason."""
        return Journal(size)

    def images(self, seconds: float) -> ImageShelf | None:
        """None: workers on one machine share the render cache beside the file."""
        return None

    def join(self, initial: Settings, clock: ClockSnapshot) -> ControlState:
        """Called once per process at start. A file last run with the same starting settings
        carries on: settings changed live, the clock and the queue are kept. Otherwise the new
        starting settings win (and the queue is dropped), but a clock of the same mode still
        carries on, so that tasks already stored are not pushed into the future."""
        start = msgspec.json.encode(initial)
        with transaction(self.conn) as conn:
            row = conn.execute("SELECT initial, clock FROM control WHERE id = 1").fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO control VALUES (1, 1, 0, ?, ?, ?)",
                    (start, start, msgspec.json.encode(clock)),
                )
            elif row[0] != start:
                kept = _kept_clock(row[1], clock)
                conn.execute(
                    "UPDATE control SET version = version + 1, initial = ?, settings = ?, "
                    "clock = ? WHERE id = 1",
                    (start, start, msgspec.json.encode(kept)),
                )
                conn.execute("DELETE FROM queue")
        return self.load()

    def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The file's secret called ``name``: made by ``make`` by the first process that asks,
        the same for every process and restart after it (reset keeps it)."""
        with transaction(self.conn) as conn:
            conn.execute("INSERT OR IGNORE INTO secrets VALUES (?, ?)", (name, make()))
            row = conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        value: bytes = row[0]
        return value

    def check(self, initial: Settings) -> None:
        """Raise :class:`StateFileError` if :meth:`join` with these starting settings would
        meet a stored row it cannot read (checked once before serving, so that no worker
        fails on it later). A file last run with other starting settings has its settings and
        queue replaced by the join, so only the same start reads them."""
        with transaction(self.conn, write=False) as conn:
            row = conn.execute("SELECT initial, settings, clock FROM control WHERE id = 1")
            found = row.fetchone()
            queue = conn.execute("SELECT token, remaining FROM queue").fetchall()
        if found is None or found[0] != msgspec.json.encode(initial):
            return
        try:
            msgspec.json.decode(found[1], type=Settings)
            msgspec.json.decode(found[2], type=ClockSnapshot)
        except (msgspec.DecodeError, TypeError) as exc:
            raise StateFileError(f"its stored settings or clock cannot be read ({exc})") from None
        for token, remaining in queue:
            try:
                if not isinstance(remaining, int):
                    raise ScenarioError(f"{remaining!r} is not a count")
                parse_scenario(token)
            except (ScenarioError, TypeError) as exc:
                raise StateFileError(f"its scenario queue cannot be read ({exc})") from None

    def version(self) -> int:
        found: int = self.conn.execute("SELECT version FROM control WHERE id = 1").fetchone()[0]
        return found

    def load(self) -> ControlState:
        # One read transaction, so the row and the queue are from the same moment.
        with transaction(self.conn, write=False) as conn:
            version, epoch, settings, clock = conn.execute(
                "SELECT version, epoch, settings, clock FROM control WHERE id = 1"
            ).fetchone()
            queue = conn.execute("SELECT token, remaining FROM queue ORDER BY seq").fetchall()
        return ControlState(
            version,
            epoch,
            msgspec.json.decode(settings, type=Settings),
            msgspec.json.decode(clock, type=ClockSnapshot),
            tuple((token, remaining) for token, remaining in queue),
        )

    def publish(self, settings: Settings, clock: ClockSnapshot) -> None:
        """Make these settings and this clock everyone's."""
        self.conn.execute(
            "UPDATE control SET version = version + 1, settings = ?, clock = ? WHERE id = 1",
            (msgspec.json.encode(settings), msgspec.json.encode(clock)),
        )

    def reset(self, settings: Settings, clock: ClockSnapshot) -> None:
        """A reset for every worker: starting settings and clock, an empty queue, a new epoch."""
        with transaction(self.conn) as conn:
            conn.execute("DELETE FROM queue")
            conn.execute(
                "UPDATE control SET version = version + 1, epoch = epoch + 1, settings = ?, "
                "clock = ? WHERE id = 1",
                (msgspec.json.encode(settings), msgspec.json.encode(clock)),
            )

    def push(self, token: str, count: int) -> None:
        with transaction(self.conn) as conn:
            conn.execute("INSERT INTO queue (token, remaining) VALUES (?, ?)", (token, count))
            conn.execute("UPDATE control SET version = version + 1 WHERE id = 1")

    def clear_queue(self) -> None:
        with transaction(self.conn) as conn:
            conn.execute("DELETE FROM queue")
            conn.execute("UPDATE control SET version = version + 1 WHERE id = 1")

    def take(self) -> str | None:
        """The scenario for the next task from the head of the queue, or None if it is empty
        (another worker may have taken the last one since this one looked)."""
        with transaction(self.conn) as conn:
            head = conn.execute("SELECT seq, token, remaining FROM queue ORDER BY seq LIMIT 1")
            row = head.fetchone()
            if row is None:
                return None
            seq, token, remaining = row
            if remaining <= 1:
                conn.execute("DELETE FROM queue WHERE seq = ?", (seq,))
            else:
                conn.execute("UPDATE queue SET remaining = ? WHERE seq = ?", (remaining - 1, seq))
            conn.execute("UPDATE control SET version = version + 1 WHERE id = 1")
        taken: str = token
        return taken


def _kept_clock(stored: bytes, clock: ClockSnapshot) -> ClockSnapshot:
    """The stored clock if it is of the same mode as ``clock`` (and readable), else ``clock``."""
    try:
        kept = msgspec.json.decode(stored, type=ClockSnapshot)
    except (msgspec.DecodeError, TypeError):
        return clock
    return kept if kept.mode == clock.mode else clock
