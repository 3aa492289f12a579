"""What a target does, as a run sees it: status spellings, error shapes, headers, timestamp
formats. Every response the run gets, from httpx or from schemathesis, is shown to
:class:`Observer`; its :class:`Observations` go into the report and the drift comparison."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mockserver.conformance.results import Observations

# Headers whose values change per response or say nothing about the API's shape.
_VOLATILE_HEADERS = frozenset({"date", "content-length", "connection", "keep-alive"})
_TIMESTAMP_FIELDS = ("created_at", "updated_at")


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
