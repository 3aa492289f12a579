"""The control plane under ``/_mock/``: reset, clock, tasks, scenarios, settings, journal.

Never part of the public contract. It gives a server user the powers an in-process test has:
move time, force outcomes, queue scenarios, change settings live, look at the traffic. Who may
call it is decided before any handler runs (server/guard.py). Credentials are never shown in
clear: settings come back masked, task owners and journal entries as key fingerprints.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mockserver.__about__ import __version__
from mockserver.domain.backend import Backend
from mockserver.domain.errors import InvalidRequest
from mockserver.domain.keys import fingerprint
from mockserver.domain.loading import SettingsError, merge_settings, shown
from mockserver.domain.paths import CONTROL_PREFIX
from mockserver.domain.planning import Decision
from mockserver.domain.scenarios import FAILURES, ScenarioError, parse_scenario
from mockserver.domain.settings import RESTART_ONLY, SECRET
from mockserver.domain.tasks import Status, Task
from mockserver.server.bodies import decode_json, read_body
from mockserver.server.wire import JSONResponse, timestamp

if TYPE_CHECKING:
    from mockserver.server.webhooks import Dispatcher


class ControlPlane:
    """Handlers for ``/_mock/*``, bound to one backend and the clock it runs on."""

    def __init__(self, backend: Backend[Any], dispatcher: Dispatcher | None = None) -> None:
        self.backend = backend
        self.clock = backend.clock
        self.dispatcher = dispatcher  # moving the clock delivers the webhooks due on the way

    def routes(self) -> list[BaseRoute]:
        endpoints = [
            ("/health", self.health, ["GET"]),
            ("/reset", self.reset, ["POST"]),
            ("/clock", self.clock_state, ["GET"]),
            ("/clock/advance", self.advance, ["POST"]),
            ("/clock/freeze", self.freeze, ["POST"]),
            ("/clock/resume", self.resume, ["POST"]),
            ("/tasks", self.tasks, ["GET"]),
            ("/tasks/{task_id}", self.task, ["GET"]),
            ("/tasks/{task_id}/succeed", self.succeed, ["POST"]),
            ("/tasks/{task_id}/fail", self.fail, ["POST"]),
            ("/tasks/{task_id}/stick", self.stick, ["POST"]),
            ("/scenarios", self.scenarios, ["GET", "POST", "DELETE"]),
            ("/settings", self.settings, ["GET", "PATCH"]),
            ("/journal", self.journal, ["GET"]),
        ]
        return [Route(CONTROL_PREFIX + path, h, methods=m) for path, h, m in endpoints]

    async def health(self, request: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "version": __version__, "tasks": len(self.backend.store)}
        )

    async def reset(self, request: Request) -> Response:
        started = time.perf_counter()
        self.backend.reset()
        took = (time.perf_counter() - started) * 1000
        return JSONResponse({"reset": True, "took_ms": round(took, 3), **self._clock()})

    async def clock_state(self, request: Request) -> Response:
        return JSONResponse(self._clock())

    async def advance(self, request: Request) -> Response:
        try:
            body = await _json_object(request)
        except InvalidRequest:
            raise InvalidRequest.single(
                "seconds", "required", 'seconds: send a JSON object such as {"seconds": 60}'
            ) from None
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise InvalidRequest.single(
                "seconds", "type", "seconds: must be a number of seconds >= 0"
            )
        try:
            if self.dispatcher is not None:
                await self.dispatcher.advance(float(seconds))
            else:
                self.backend.advance(float(seconds))
        except ValueError as exc:
            raise InvalidRequest.single("seconds", "range", f"seconds: {exc}") from None
        return JSONResponse(self._clock())

    async def freeze(self, request: Request) -> Response:
        self.backend.freeze()
        return JSONResponse(self._clock())

    async def resume(self, request: Request) -> Response:
        self.backend.resume()
        return JSONResponse(self._clock())

    async def tasks(self, request: Request) -> Response:
        query = request.query_params
        wanted = query.get("status")
        if wanted is not None and wanted not in {s.value for s in Status}:
            names = ", ".join(s.value for s in Status)
            raise InvalidRequest.single("status", "enum", f"status: must be one of {names}")
        key = query.get("key")  # the raw key, or the fingerprint the listings show
        now = self.clock.now()
        prints: dict[str, str] = {}
        found = []
        skipped: list[str] = []  # rows of a state file that cannot be read (and are logged)
        for task in self.backend.tasks(skipped):
            state = task.state_at(now)
            if wanted is not None and state.status.value != wanted:
                continue
            if key is not None and key != task.owner:
                if task.owner not in prints:
                    prints[task.owner] = fingerprint(task.owner)
                if key != prints[task.owner]:
                    continue
            found.append(self._summary(task, now))
        limit = _int(query.get("limit"), "limit", default=len(found))
        tasks = found[-limit:] if limit else []
        return JSONResponse({"count": len(found), "tasks": tasks, "skipped": len(skipped)})

    async def task(self, request: Request) -> Response:
        task = self.backend.find(request.path_params["task_id"])
        now = self.clock.now()
        detail = self._summary(task, now)
        detail["request"] = msgspec.to_builtins(task.request)
        detail["plan"] = {
            "steps": [
                {"status": s.value, "at": timestamp(task.created_at + offset)}
                for s, offset in zip(task.plan.statuses, task.plan.offsets, strict=True)
            ],
            "failure": msgspec.to_builtins(task.plan.failure),
            "finishes": task.plan.finishes,
        }
        detail["history"] = [
            {"status": s.value, "at": timestamp(at)} for s, at in task.history(now)
        ]
        return JSONResponse(detail)

    async def succeed(self, request: Request) -> Response:
        state = self.backend.force(request.path_params["task_id"], Status.SUCCEEDED)
        await self._deliver_due()
        return JSONResponse({"id": state.id, "status": state.status.value})

    async def fail(self, request: Request) -> Response:
        body = await _json_object(request, optional=True)
        code = body.get("code")
        token = "fail" if code is None else f"fail:{code}"
        try:
            scenario = parse_scenario(token)
        except ScenarioError as exc:
            raise InvalidRequest.single("code", "enum", f"code: {exc}") from None
        failure = scenario.failure or FAILURES[3001]
        state = self.backend.force(request.path_params["task_id"], Status.FAILED, failure)
        await self._deliver_due()
        return JSONResponse({"id": state.id, "status": state.status.value})

    async def stick(self, request: Request) -> Response:
        state = self.backend.force(request.path_params["task_id"], Status.RUNNING)
        await self._deliver_due()
        return JSONResponse({"id": state.id, "status": state.status.value})

    async def scenarios(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _json_object(request)
            token = body.get("scenario")
            if not isinstance(token, str):
                raise InvalidRequest.single("scenario", "type", "scenario: must be a string")
            count = body.get("count", 1)
            if isinstance(count, bool) or not isinstance(count, int):
                raise InvalidRequest.single("count", "type", "count: must be an integer")
            self.backend.enqueue(token, count)
        elif request.method == "DELETE":
            self.backend.clear_queue()
        queue = [
            {"scenario": item.scenario.token, "remaining": item.remaining}
            for item in self.backend.queue
        ]
        return JSONResponse({"queue": queue})

    async def settings(self, request: Request) -> Response:
        if request.method == "PATCH":
            changes = await _json_object(request)
            fixed = sorted(RESTART_ONLY & set(changes))
            if fixed:
                raise InvalidRequest.single(
                    fixed[0], "restart", f"{', '.join(fixed)}: only take effect at start"
                )
            # A credential sent back as it was shown (masked) is left as it is.
            masked = shown(self.backend.settings)
            changes = {k: v for k, v in changes.items() if not (k in SECRET and v == masked.get(k))}
            try:
                updated = merge_settings(self.backend.settings, changes, "control plane")
                self.backend.configure(updated)
            except SettingsError as exc:
                named = re.search(r"setting '([\w.\[\]]+)'", str(exc))
                field = named.group(1) if named else "settings"
                raise InvalidRequest.single(field, "value", str(exc)) from None
        return JSONResponse(shown(self.backend.settings))

    async def journal(self, request: Request) -> Response:
        limit = _int(request.query_params.get("limit"), "limit", default=None)
        merge = request.query_params.get("webhooks") in ("1", "true")
        journal = self.backend.journal.entries(None if merge else limit)
        found = [(entry.at, msgspec.to_builtins(entry)) for entry in journal]
        if merge:
            # Webhook attempts beside the requests, as outgoing entries, in time order.
            found += [(a.at, {**_outgoing(a), "at": a.at}) for a in self.backend.webhooks.log]
            found.sort(key=lambda item: item[0])
            if limit is not None:
                found = found[-limit:] if limit else []
        entries = [{**entry, "at": timestamp(at)} for at, entry in found]
        return JSONResponse({"count": len(entries), "entries": entries})

    async def _deliver_due(self) -> None:
        """A forced end's webhook leaves before the call returns (any clock)."""
        if self.dispatcher is not None:
            await self.dispatcher.drain()

    def _clock(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "clock": {
                "mode": self.clock.mode,
                "now": timestamp(now),
                "unix": now,
                "frozen": self.clock.frozen,
                "speed": self.clock.speed,
            }
        }

    def _summary(self, task: Task, now: float) -> dict[str, Any]:
        state = task.state_at(now)
        decision = task.decision
        return {
            "id": task.id,
            "owner": fingerprint(task.owner),
            "status": state.status.value,
            "created_at": timestamp(state.created_at),
            "updated_at": timestamp(state.updated_at),
            "scenario": decision.scenario.token if isinstance(decision, Decision) else None,
            "scenario_source": decision.source if isinstance(decision, Decision) else None,
            "prompt": task.request.prompt,
        }


def _outgoing(attempt: Any) -> dict[str, Any]:
    """A webhook attempt as a journal entry: method ``WEBHOOK``, the receiver's URL as path,
    status 0 when there was no answer."""
    return {
        "method": "WEBHOOK",
        "path": attempt.url,
        "status": attempt.status or 0,
        "duration_ms": attempt.duration_ms,
        "owner": None,
        "headers": [list(pair) for pair in attempt.headers],
        "event": attempt.event,
        "event_id": attempt.event_id,
        "outcome": attempt.outcome,
    }


# The control plane's bodies are small JSON documents.
_BODY_LIMIT = 1024 * 1024
_BODY_TIMEOUT = 10.0


async def _json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    body = await read_body(request, _BODY_LIMIT, _BODY_TIMEOUT)
    if optional and not body.strip():
        return {}
    payload = decode_json(body)
    if not isinstance(payload, dict):
        raise InvalidRequest.single("body", "type", "body: must be a JSON object")
    return payload


def _int(value: str | None, name: str, *, default: int | None) -> Any:
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):
        raise InvalidRequest.single(name, "type", f"{name}: must be a whole number")
    return int(value)
