"""What the dashboard shows, as plain values for its templates: pages of tasks, one task's
request and timeline, the journal and the webhook log, read from the backend at one moment.

Nothing here writes: every change the page makes goes through the control plane's own routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any
from urllib.parse import quote

import msgspec

from mockserver.domain.backend import Backend
from mockserver.domain.journal import JournalEntry
from mockserver.domain.keys import fingerprint
from mockserver.domain.planning import Decision
from mockserver.domain.scenarios import (
    FAILURES,
    POLL_ERROR_STATUSES,
    REJECT_STATUSES,
    WEBHOOK_FAULTS,
)
from mockserver.domain.tasks import Status, Task
from mockserver.server.wire import timestamp

PAGE_SIZE = 50
# Every scenario token the control plane takes, offered as suggestions by the page.
SCENARIOS = (
    "succeed",
    "slow",
    "stuck",
    "fail",
    *(f"fail:{code}" for code in FAILURES),
    "fail:safety",
    *(f"reject:{status}" for status in REJECT_STATUSES),
    *(f"poll-error:{status}" for status in POLL_ERROR_STATUSES),
    *(f"webhook:{fault}" for fault in WEBHOOK_FAULTS),
)


@dataclass(frozen=True, slots=True)
class Row:
    """One task in the list."""

    id: str
    status: str
    owner: str  # the key's fingerprint
    created: str
    updated: str
    prompt: str
    scenario: str | None


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of the task list, newest first, under the filters asked for."""

    rows: list[Row]
    page: int
    more: bool  # a next page exists
    total: int | None  # every task (without filters); None when filtered: not counted
    status: str
    key: str

    def query(self, page: int) -> str:
        """The query string of another page under the same filters."""
        parts = [f"page={page}"]
        if self.status:
            parts.append(f"status={self.status}")
        if self.key:
            parts.append("key=" + _quote(self.key))
        return "&".join(parts)


@dataclass(frozen=True, slots=True)
class Step:
    """One status of a task's plan, on the fake's clock."""

    status: str
    at: str
    offset: float  # seconds after creation
    reached: bool  # at or before now


@dataclass(slots=True)
class Detail:
    """One task: its request, plan and whether there is something to look at."""

    task: Task
    row: Row
    fields: dict[str, Any]
    steps: list[Step]
    finishes: bool
    failure: dict[str, Any] | None
    terminal: bool
    video: str | None  # the result link's path once succeeded
    images: list[str] = field(default_factory=list)  # "first"/"last": kept base64 inputs


def task_page(backend: Backend[Any], page: int, status: str, key: str) -> TaskPage:
    """Page ``page`` (from 1) of the tasks, newest first: costs the tasks up to that page,
    not all of them (a filter reads until the page is full)."""
    now = backend.clock.now()
    start = (page - 1) * PAGE_SIZE
    newest = backend.newest()
    if not status and not key:
        tasks = list(islice(newest, start, start + PAGE_SIZE + 1))
        total: int | None = len(backend.store)
    else:
        tasks = list(islice(_matching(newest, now, status, key), start, start + PAGE_SIZE + 1))
        total = None
    rows = [row(task, now) for task in tasks[:PAGE_SIZE]]
    return TaskPage(rows, page, len(tasks) > PAGE_SIZE, total, status, key)


def _matching(tasks: Iterator[Task], now: float, status: str, key: str) -> Iterator[Task]:
    prints: dict[str, str] = {}
    for task in tasks:
        if status and task.state_at(now).status.value != status:
            continue
        if key and key != task.owner:
            if task.owner not in prints:
                prints[task.owner] = fingerprint(task.owner)
            if key != prints[task.owner]:
                continue
        yield task


def row(task: Task, now: float) -> Row:
    state = task.state_at(now)
    decision = task.decision
    return Row(
        id=task.id,
        status=state.status.value,
        owner=fingerprint(task.owner),
        created=timestamp(state.created_at),
        updated=timestamp(state.updated_at),
        prompt=task.request.prompt,
        scenario=decision.scenario.token if isinstance(decision, Decision) else None,
    )


def detail(backend: Backend[Any], task_id: str) -> Detail:
    """One task as the detail pane shows it (raises ``TaskNotFound``)."""
    task = backend.find(task_id)
    now = backend.clock.now()
    state = task.state_at(now)
    plan = task.plan
    steps = [
        Step(s.value, timestamp(task.created_at + offset), offset, task.created_at + offset <= now)
        for s, offset in zip(plan.statuses, plan.offsets, strict=True)
    ]
    fields: dict[str, Any] = msgspec.to_builtins(task.request)
    images = [
        which
        for which, ref in (("first", task.request.image), ("last", task.request.last_frame))
        if ref is not None and ref.digest is not None
    ]
    succeeded = state.status is Status.SUCCEEDED
    return Detail(
        task=task,
        row=row(task, now),
        fields=fields,
        steps=steps,
        finishes=plan.finishes,
        failure=msgspec.to_builtins(plan.failure),
        terminal=state.status.terminal,
        video=backend.links.path(task.id) if succeeded else None,
        images=images,
    )


def image_digest(backend: Backend[Any], task_id: str, which: str) -> tuple[str, str] | None:
    """The digest and format of a task's kept base64 input (``first`` or ``last``)."""
    request = backend.find(task_id).request
    ref = request.image if which == "first" else request.last_frame if which == "last" else None
    if ref is None or ref.digest is None:
        return None
    return ref.digest, ref.format or "PNG"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One journal entry as the requests panel shows it."""

    number: int  # its position in everything the journal has recorded, from 1
    at: str
    method: str
    path: str
    status: int
    duration_ms: float
    owner: str | None
    request_body: str | None
    response_body: str | None


def exchanges(backend: Backend[Any], after: int, limit: int) -> tuple[list[Exchange], int]:
    """The journal's entries recorded after number ``after``, newest first (at most
    ``limit``), and the number of the newest entry."""
    journal = backend.journal
    recorded = journal.recorded
    wanted = min(max(recorded - after, 0), limit, len(journal))
    entries = journal.entries(wanted) if wanted else []
    first = recorded - len(entries) + 1
    shown = [_exchange(first + n, entry) for n, entry in enumerate(entries)]
    shown.reverse()
    return shown, recorded


def _exchange(number: int, entry: JournalEntry) -> Exchange:
    return Exchange(
        number,
        timestamp(entry.at),
        entry.method,
        entry.path,
        entry.status,
        entry.duration_ms,
        entry.owner,
        _pretty(entry.request_body),
        _pretty(entry.response_body),
    )


def _pretty(body: str | None) -> str | None:
    """A JSON body indented for reading; anything else as it is."""
    if body is None:
        return None
    try:
        return msgspec.json.format(body, indent=2)
    except msgspec.DecodeError:
        return body


def webhooks(backend: Backend[Any], limit: int) -> dict[str, Any]:
    """The webhook endpoints (secrets masked) and the latest delivery attempts, newest first."""
    hooks = backend.webhooks
    endpoints = [
        {
            "id": endpoint.id,
            "url": endpoint.url,
            "events": ", ".join(endpoint.events),
            "key": fingerprint(endpoint.key) if endpoint.key is not None else "every key",
            "source": endpoint.source,
        }
        for endpoint in hooks.endpoints()
    ]
    attempts = [
        {**msgspec.to_builtins(attempt), "at": timestamp(attempt.at)}
        for attempt in list(hooks.log)[-limit:]
    ]
    attempts.reverse()
    return {"endpoints": endpoints, "attempts": attempts, "counts": hooks.store.counts()}


def _quote(text: str) -> str:
    return quote(text, safe="")
