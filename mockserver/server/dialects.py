"""Dialects: how the fake spells what it says, where the real API has been seen to vary.

A :class:`Speaker` binds one :class:`~mockserver.domain.behaviour.Dialect` to one seeded
``random.Random`` and turns task states and errors into wire dicts. Fixed choices are
resolved once, at construction, so the default dialect costs a dict lookup per field and
never touches the random source; "mixed" and "random" choices draw from it per call, in a
fixed order, so the same seed and the same calls give the same bytes.

Draw order, for reproducibility: ``envelope`` draws the timestamp format (once for both
timestamps), then the status spelling, then (failed tasks only) the error placement;
``error_body`` draws the shape, then (envelope shape only) the timestamp format.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from mockserver.domain.behaviour import Dialect
from mockserver.domain.tasks import Status, TaskState
from mockserver.server.wire import timestamp as observed_timestamp

# The id in an envelope-shaped error body: no task exists, but clients that parse every body
# as a task envelope still find a well-formed uuid there.
NIL_UUID: Final = "00000000-0000-0000-0000-000000000000"

_P, _R, _S, _F = Status.PENDING, Status.RUNNING, Status.SUCCEEDED, Status.FAILED
VOCABULARIES: Final[dict[str, dict[Status, str]]] = {
    "default": {_P: "pending", _R: "running", _S: "succeeded", _F: "failed"},
    "legacy": {_P: "pending", _R: "processing", _S: "completed", _F: "failed"},
    "queued": {_P: "queued", _R: "running", _S: "succeeded", _F: "failed"},
}
# Every documented spelling of each state ("mixed" picks one per response).
SPELLINGS: Final[dict[Status, tuple[str, ...]]] = {
    _P: ("pending", "queued"),
    _R: ("running", "processing"),
    _S: ("succeeded", "completed"),
    _F: ("failed",),
}


def z_timestamp(seconds: float) -> str:
    """The documented example format, ``2023-11-07T05:31:56Z``: whole seconds, truncated
    (never rounded up into the next second, so ``created_at <= updated_at`` still holds)."""
    return observed_timestamp(float(seconds // 1))[:19] + "Z"


Stamp = Callable[[float], str]
_STAMPS: Final[dict[str, Stamp]] = {"observed": observed_timestamp, "z": z_timestamp}
_STAMP_CHOICES: Final = (observed_timestamp, z_timestamp)
_PLACEMENTS: Final = ("task_info", "top_level", "both")
_BODIES: Final = ("default", "envelope", "detail")
_CREATE_STATUSES: Final = (202, 200)
_T = TypeVar("_T")


class Speaker:
    """One dialect and one random source, turning domain states and errors into wire dicts."""

    __slots__ = ("_body", "_create", "_names", "_placement", "_rng", "_stamp", "dialect")

    def __init__(self, dialect: Dialect, rng: random.Random | None = None) -> None:
        self.dialect = dialect
        # None below means "draw per call"; anything else is fixed for this speaker.
        self._names = VOCABULARIES.get(dialect.statuses)  # None when "mixed"
        self._stamp = _STAMPS.get(dialect.timestamps)  # None when "random"
        self._create = dialect.create_status or None
        self._placement = None if dialect.error_placement == "random" else dialect.error_placement
        self._body = None if dialect.error_body == "random" else dialect.error_body
        self._rng = rng
        if rng is None and self.random:
            raise ValueError(f"{dialect!r} makes random choices: pass a seeded random.Random")

    @property
    def random(self) -> bool:
        """Whether any choice of this dialect is drawn per call."""
        fixed = (self._names, self._stamp, self._create, self._placement, self._body)
        return any(choice is None for choice in fixed)

    def status(self, status: Status) -> str:
        names = self._names
        if names is not None:
            return names[status]
        return self._choose(SPELLINGS[status])

    def timestamp(self, seconds: float) -> str:
        return self._stamper()(seconds)

    def create_status(self) -> int:
        """The HTTP status of an accepted create: 202 as documented, or 200."""
        return self._create or self._choose(_CREATE_STATUSES)

    def envelope(self, state: TaskState, video_url: str | None) -> dict[str, Any]:
        """The task envelope: ``task_info`` always, the error once failed (placed as the
        dialect says), and ``videos`` exactly when ``video_url`` is given (the caller passes
        it for a succeeded task only)."""
        stamp = self._stamp or self._choose(_STAMP_CHOICES)
        created = stamp(state.created_at)
        info: dict[str, Any] = {
            "id": state.id,
            "status": self.status(state.status),
            "created_at": created,
            "updated_at": created
            if state.updated_at == state.created_at
            else stamp(state.updated_at),
        }
        body: dict[str, Any] = {"task_info": info}
        failure = state.failure
        if failure is not None:
            placement = self._placement or self._choose(_PLACEMENTS)
            if placement != "top_level":
                info["error"] = {
                    "code": failure.code,
                    "title": failure.title,
                    "detail": failure.detail,
                }
            if placement != "task_info":  # as in a real client's test: error_code, top level
                body["error"] = {
                    "error_code": failure.code,
                    "title": failure.title,
                    "detail": failure.detail,
                }
        if video_url is not None:
            body["videos"] = [video_url]
        return body

    def error_body(
        self,
        error_code: int,
        title: str,
        detail: str,
        extra: dict[str, Any] | None = None,
        *,
        now: float,
    ) -> dict[str, Any]:
        """The body of a non-2xx answer.

        ``default``: ``{error_code, title, detail, **extra}``. ``envelope``: a failed task
        envelope with the nil uuid as id, ``now`` as both timestamps and ``extra`` inside
        ``task_info.error``, so it is also a valid ``TaskEnvelope``. ``detail``: only
        ``{"detail": detail}``, FastAPI style; ``extra`` is dropped (the detail text already
        names the field). ``now`` (clock seconds) is read by the envelope shape only.
        """
        extra = extra or {}
        shape = self._body or self._choose(_BODIES)
        if shape == "detail":
            return {"detail": detail}
        if shape == "default":
            return {"error_code": error_code, "title": title, "detail": detail, **extra}
        stamp = self._stamper()(now)
        error = {"code": error_code, "title": title, "detail": detail, **extra}
        info = {"id": NIL_UUID, "status": "failed", "created_at": stamp, "updated_at": stamp}
        return {"task_info": {**info, "error": error}}

    def _stamper(self) -> Stamp:
        return self._stamp or self._choose(_STAMP_CHOICES)

    def _choose(self, options: Sequence[_T]) -> _T:
        assert self._rng is not None  # checked at construction for every random dialect
        return self._rng.choice(options)
