"""How one server process is made: the app over memory or a state file, for the command
line's single process and for each ``--workers`` process (which uvicorn spawns, and which
builds its app through :func:`worker_app` from the settings in the environment it inherits).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator

import msgspec

from mockserver.domain.settings import Settings
from mockserver.domain.shared import SharedState
from mockserver.domain.sqlite_store import (
    SQLiteStore,
    StateFileError,
    check_integrity,
    open_database,
)
from mockserver.domain.state_urls import is_redis, shown_state
from mockserver.server import app as application  # create_app looked up per call: tests patch it
from mockserver.server.app import MockApp
from mockserver.server.faults import DropLogFilter
from mockserver.server.logs import redact_access_log

WORKER_SETTINGS = "_WAN_MOCK_WORKER_SETTINGS"  # not WAN_MOCK_*: never read as a setting
SUPERVISOR_CHECK_S = 0.5  # how often a worker checks that its supervisor is still there


class StateError(Exception):
    """The state file cannot be used (one line for the command line to print)."""


def check_state(path: str, initial: Settings) -> None:
    """Open and check the state file once before serving with ``initial`` settings, so that a
    bad path or a damaged file is one clear message (and the tables exist before several
    workers start). For Redis, check that it answers and that what it holds can be read."""
    if is_redis(path):
        _check_redis(initial)
        return
    try:
        conn = open_database(path)
        try:
            check_integrity(conn)
            SharedState(conn).check(initial)
        finally:
            conn.close()
    except StateFileError as exc:
        raise StateError(f"cannot use state file {path}: {exc}") from None
    except sqlite3.DatabaseError as exc:  # not SQLite at all, or damaged past opening
        reason = {
            "SQLITE_NOTADB": "it is not a SQLite database",
            "SQLITE_CORRUPT": "it is damaged",
        }.get(getattr(exc, "sqlite_errorname", ""), "it is not a usable database")
        raise StateError(f"cannot use state file {path}: {reason} (SQLite: {exc})") from None
    except (sqlite3.Error, OSError) as exc:
        raise StateError(f"cannot use state file {path}: {exc}") from None


def _check_redis(initial: Settings) -> None:
    import redis

    from mockserver.domain.errors import StateUnavailable
    from mockserver.domain.redis_shared import RedisShared
    from mockserver.domain.redis_store import connect

    assert initial.state is not None
    shown = shown_state(initial.state)
    try:
        link = connect(initial.state, initial.state_password)
    except ValueError as exc:
        raise StateError(f"cannot use Redis state {shown}: {exc}") from None
    try:
        RedisShared(link, initial.state_prefix).check(initial)
    except StateUnavailable as exc:
        raise StateError(f"cannot use Redis state {shown}: {exc.reason}") from None
    except StateFileError as exc:
        raise StateError(f"cannot use Redis state {shown}: {exc}") from None
    except redis.RedisError as exc:  # a wrong password, an unknown database
        raise StateError(f"cannot use Redis state {shown}: {exc}") from None
    finally:
        link.close()


@contextlib.contextmanager
def claim_state(path: str) -> Iterator[None]:
    """Hold the state file for one server (its ``--workers`` included) while the block runs.

    The claim is an exclusive ``flock`` on ``<path>.lock``, taken by the process that starts
    the server (uvicorn's supervisor with ``--workers``), so its own workers share the file
    while another ``wan-mock serve`` is refused. The OS releases it when that process ends in
    any way, ``kill -9`` included. The lock file stays (removing it would race a starting
    server) and holds the owner's pid, for the refusal to name it.
    """
    if is_redis(path):  # replicas share Redis on purpose: nothing to claim
        yield
        return
    lock_path = f"{path}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StateError(f"cannot use state file {path}: {lock_path}: {exc.strerror}") from None
    try:
        with contextlib.suppress(OSError):  # another user's file: it holds only a pid
            os.fchmod(fd, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise StateError(
                f"state file {path} is in use by another wan-mock server (pid {owner}); "
                "stop it, or give this one another --state (use --workers to serve one "
                "file from several processes)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)


def build_app(settings: Settings) -> MockApp:
    """The app for one server process: in memory, or over the state file."""
    if settings.state is None:
        app = application.create_app(settings)
    elif is_redis(settings.state):
        app = _redis_app(settings, settings.state)
    else:
        conn = open_database(settings.state)
        store, shared = SQLiteStore(conn), SharedState(conn)
        app = application.create_app(settings, store=store, shared=shared)
    # A dropped connection (an injected fault) is logged as one line, not a traceback.
    logging.getLogger("uvicorn.error").addFilter(DropLogFilter())
    redact_access_log()  # no credential from a query string in the access log
    # Everything made so far (modules, the app) lives as long as the process: keep it out of
    # the garbage collector's full passes, whose pauses grow with the number of stored tasks.
    # Each create makes about ten long-lived objects; collecting the young generation every
    # 10,000 allocations instead of 700 spends measurably less time in the collector.
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    return app


def _redis_app(settings: Settings, url: str) -> MockApp:
    from mockserver.domain.redis_shared import RedisShared
    from mockserver.domain.redis_store import RedisStore, connect, retention_expiry

    link = connect(url, settings.state_password)
    store = RedisStore(link, settings.state_prefix)
    shared = RedisShared(link, settings.state_prefix)
    app = application.create_app(settings, store=store, shared=shared)
    backend = app.backend
    store.expiry = retention_expiry(backend.clock, lambda: backend.settings.task_retention)
    return app


def worker_app() -> MockApp:
    """The app factory each ``--workers`` process runs (uvicorn imports it by name)."""
    settings = msgspec.json.decode(os.environ[WORKER_SETTINGS], type=Settings)
    app = build_app(settings)
    _stop_with_supervisor()
    return app


def _stop_with_supervisor() -> None:
    """Shut this worker down (SIGTERM: uvicorn drains) once its supervisor is gone. uvicorn's
    workers outlive a supervisor killed with ``kill -9``; they would go on serving and writing
    the state file after its claim (:func:`claim_state`) was released with the supervisor."""
    supervisor = os.getppid()

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(SUPERVISOR_CHECK_S)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="wan-mock-supervisor-watch", daemon=True).start()
