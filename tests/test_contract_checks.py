"""The checks added for bugs found in targets the project did not write: a poll answering with
another task, two creates given one id, a value between an enum's allowed values accepted,
a 500 on malformed JSON (sent on every run, whatever the seed), a task that never ends
(``deadline``, with progress lines while it waits), and the pacing a run is allowed."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator

import pytest

from mockserver import Settings
from mockserver.conformance import Report, RunOptions, make_plan, run
from mockserver.conformance.plans import default_deadline
from mockserver.conformance.probes import enum_neighbours
from mockserver.conformance.progress import Progress
from mockserver.testing.server import ServerThread
from tests.broken import Answer
from tests.contract_proxy import CREATE_PATH, Exchange, Proxy

TOKEN = "checks-test-token-c0de"
QUICK = {"examples": 2, "deadline": 5.0, "min_gap": 0.0}  # the fake's tasks end by its clock


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[ServerThread, Proxy]]:
    with ServerThread(Settings(access_log=False)) as server:
        proxy = Proxy(server.app, TOKEN)
        server.catcher.app = proxy
        yield server, proxy


def _run(
    target: tuple[ServerThread, Proxy],
    bug: Callable[[Exchange, Answer], None],
    progress: Progress | None = None,
    **options: object,
) -> Report:
    server, proxy = target
    proxy.use(bug)
    try:
        return run(RunOptions(server.base_url, TOKEN, **{**QUICK, **options}), progress)  # type: ignore[arg-type]
    finally:
        proxy.use()


def _info(answer: Answer) -> dict[str, object]:
    info = answer.body.get("task_info") if isinstance(answer.body, dict) else None
    return info if isinstance(info, dict) else {}


def poll_answers_another_id(exchange: Exchange, answer: Answer) -> None:
    if exchange.method == "GET" and exchange.path.startswith(CREATE_PATH + "/") and _info(answer):
        _info(answer)["id"] = str(uuid.UUID(int=7))


def creates_share_one_id(exchange: Exchange, answer: Answer) -> None:
    if exchange.method == "POST" and answer.status < 300 and _info(answer):
        _info(answer)["id"] = str(uuid.UUID(int=8))


def duration_7_accepted(exchange: Exchange, answer: Answer) -> None:
    body = exchange.json()
    if exchange.method == "POST" and isinstance(body, dict) and body.get("duration") == 7:
        stamp = "2026-01-01T00:00:00.000000+00:00"
        info = {"id": str(uuid.uuid4()), "status": "pending"}
        answer.status = 202
        answer.body = {"task_info": {**info, "created_at": stamp, "updated_at": stamp}}


def server_error_on_malformed_json(exchange: Exchange, answer: Answer) -> None:
    if exchange.method == "POST" and exchange.body and exchange.json() is None:
        answer.status, answer.body = 500, {"detail": "Internal Server Error"}


def naive_timestamps(exchange: Exchange, answer: Answer) -> None:
    info = _info(answer)
    for name in ("created_at", "updated_at"):
        if isinstance(info.get(name), str):
            info[name] = str(info[name]).split("+")[0]


def error_without_detail(exchange: Exchange, answer: Answer) -> None:
    if answer.status >= 400:
        answer.body = {"error_code": answer.status}


def create_throttled_without_retry_after(exchange: Exchange, answer: Answer) -> None:
    body = exchange.json()
    first = not answer.seen.get("throttled")
    if exchange.method == "POST" and isinstance(body, dict) and body.get("duration") == 5 and first:
        answer.seen["throttled"] = 1
        answer.status, answer.body = 429, {"detail": "Too many requests"}
        answer.headers.pop("retry-after", None)


def create_answered_200(exchange: Exchange, answer: Answer) -> None:
    if exchange.method == "POST" and answer.status == 202:
        answer.status = 200


def never_finishes(exchange: Exchange, answer: Answer) -> None:
    info = _info(answer)
    if exchange.method == "GET" and info.get("status") in ("succeeded", "failed"):
        info["status"] = "running"
        info.pop("error", None)
        answer.body.pop("videos", None)


@pytest.mark.parametrize(
    ("bug", "caught_by", "reason"),
    [
        (poll_answers_another_id, "lifecycle.polled_id_matches", "answered with task id"),
        (creates_share_one_id, "lifecycle.distinct_ids", "was given to two creates"),
        (duration_7_accepted, "rules.every_rule_rejected", "duration = 7:"),
        (server_error_on_malformed_json, "rules.malformed_rejected", "malformed JSON: POST"),
        (naive_timestamps, "lifecycle.timestamps_ordered", "has no UTC offset"),
        (error_without_detail, "contract.error_explained", "{error_code}: nothing says why"),
        (create_throttled_without_retry_after, "lifecycle.retry_after", "-> 429 with Retry-After"),
        (create_answered_200, "lifecycle.accepted_202", "accepted with 200; the documented"),
    ],
)
def test_each_bug_is_caught_by_its_check(
    target: tuple[ServerThread, Proxy],
    bug: Callable[[Exchange, Answer], None],
    caught_by: str,
    reason: str,
) -> None:
    report = _run(target, bug)
    failed = {c.name: c for c in report.failures()}
    assert caught_by in failed, [c.name for c in report.failures()]
    assert any(reason in r for r in failed[caught_by].reasons), failed[caught_by].reasons
    assert failed[caught_by].curls, "a failure carries the request that shows it"


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_malformed_bodies_are_sent_whatever_the_seed(
    target: tuple[ServerThread, Proxy], seed: int | None
) -> None:
    report = _run(target, server_error_on_malformed_json, seed=seed, max_creates=0)
    failed = {c.name for c in report.failures()}
    assert {"rules.malformed_rejected", "contract.no_server_error"} <= failed


def test_every_enum_is_probed_between_and_beside_its_values() -> None:
    probes = enum_neighbours()
    durations = sorted(value for field, value in probes if field == "duration")
    assert durations == [4, 6, 7, 8, 9, 11, 12, 13, 14, 16]
    assert ("resolution", "720p") in probes
    assert ("shot_type", "SINGLE") in probes


def test_a_task_that_never_ends_fails_at_the_deadline_with_progress_lines(
    target: tuple[ServerThread, Proxy],
) -> None:
    stream = io.StringIO()
    progress = Progress(stream, env={"CI": "1"}, heartbeat=0.5)
    report = _run(target, never_finishes, progress, deadline=3.0, max_creates=2, examples=0)
    failed = {c.name: c for c in report.failures()}
    assert "lifecycle.reaches_terminal" in failed
    assert "after the 3 s deadline (--deadline)" in failed["lifecycle.reaches_terminal"].reasons[0]
    beats = [line for line in stream.getvalue().splitlines() if "waiting:" in line]
    assert beats
    assert "running" in beats[-1]
    assert TOKEN not in stream.getvalue()


def test_poll_interval_has_a_floor_only_for_billed_targets() -> None:
    billed = make_plan(RunOptions("https://api.example", "k", poll_interval=0.5), live=True)
    assert billed.poll_interval == 5.0
    assert billed.notices == [
        "--poll-interval 0.5 raised to 5 s, the floor for a billed target (declare a target "
        "you own with --free)"
    ]
    free = make_plan(RunOptions("https://staging.example", "k", poll_interval=0.5, free=True), True)
    assert (free.poll_interval, free.min_gap, free.max_creates, free.billed) == (0.5, 0, 200, False)
    assert free.notices == []
    assert make_plan(RunOptions("https://staging.example", "k", free=True), True).poll_interval == 1
    assert not [line for line in free.describe() if "billed" in line]


def test_the_deadline_is_long_only_for_the_vendors_hosts() -> None:
    # Minutes where tasks are known to take minutes; seconds for any other target, so a task
    # stuck in pending is reported within a minute; an explicit --deadline always wins.
    assert default_deadline("https://api.mulerouter.ai", live=True) == 900
    assert default_deadline("https://api.mulerun.com/", live=True) == 900
    assert default_deadline("http://127.0.0.1:4010", live=True) == 30
    assert default_deadline("https://staging.example", live=True) == 30
    assert default_deadline("http://127.0.0.1:8000", live=False) == 60
    given = RunOptions("https://api.mulerouter.ai", "k", deadline=12.0)
    assert make_plan(given, live=True).deadline == 12
