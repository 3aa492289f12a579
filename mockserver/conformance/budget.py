"""The create budget: the one place that decides whether a request could create a task.

Every request of a run leaves through :class:`GatedTransport`, whatever built it (the probes,
schemathesis' generated cases, the lifecycle), so the count cannot be bypassed. A request counts
against ``--max-creates`` when a correct server could accept it as a create: it is not a read,
it goes to the create path, it carries the run's key anywhere in its URL or headers, and its body
is a JSON object the contract's request schema accepts. Only a body the schema refuses (or one
that is not JSON at all) is free, because a correct server must refuse it.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import httpx
import jsonschema_rs

from mockserver.domain.contract import request_schema
from mockserver.domain.paths import GENERATION_PATH

READS = frozenset({"GET", "HEAD", "OPTIONS"})
COUNTED = "wan_mock.counted"  # request extension: the gate counted this request as a create


class BudgetExceeded(RuntimeError):
    """A request that could create a task would pass the budget; it was not sent."""


@functools.cache
def _schema() -> Any:
    return jsonschema_rs.validator_for(request_schema(strict=False))


def may_be_valid(content: bytes) -> bool:
    """Whether a correct server could accept ``content`` as a create body."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(body, dict) and bool(_schema().is_valid(body))


def is_create_path(path: str) -> bool:
    return path.rstrip("/").lower().endswith(GENERATION_PATH.lower())


class Spend:
    """Counts requests that could create a task against a hard cap.

    ``reserved`` creates are kept for a later phase (the lifecycle's tasks): earlier phases
    may only use the rest. ``cautious`` (a billed target) refuses every further create once
    the target has accepted one that a correct server must refuse: each such answer may be a
    billed task the run did not mean to make.
    """

    def __init__(self, max_creates: int, *, cautious: bool = False) -> None:
        self.max_creates = max_creates
        self.cautious = cautious
        self.creates = 0
        self.accepted = 0  # creates with the key answered 2xx, whatever they were meant to test
        self.unplanned = 0  # creates a correct server must refuse, answered 2xx all the same
        self.reserved = 0
        self.refused: list[str] = []  # why requests were kept back, in order, deduplicated

    @property
    def remaining(self) -> int:
        return max(0, self.max_creates - self.reserved - self.creates)

    def admit(self, request: httpx.Request, secret: str) -> None:
        """Count ``request`` if it could create a task; raise :class:`BudgetExceeded` (the
        request is then not sent) if that would pass the budget."""
        if request.method.upper() in READS or not is_create_path(request.url.path):
            return
        if not carries(request, secret):
            return
        if self.cautious and self.unplanned:
            self._refuse(
                "not sent: the target answered 2xx to a create a correct server must refuse, "
                "so every further create with the key may be billed"
            )
        if not may_be_valid(request.content):
            return
        if self.remaining <= 0:
            self._refuse(
                f"not sent: a body the contract's schema accepts, with the key, counts against "
                f"--max-creates {self.max_creates}"
                + (f" ({self.reserved} kept for the lifecycle)" if self.reserved else "")
            )
        self.creates += 1
        request.extensions[COUNTED] = True

    def answered(self, request: httpx.Request, status: int, secret: str) -> None:
        """Note a 2xx to a create, and whether a correct server had to refuse it."""
        if (
            200 <= status < 300
            and request.method.upper() not in READS
            and is_create_path(request.url.path)
            and carries(request, secret)
        ):
            self.accepted += 1
            if not request.extensions.get(COUNTED):
                self.unplanned += 1

    def _refuse(self, reason: str) -> None:
        if reason not in self.refused:
            self.refused.append(reason)
        raise BudgetExceeded(reason)


def carries(request: httpx.Request, secret: str) -> bool:
    """Whether ``secret`` appears anywhere in the request's URL or headers."""
    if not secret:
        return False
    return secret in str(request.url) or any(secret in v for _, v in request.headers.items())


class GatedTransport(httpx.BaseTransport):
    """An httpx transport that shows every request to :meth:`Spend.admit` before sending it."""

    def __init__(self, inner: httpx.BaseTransport, spend: Spend, secret: str) -> None:
        self._inner, self._spend, self._secret = inner, spend, secret

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self._spend.admit(request, self._secret)
        response = self._inner.handle_request(request)
        self._spend.answered(request, response.status_code, self._secret)
        return response

    def close(self) -> None:
        self._inner.close()
