"""The lifecycle half of a run: create tasks (within budget), poll them to the end, and hold
every answer to the rules schemathesis cannot see across requests.

Schemathesis judges one response at a time and cannot poll a task to completion, so this is
our own state tracking: each task's statuses, timestamps, ``videos`` and ``error`` are checked
on every poll against what came before. Polls are paced by the run's interval, and any
``Retry-After`` is obeyed by the target before the next request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from mockserver.conformance.budget import BudgetExceeded
from mockserver.conformance.fuzzing import CREATE, GET, Contract
from mockserver.conformance.results import Tally
from mockserver.conformance.target import NoAnswer, Target
from mockserver.conformance.target import parse_json as body_of
from mockserver.domain.paths import GENERATION_PATH

# The documented lifecycle: every spelling of each step, ranked. Terminal steps share rank 2.
RANK = {"pending": 0, "queued": 0, "running": 1, "processing": 1}
RANK |= {"succeeded": 2, "completed": 2, "failed": 2}
SUCCEEDED = frozenset({"succeeded", "completed"})
SCENARIO_HEADER = "X-Wan-Mock-Scenario"
LATE_ROUNDS = 3  # rounds of polls past the deadline, for a task whose end is in doubt
# The cheapest task there is (720P, 5 s, silent): on the live API it is billed, and a fake that
# renders real videos renders this one fastest.
BODY = {
    "prompt": "wan-mock contract suite",
    "image": "https://example.com/first_frame.jpg",
    "resolution": "720P",
    "duration": 5,
    "audio": False,
}


@dataclass
class Tracked:
    id: str
    scenario: str | None
    history: list[str] = field(default_factory=list)
    created_at: Stamp | None = None
    updated_at: Stamp | None = None
    terminal: str | None = None
    polls_after_end: int = 0
    waiting_out: bool = False  # a 429/503 was answered; polling must go on after the wait
    lost: str | None = None  # why this task cannot be followed (its polls answer another id)
    read: bool = False  # a poll has answered 200
    next_poll: float = 0.0  # monotonic time of its next poll between other requests

    @property
    def done(self) -> bool:
        # Seen once more after the end (it must stay there), or not to be followed any more.
        return self.polls_after_end >= 1 or self.lost is not None


@dataclass
class Lifecycle:
    target: Target
    contract: Contract
    tally: Tally
    interval: float
    deadline: float
    other_token: str | None
    # Moves a fake's clock between rounds; False when the fake refused (then time is waited).
    advance: Callable[[float], bool] | None = None
    progress: Any = None
    tasks: list[Tracked] = field(default_factory=list)
    kept_back: str | None = None  # why a create was not sent (the budget's words)
    deadline_note: str = ""  # how the deadline was chosen, when it was not given
    _late: int = 0  # rounds polled past the deadline

    started: float | None = None  # when the first create was sent: the deadline runs from it

    def start(self, scenarios: list[str | None]) -> None:
        """Create the tasks. The run does its other work while they progress, then follows
        them (:meth:`follow`): a task's wait overlaps the rest of the run."""
        self.started = time.monotonic()
        for scenario in scenarios:
            try:
                self._create(scenario)
            except BudgetExceeded as exc:
                self.kept_back = str(exc)
                break
            except NoAnswer:
                continue  # contract.answers_in_time has failed already

    def tick(self) -> None:
        """Poll each task whose turn has come (one ``interval`` since its last poll): called
        between the run's other requests (``Target.between``), so a task is followed while the
        rest of the run goes on. A fake whose clock the run moves is followed in :meth:`follow`
        only, where the clock moves."""
        if self.advance is not None:
            return
        for task in self.tasks:
            if not task.done and time.monotonic() >= task.next_poll:
                self._poll(task)

    def follow(self) -> None:
        """Poll every task to its end, or until ``deadline`` seconds after :meth:`start`. On a
        fake whose clock the run moves, tasks progress only here: the deadline starts here."""
        step, rounds = 1.0, 0
        origin = self.started if self.advance is None else None
        ends = (origin if origin is not None else time.monotonic()) + self.deadline
        while self._keep_following(rounds, ends):
            moved = False
            if self.advance is not None:
                # Growing steps: one second first, so every task of a fast fake is seen
                # running (its queue is shorter, its render longer), then up to a minute, so a
                # fake with realistic timing finishes in a few rounds.
                moved = self.advance(step)
                step = min(step * 1.5, 60.0)
            if rounds and not moved:  # a moved clock is not waited for
                time.sleep(self.interval)
            rounds += 1
            for task in self.tasks:
                if not task.done:
                    self._poll(task)
            if self.progress is not None:
                waiting = ", ".join(
                    f"{t.id} {t.history[-1] if t.history else 'unseen'}"
                    for t in self.tasks
                    if not t.done
                )
                self.progress.step(
                    sum(t.done for t in self.tasks), len(self.tasks), f"waiting: {waiting}"
                )
        for task in self.tasks:
            last = task.history[-1] if task.history else "nothing"
            if task.lost is not None:
                self.tally.not_exercised("lifecycle.reaches_terminal", task.id, task.lost)
                continue
            self.tally.check(
                "lifecycle.reaches_terminal",
                task.terminal is not None,
                f"task {task.id} still {last!r} after the {self.deadline:g} s deadline "
                f"(--deadline{self.deadline_note})",
            )
            self.target.observer.seen.status_sequences.append(_runs(task.history))

    def _keep_following(self, rounds: int, ends: float) -> bool:
        """Another round of polls? Every task is polled at least once, however late. Past the
        deadline, a few more rounds (LATE_ROUNDS) only while a task is unsettled: seen ending
        but not yet seen to stay there, or never read by a poll (its polls were throttled)."""
        waiting = [t for t in self.tasks if not t.done]
        if not waiting or rounds == 0 or time.monotonic() < ends:
            return bool(waiting)
        self._late += 1
        unsettled = any(t.terminal is not None or not t.read for t in waiting)
        return unsettled and self._late <= LATE_ROUNDS

    def _create(self, scenario: str | None) -> None:
        headers = self.target.auth()
        if scenario is not None:
            headers[SCENARIO_HEADER] = scenario
        for _ in range(3):  # a 429 or 503 is waited out (Retry-After), then tried again
            response = self.target.call("POST", GENERATION_PATH, headers=headers, json=BODY)
            self.contract.validate(CREATE, response, body=BODY)
            if response.status_code not in (429, 503):
                break
        body = body_of(response)
        info = body.get("task_info") if isinstance(body, dict) else None
        if response.status_code >= 300 or not isinstance(info, dict) or "id" not in info:
            detail = f"create -> {response.status_code}, no task envelope"
            self.tally.fail("lifecycle.reaches_terminal", detail, response)
            return
        task = Tracked(id=str(info["id"]), scenario=scenario)
        self.tasks.append(task)
        self._inspect(task, body, response)
        self._foreign(task)

    def _foreign(self, task: Tracked) -> None:
        if self.other_token is None:
            self.tally.skip("lookup.foreign_task_404", "no second key (--other-token-env)")
            return
        path = f"{GENERATION_PATH}/{task.id}"
        try:
            response = self.target.call("GET", path, headers=self.target.auth(self.other_token))
        except NoAnswer:
            return
        if response.status_code == 401:
            self.tally.skip("lookup.foreign_task_404", "the target refused the second key (401)")
            return
        self.contract.validate(GET, response, task_id=task.id)
        self.tally.check(
            "lookup.foreign_task_404",
            response.status_code == 404,
            f"task {task.id} polled with another key -> {response.status_code}, expected 404",
            response,
        )

    def _poll(self, task: Tracked) -> None:
        task.next_poll = time.monotonic() + self.interval
        path = f"{GENERATION_PATH}/{task.id}"
        try:
            response = self.target.call("GET", path, headers=self.target.auth())
        except NoAnswer:
            return  # contract.answers_in_time has failed already
        self.contract.validate(GET, response, task_id=task.id)
        if response.status_code in (429, 503):
            value = response.headers.get("retry-after", "")
            task.waiting_out = self.tally.check(
                "lifecycle.retry_after",
                value.strip().isdigit(),
                f"GET {path} -> {response.status_code} with Retry-After {value!r}",
                response,
            )
            return
        if response.status_code != 200:
            return  # the contract checks above judged it
        task.read = True
        if task.waiting_out:
            task.waiting_out = False
            self.tally.ok("lifecycle.retry_after")  # the wait was taken and polling went on
        info = body_of(response)
        info = info.get("task_info") if isinstance(info, dict) else None
        answered = info.get("id") if isinstance(info, dict) else None
        if not self.tally.check(
            "lifecycle.polled_id_matches",
            answered == task.id,
            f"GET {path} answered with task id {answered!r}",
            response,
        ):
            # Another task's state says nothing about this one, and waiting longer cannot
            # tell more: the task is not followed further (and its end is not judged).
            task.lost = f"its poll answered with task id {answered!r}"
            return
        self._inspect(task, body_of(response), response)

    def _inspect(self, task: Tracked, body: Any, response: Any = None) -> None:
        info = body.get("task_info") if isinstance(body, dict) else None
        if not isinstance(info, dict) or not isinstance(info.get("status"), str):
            reason = f"task {task.id}: no task_info.status"
            self.tally.fail("lifecycle.known_statuses", reason, response)
            return
        status, where = info["status"], f"task {task.id}"
        before = task.history[-1] if task.history else None
        task.history.append(status)
        if not self.tally.check(
            "lifecycle.known_statuses",
            status in RANK,
            f"{where}: unknown status {status!r}",
            response,
        ):
            return
        if before in RANK:
            self.tally.check(
                "lifecycle.forward_only",
                RANK[status] >= RANK[before],
                f"{where}: {before!r} -> {status!r}",
                response,
            )
        if task.terminal is not None:
            task.polls_after_end += 1
            self.tally.check(
                "lifecycle.terminal_stays",
                (status in SUCCEEDED) == (task.terminal in SUCCEEDED) and RANK[status] == 2,
                f"{where}: terminal {task.terminal!r} became {status!r}",
                response,
            )
        self._timestamps(task, info, response)
        succeeded, failed = status in SUCCEEDED, status == "failed"
        videos = body.get("videos")
        has_videos = isinstance(videos, list) and len(videos) > 0
        self.tally.check(
            "lifecycle.videos_iff_succeeded",
            has_videos == succeeded,
            f"{where}: status {status!r} with{'' if has_videos else 'out'} videos",
            response,
        )
        has_error = "error" in info or "error" in body
        self.tally.check(
            "lifecycle.error_iff_failed",
            has_error == failed,
            f"{where}: status {status!r} with{'' if has_error else 'out'} an error",
            response,
        )
        if RANK[status] == 2 and task.terminal is None:
            task.terminal = status
            self._record_time(task, status)
            if succeeded and has_videos:
                for url in videos:
                    self._download(task, str(url))

    def _timestamps(self, task: Tracked, info: dict[str, Any], response: Any) -> None:
        where = f"task {task.id}"
        try:
            created = _stamp(info["created_at"])
            updated = _stamp(info["updated_at"])
        except (KeyError, TypeError, ValueError) as exc:
            reason = f"{where}: unreadable ({exc!r})"
            self.tally.fail("lifecycle.timestamps_ordered", reason, response)
            return
        problems = [
            f"{name} {stamp} has no UTC offset"
            for name, stamp in (("created_at", created), ("updated_at", updated))
            if stamp.tzinfo is None
        ]
        if problems:  # a naive time cannot be ordered against an aware one
            self.tally.fail("lifecycle.timestamps_ordered", f"{where}: {problems}", response)
            return
        if _before(updated, created):
            problems.append(f"created_at {created} after updated_at {updated}")
        if task.created_at is not None and not _same(created, task.created_at):
            problems.append(f"created_at changed from {task.created_at} to {created}")
        if task.updated_at is not None and _before(updated, task.updated_at):
            problems.append(f"updated_at went back from {task.updated_at} to {updated}")
        self.tally.check(
            "lifecycle.timestamps_ordered", not problems, f"{where}: {problems}", response
        )
        task.created_at, task.updated_at = created, updated

    def _record_time(self, task: Tracked, status: str) -> None:
        if task.created_at is not None and task.updated_at is not None:
            seconds = (task.updated_at - task.created_at).total_seconds()
            self.target.observer.seen.task_seconds.setdefault(status, []).append(seconds)

    def _download(self, task: Tracked, url: str) -> None:
        response = None
        try:
            with self.target.http.stream("GET", url) as response:
                head = next(response.iter_bytes(4096), b"")
                kind = response.headers.get("content-type", "")
                ok = response.status_code == 200 and kind.startswith("video/mp4")
                ok = ok and head[4:8] == b"ftyp"
                reason = f"{url} -> {response.status_code} {kind!r}, starts {head[:12]!r}"
        except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as exc:
            # The link is the target's: unreachable, or not even a URL httpx can address.
            ok, reason = False, f"{url}: {exc!r}"
        self.tally.check("lifecycle.video_downloads", ok, f"task {task.id}: {reason}", response)


class Stamp(datetime):
    """A timestamp that remembers whether it was written with a fraction of a second."""

    whole: bool = False


def _stamp(value: object) -> Stamp:
    if not isinstance(value, str):
        raise TypeError(f"not a string: {value!r}")
    p = datetime.fromisoformat(value)
    stamp = Stamp(p.year, p.month, p.day, p.hour, p.minute, p.second, p.microsecond, p.tzinfo)
    stamp.whole = "." not in value
    return stamp


def _coarse(a: Stamp, b: Stamp) -> tuple[datetime, datetime]:
    """Both at the precision of the coarser: a whole-second stamp of the same moment as a
    precise one is the same time, written differently (truncated, never rounded up)."""
    if a.whole or b.whole:
        return a.replace(microsecond=0), b.replace(microsecond=0)
    return a, b


def _same(a: Stamp, b: Stamp) -> bool:
    left, right = _coarse(a, b)
    return left == right


def _before(a: Stamp, b: Stamp) -> bool:
    left, right = _coarse(a, b)
    return left < right


def _runs(history: list[str]) -> list[str]:
    """``history`` without repeats in a row: the path a task took."""
    return [s for i, s in enumerate(history) if i == 0 or history[i - 1] != s]
