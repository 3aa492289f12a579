"""How one server process is made: the app over memory or a state file, for the command
line's single process and for each ``--workers`` process (which uvicorn spawns, and which
builds its app through :func:`worker_app` from the settings in the environment it inherits).
"""

from __future__ import annotations

import gc
import logging
import os
import sqlite3

import msgspec

from mockserver.domain.settings import Settings
from mockserver.domain.shared import SharedState
from mockserver.domain.sqlite_store import SQLiteStore, open_database
from mockserver.server import app as application  # create_app looked up per call: tests patch it
from mockserver.server.app import MockApp
from mockserver.server.faults import DropLogFilter
from mockserver.server.logs import redact_access_log

WORKER_SETTINGS = "_WAN_MOCK_WORKER_SETTINGS"  # not WAN_MOCK_*: never read as a setting


class StateError(Exception):
    """The state file cannot be used."""


def check_state(path: str) -> None:
    """Open the state file once before serving, so a bad path is one clear message (and the
    tables exist before several workers start)."""
    try:
        open_database(path).close()
    except (sqlite3.Error, OSError) as exc:
        raise StateError(f"cannot use state file {path}: {exc}") from None


def build_app(settings: Settings) -> MockApp:
    """The app for one server process: in memory, or over the state file."""
    if settings.state is None:
        app = application.create_app(settings)
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


def worker_app() -> MockApp:
    """The app factory each ``--workers`` process runs (uvicorn imports it by name)."""
    settings = msgspec.json.decode(os.environ[WORKER_SETTINGS], type=Settings)
    return build_app(settings)
