"""Where the ``state`` setting points: a SQLite file or a Redis URL, and how output shows it."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

REDIS_SCHEMES = ("redis", "rediss")


def is_redis(state: str | None) -> bool:
    """Whether a ``state`` setting names Redis (``redis://``, ``rediss://``), not a file."""
    return state is not None and urlsplit(state).scheme in REDIS_SCHEMES


def shown_state(state: str) -> str:
    """A ``state`` setting as output shows it: a Redis URL's password masked."""
    parts = urlsplit(state)
    if not is_redis(state) or parts.password is None:
        return state
    user = f"{parts.username}:***" if parts.username else ":***"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))
