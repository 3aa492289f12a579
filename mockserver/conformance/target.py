"""The target of a run: one base URL, spoken to over httpx, with the budget and the manners
that make it safe to point at the real, billed API.

Every response the run gets, from httpx here or from schemathesis, is shown to
:class:`Observer`, which records what the target does (status spellings, error shapes,
headers, timestamp formats) for the drift report. Secrets given to :class:`Redactor` are
replaced in every string that leaves the run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from mockserver.conformance.results import Observations

# Headers whose values change per response or say nothing about the API's shape.
_VOLATILE_HEADERS = frozenset({"date", "content-length", "connection", "keep-alive"})
_TIMESTAMP_FIELDS = ("created_at", "updated_at")


class Redactor:
    """Replaces each secret by ``***`` (tokens must never reach output, logs or reports)."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class BudgetExceeded(RuntimeError):
    """A create would pass ``--max-creates``."""


class Spend:
    """Counts creates (billed on a live API) against a hard cap.

    Invalid bodies are sent because the API must refuse them; if a live API accepts one, it
    has created a billed task, so ``cautious`` stops sending invalid creates after the first.
    """

    def __init__(self, max_creates: int, *, cautious: bool = False) -> None:
        self.max_creates = max_creates
        self.cautious = cautious
        self.creates = 0
        self.unplanned = 0

    @property
    def may_send_invalid_creates(self) -> bool:
        return not (self.cautious and self.unplanned)

    @property
    def remaining(self) -> int:
        return max(0, self.max_creates - self.creates)

    def take(self) -> None:
        if self.creates >= self.max_creates:
            raise BudgetExceeded(f"--max-creates {self.max_creates} reached")
        self.creates += 1

    def accepted_by_mistake(self) -> None:
        """The target created a task for a request it had to refuse: spent all the same."""
        self.unplanned += 1


def timestamp_format(value: str) -> str:
    """The shape of a timestamp with its digits hidden: ``dddd-dd-ddTdd:dd:ddZ``."""
    return re.sub(r"\d", "d", value)


class Observer:
    """Accumulates :class:`Observations` from responses of the API's two operations."""

    def __init__(self) -> None:
        self.seen = Observations()
        self._spellings: set[str] = set()
        self._headers: set[str] = set()
        self._content_types: set[str] = set()
        self._stamps: set[str] = set()
        self._creates: set[int] = set()
        self._placements: set[str] = set()
        self._shapes: dict[str, set[str]] = {}  # HTTP status -> the key sets of its error bodies

    def response(self, status: int, headers: Mapping[str, str], body: Any, *, create: bool) -> None:
        self._headers.update(h.lower() for h in headers if h.lower() not in _VOLATILE_HEADERS)
        content_type = headers.get("content-type")
        if content_type:
            self._content_types.add(content_type.split(";")[0].strip())
        if create and 200 <= status < 300:
            self._creates.add(status)
        if status >= 400:
            shape = "{" + ", ".join(sorted(body)) + "}" if isinstance(body, dict) else "not JSON"
            self._shapes.setdefault(str(status), set()).add(shape)
            if "retry-after" in {h.lower() for h in headers}:
                self.seen.retry_after.append(f"{status}: {headers.get('retry-after')}")
            return
        info = body.get("task_info") if isinstance(body, dict) else None
        if not isinstance(info, dict):
            return
        if isinstance(info.get("status"), str):
            self._spellings.add(info["status"])
        for name in _TIMESTAMP_FIELDS:
            if isinstance(info.get(name), str):
                self._stamps.add(timestamp_format(info[name]))
        if info.get("status") == "failed":
            where = [p for p, d in (("task_info", info), ("top_level", body)) if "error" in d]
            self._placements.add("+".join(where) or "none")

    def finish(self) -> Observations:
        seen = self.seen
        seen.status_spellings = sorted(self._spellings)
        seen.response_headers = sorted(self._headers)
        seen.content_types = sorted(self._content_types)
        seen.timestamp_formats = sorted(self._stamps)
        seen.create_status_codes = sorted(self._creates)
        seen.error_placement = sorted(self._placements)
        seen.error_shapes = {code: sorted(self._shapes[code]) for code in sorted(self._shapes)}
        seen.retry_after = sorted(set(seen.retry_after))
        return seen


def parse_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class Target:
    """An httpx client of ``base_url`` that obeys ``Retry-After`` and reports every answer."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        observer: Observer,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        min_gap: float = 0.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.observer = observer
        self.requests = 0
        self._sleep = sleep
        self._not_before = 0.0
        self.min_gap = min_gap  # seconds between any two requests (a live API's rate limits)
        self._last = float("-inf")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self.http.close()

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token if token is not None else self.token}"}

    def call(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """One request to the API, after any wait a previous ``Retry-After`` asked for."""
        self.pause()
        response = self.http.request(method, path, headers=dict(headers or {}), **kw)
        self.requests += 1
        self.seen(response, create=method == "POST")
        return response

    def seen(self, response: httpx.Response, *, create: bool) -> None:
        self.observer.response(
            response.status_code, response.headers, parse_json(response), create=create
        )
        self.note_retry_after(response.status_code, response.headers.get("retry-after"))

    def note_retry_after(self, status: int, value: str | None) -> None:
        if status in (429, 503) and value is not None and value.strip().isdigit():
            self._not_before = max(self._not_before, time.monotonic() + int(value))

    def pause(self) -> None:
        """Wait out any ``Retry-After``, and keep ``min_gap`` since the previous request."""
        now = time.monotonic()
        wait = max(self._not_before, self._last + self.min_gap) - now
        if wait > 0:
            self._sleep(wait)
        self._last = now + max(wait, 0.0)
