"""Dialects: each spelling, each shape, reproducible randomness, and the contract kept."""

from __future__ import annotations

import random
from typing import Any, get_args

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockserver.domain.behaviour import (
    DIALECT_PROFILES,
    CreateStatus,
    Dialect,
    ErrorBody,
    ErrorPlacement,
    StatusVocabulary,
    TimestampFormat,
)
from mockserver.domain.contract import load_contract
from mockserver.domain.paths import result_path
from mockserver.domain.tasks import Failure, Status, TaskState
from mockserver.server import wire
from mockserver.server.dialects import (
    NIL_UUID,
    SPELLINGS,
    Speaker,
    z_timestamp,
)

TASK_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
BASE = "https://wan-mock.test"
TOKEN = "0123456789abcdef0123456789abcdef"  # what a link's token looks like (domain/links.py)
VIDEO = BASE + result_path(TASK_ID, TOKEN)
CREATED = 1789978992.657134  # 2026-09-21T08:23:12.657134+00:00, the observed example
FAILURE = Failure(3005, "External service execution failed", "prompt violates the policy")
EXTRA = {"field": "duration", "rule": "enum", "errors": [{"field": "duration", "rule": "enum"}]}
CHAOS = DIALECT_PROFILES["chaos"]


def state(status: Status, updated: float = CREATED + 2) -> TaskState:
    failure = FAILURE if status is Status.FAILED else None
    return TaskState(TASK_ID, status, CREATED, updated, failure)


def validator(name: str) -> Any:
    schema = {"$ref": f"#/components/schemas/{name}", "components": load_contract()["components"]}
    return jsonschema_rs.validator_for(schema, validate_formats=True)


ENVELOPE, ERROR = validator("TaskEnvelope"), validator("Error")
STATUS_ENUM = load_contract()["components"]["schemas"]["TaskStatus"]["enum"]


# Status spellings


@pytest.mark.parametrize(
    ("vocabulary", "expected"),
    [
        ("default", ["pending", "running", "succeeded", "failed"]),
        ("legacy", ["pending", "processing", "completed", "failed"]),
        ("queued", ["queued", "running", "succeeded", "failed"]),
    ],
)
def test_each_vocabulary_spells_each_status(
    vocabulary: StatusVocabulary, expected: list[str]
) -> None:
    speaker = Speaker(Dialect(statuses=vocabulary))
    assert [speaker.status(status) for status in Status] == expected


def test_every_documented_spelling_is_in_the_contract_and_nothing_else() -> None:
    assert sorted(s for names in SPELLINGS.values() for s in names) == sorted(STATUS_ENUM)


@pytest.mark.parametrize("status", list(Status))
def test_mixed_uses_only_the_states_spellings_and_varies(status: Status) -> None:
    speaker = Speaker(Dialect(statuses="mixed"), random.Random(3))
    seen = {speaker.status(status) for _ in range(200)}
    assert seen == set(SPELLINGS[status])
    assert len(seen) == (1 if status is Status.FAILED else 2)


def test_mixed_is_reproducible_by_seed() -> None:
    def spell(seed: int) -> list[str]:
        speaker = Speaker(Dialect(statuses="mixed"), random.Random(seed))
        return [speaker.status(status) for status in list(Status) * 50]

    assert spell(11) == spell(11)
    assert spell(11) != spell(12)


# Timestamps


@pytest.mark.parametrize(
    ("seconds", "observed", "z"),
    [
        (CREATED, "2026-09-21T08:23:12.657134+00:00", "2026-09-21T08:23:12Z"),
        (1699335116.0, "2023-11-07T05:31:56.000000+00:00", "2023-11-07T05:31:56Z"),
        # z truncates where the observed format rounds up into the next second
        (1699335116.9999996, "2023-11-07T05:31:57.000000+00:00", "2023-11-07T05:31:56Z"),
        (0.5, "1970-01-01T00:00:00.500000+00:00", "1970-01-01T00:00:00Z"),
    ],
)
def test_timestamp_formats(seconds: float, observed: str, z: str) -> None:
    assert Speaker(Dialect()).timestamp(seconds) == observed
    assert Speaker(Dialect(timestamps="z")).timestamp(seconds) == z == z_timestamp(seconds)


@given(st.lists(st.floats(0, 4e9, allow_nan=False), min_size=2, max_size=20))
def test_timestamps_keep_order(moments: list[float]) -> None:
    moments.sort()
    for fmt in ("observed", "z"):
        speaker = Speaker(Dialect(timestamps=fmt))
        stamps = [speaker.timestamp(moment) for moment in moments]
        assert stamps == sorted(stamps)


def test_random_timestamps_use_both_formats_reproducibly() -> None:
    def stamps(seed: int) -> list[str]:
        speaker = Speaker(Dialect(timestamps="random"), random.Random(seed))
        return [speaker.timestamp(CREATED) for _ in range(100)]

    assert set(stamps(5)) == {"2026-09-21T08:23:12.657134+00:00", "2026-09-21T08:23:12Z"}
    assert stamps(5) == stamps(5)


def test_one_envelope_uses_one_timestamp_format() -> None:
    speaker = Speaker(Dialect(timestamps="random"), random.Random(1))
    for _ in range(100):
        info = speaker.envelope(state(Status.RUNNING), None)["task_info"]
        assert info["created_at"].endswith("Z") == info["updated_at"].endswith("Z")


# Create status


@pytest.mark.parametrize("code", [202, 200])
def test_fixed_create_status(code: CreateStatus) -> None:
    assert Speaker(Dialect(create_status=code)).create_status() == code


def test_random_create_status_is_either_and_reproducible() -> None:
    def codes(seed: int) -> list[int]:
        speaker = Speaker(Dialect(create_status=0), random.Random(seed))
        return [speaker.create_status() for _ in range(100)]

    assert set(codes(2)) == {200, 202}
    assert codes(2) == codes(2)


# Envelopes


def test_default_dialect_bytes_are_the_observed_shape() -> None:
    speaker = Speaker(Dialect())
    task = state(Status.SUCCEEDED, CREATED + 61.5)
    created, updated = wire.timestamp(CREATED), wire.timestamp(CREATED + 61.5)
    expected = (
        f'{{"task_info":{{"id":"{task.id}","status":"succeeded","created_at":"{created}",'
        f'"updated_at":"{updated}"}},"videos":["{VIDEO}"]}}'
    ).encode()
    assert wire.JSONResponse(speaker.envelope(task, VIDEO)).body == expected


def test_fixed_dialects_never_draw_from_the_random_source() -> None:
    rng = random.Random(9)
    before = rng.getstate()
    for name in ("default", "legacy", "queued"):
        speaker = Speaker(DIALECT_PROFILES[name], rng)
        assert not speaker.random
        for status in Status:
            speaker.envelope(state(status), None)
            speaker.error_body(2001, "Invalid Request", "duration: bad", EXTRA, now=CREATED)
            speaker.create_status()
    assert rng.getstate() == before


def test_a_random_dialect_needs_a_random_source() -> None:
    with pytest.raises(ValueError, match="random"):
        Speaker(Dialect(error_body="random"))
    assert Speaker(CHAOS, random.Random(0)).random


TASK_INFO_ERROR = {"code": 3005, "title": FAILURE.title, "detail": FAILURE.detail}
TOP_LEVEL_ERROR = {"error_code": 3005, "title": FAILURE.title, "detail": FAILURE.detail}


@pytest.mark.parametrize(
    ("placement", "in_task_info", "top_level"),
    [
        ("task_info", True, False),
        ("top_level", False, True),
        ("both", True, True),
    ],
)
def test_error_placements(placement: ErrorPlacement, in_task_info: bool, top_level: bool) -> None:
    body = Speaker(Dialect(error_placement=placement)).envelope(state(Status.FAILED), None)
    assert body["task_info"]["status"] == "failed"
    assert body["task_info"].get("error") == (TASK_INFO_ERROR if in_task_info else None)
    assert body.get("error") == (TOP_LEVEL_ERROR if top_level else None)
    assert "videos" not in body


def test_random_placement_varies_and_only_failed_tasks_carry_errors() -> None:
    speaker = Speaker(Dialect(error_placement="random"), random.Random(4))
    keys = set()
    for _ in range(100):
        body = speaker.envelope(state(Status.FAILED), None)
        keys.add((tuple(body), tuple(body["task_info"])))
    assert len(keys) == 3
    for status in (Status.PENDING, Status.RUNNING, Status.SUCCEEDED):
        body = speaker.envelope(state(status), VIDEO if status is Status.SUCCEEDED else None)
        assert "error" not in body
        assert "error" not in body["task_info"]


def test_videos_exactly_when_a_url_is_given() -> None:
    speaker = Speaker(Dialect())
    assert speaker.envelope(state(Status.SUCCEEDED), VIDEO)["videos"] == [VIDEO]
    assert "videos" not in speaker.envelope(state(Status.SUCCEEDED), None)


# Error bodies


def test_error_body_shapes() -> None:
    def body(shape: ErrorBody, extra: dict[str, Any] | None = EXTRA) -> dict[str, Any]:
        return Speaker(Dialect(error_body=shape)).error_body(
            2001, "Invalid Request", "duration: 7 is not one of [5, 10, 15]", extra, now=CREATED
        )

    detail = "duration: 7 is not one of [5, 10, 15]"
    plain = {"error_code": 2001, "title": "Invalid Request", "detail": detail}
    assert body("default") == {**plain, **EXTRA}
    assert body("default", None) == plain
    assert body("detail") == {"detail": detail}
    assert body("envelope") == {
        "task_info": {
            "id": NIL_UUID,
            "status": "failed",
            "created_at": "2026-09-21T08:23:12.657134+00:00",
            "updated_at": "2026-09-21T08:23:12.657134+00:00",
            "error": {"code": 2001, "title": "Invalid Request", "detail": detail, **EXTRA},
        }
    }


def test_random_error_bodies_vary_and_are_reproducible() -> None:
    def shapes(seed: int) -> list[tuple[str, ...]]:
        speaker = Speaker(Dialect(error_body="random"), random.Random(seed))
        return [tuple(speaker.error_body(2005, "Task Not Found", "gone", now=0)) for _ in range(60)]

    assert set(shapes(8)) == {("error_code", "title", "detail"), ("detail",), ("task_info",)}
    assert shapes(8) == shapes(8)


# The contract holds for every dialect, state and seed

dialects = st.one_of(
    st.sampled_from(list(DIALECT_PROFILES.values())),
    st.builds(
        Dialect,
        statuses=st.sampled_from(get_args(StatusVocabulary)),
        error_body=st.sampled_from(get_args(ErrorBody)),
        timestamps=st.sampled_from(get_args(TimestampFormat)),
        create_status=st.sampled_from(get_args(CreateStatus)),
        error_placement=st.sampled_from(get_args(ErrorPlacement)),
    ),
)
failures = st.builds(Failure, st.integers(1, 9999), st.text(max_size=30), st.text(max_size=30))


@st.composite
def states(draw: st.DrawFn) -> TaskState:
    status = draw(st.sampled_from(list(Status)))
    created = draw(st.floats(0, 4e9, allow_nan=False))
    updated = created + draw(st.sampled_from([0.0, 0.4, 1.0, 3600.25]))
    failure = draw(failures) if status is Status.FAILED else None
    return TaskState(str(draw(st.uuids())), status, created, updated, failure)


@given(dialects, st.lists(states(), min_size=1, max_size=8), st.integers(0, 2**32))
def test_every_answer_keeps_the_contract(
    dialect: Dialect, tasks: list[TaskState], seed: int
) -> None:
    def run(seed: int) -> list[Any]:
        speaker = Speaker(dialect, random.Random(seed))
        answers: list[Any] = []
        for task in tasks * 3:
            url = BASE + result_path(task.id, TOKEN) if task.succeeded else None
            body = speaker.envelope(task, url)
            ENVELOPE.validate(body)
            info = body["task_info"]
            assert info["status"] in SPELLINGS[task.status]
            assert info["created_at"] <= info["updated_at"]
            error = speaker.error_body(2001, "Invalid Request", "prompt: is required", EXTRA, now=0)
            ERROR.validate(error)
            if "task_info" in error:
                ENVELOPE.validate(error)
            answers += [body, error, speaker.create_status()]
        assert set(answers[2::3]) <= {200, 202}
        return answers

    assert run(seed) == run(seed)
