"""Serialisation: domain states to the API's JSON shapes. The only place wire dicts are made."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mockserver.domain.tasks import TaskState

RESULT_NAME = "result_000.mp4"


def timestamp(seconds: float) -> str:
    """The observed real format: microseconds and an explicit offset, e.g.
    ``2026-09-21T08:23:12.657134+00:00`` (always six fraction digits)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")


def result_path(task_id: str) -> str:
    return f"/files/{task_id}/{RESULT_NAME}"


def envelope(state: TaskState, base_url: str) -> dict[str, Any]:
    """The task envelope: ``task_info`` always, ``videos`` once succeeded, ``error`` once failed."""
    info: dict[str, Any] = {
        "id": state.id,
        "status": state.status.value,
        "created_at": timestamp(state.created_at),
        "updated_at": timestamp(state.updated_at),
    }
    if state.failure is not None:
        failure = state.failure
        info["error"] = {"code": failure.code, "title": failure.title, "detail": failure.detail}
    body: dict[str, Any] = {"task_info": info}
    if state.succeeded:
        body["videos"] = [base_url + result_path(state.id)]
    return body
