"""What the server's logs may not show: credentials in a request's query string.

uvicorn's access log prints each request target whole, query string included, so
``GET /_mock/tasks?key=<the raw API key>`` would leave the key in the terminal and in any log
file collected from it. :class:`AccessLogRedactor` masks the values of the query parameters
that carry credentials before the line is formatted.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

from mockserver.domain.keys import mask

ACCESS_LOGGER = "uvicorn.access"
# Query parameters whose value is a credential (names compared in lower case).
SECRET_PARAMS = frozenset(
    {"key", "api_key", "apikey", "token", "access_token", "admin_token", "signature", "sig"}
)


def redact_query(target: str) -> str:
    """``target`` (a path with its query string) with every credential's value masked."""
    path, found, query = target.partition("?")
    if not found:
        return target
    parts = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        if equals and unquote_plus(name).lower() in SECRET_PARAMS:
            part = f"{name}={mask(unquote_plus(value))}"
        parts.append(part)
    return f"{path}?{'&'.join(parts)}"


class AccessLogRedactor(logging.Filter):
    """For ``uvicorn.access``, whose records carry ``(client, method, target, version,
    status)`` as arguments: masks credentials in the target's query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        target = args[2] if isinstance(args, tuple) and len(args) >= 3 else None
        if isinstance(args, tuple) and isinstance(target, str) and "?" in target:
            record.args = (*args[:2], redact_query(target), *args[3:])
        return True


def redact_access_log() -> None:
    """Install :class:`AccessLogRedactor` on uvicorn's access logger (once per process)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, AccessLogRedactor) for f in logger.filters):
        logger.addFilter(AccessLogRedactor())
