"""Schemathesis against the fake, in process, straight from ``contracts/openapi.yaml``.

Every built-in check runs (``checks.enabled = true``): server errors, status codes, content
types, response headers and schemas, positive data acceptance, negative data rejection, ignored
auth, missing required headers, unsupported methods, and the stateful checks. Positive and
negative data are separate tests so a failure names the kind of data at fault; a bounded stateful
run follows the contract's link from create to get.

The fake checks more than JSON Schema can say (real decodable images, http(s) URLs, audio file
types), so the contract's custom ``image-ref`` and ``audio-ref`` formats get strategies that
produce inputs the API accepts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from mockserver import ManualClock, Settings, create_app
from mockserver.testing.strategies import MEDIA_TYPES, audio_urls, encode_image, image_refs
from tests.helpers import AUTH, CREATE_PATH, body

CONTRACT = Path(__file__).resolve().parent.parent / "contracts" / "openapi.yaml"
API_KEY = AUTH["Authorization"].removeprefix("Bearer ")
GET_LABEL = f"GET {CREATE_PATH}/{{task_id}}"

# Bounded runs: about 10 s for the whole file on two cores.
EXAMPLES = 25
STATEFUL = settings(
    max_examples=12,
    stateful_step_count=5,
    deadline=None,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)

# --- input strategies for the contract's formats -------------------------------------------------

# The package's own strategies: real images (both boundaries, every allowed format, bare or data
# URI, each encoded once) and http(s) URLs.
schemathesis.openapi.format("image-ref", image_refs())
schemathesis.openapi.format("audio-ref", audio_urls())


# --- schemas and apps ----------------------------------------------------------------------------


def _schema(mode: str, app: Any) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": 2026,
            "checks": {"enabled": True},
            "generation": {"mode": mode, "max-examples": EXAMPLES},
            "auth": {"openapi": {"bearerAuth": {"bearer": API_KEY}}},
        }
    )
    schema = schemathesis.openapi.from_path(CONTRACT, config=config)
    schema.app = app
    return schema


def _app(clock: ManualClock, *, seed: int, failure_rate: float = 0.0) -> Any:
    # Only API_KEY is valid, so that the ignored_auth check sees made-up keys refused with 401.
    return create_app(
        Settings(seed=seed, api_keys=(API_KEY,), failure_rate=failure_rate), clock=clock
    )


CaseTest = Callable[[Any], None]


def _parametrize(schema: Any) -> Callable[[CaseTest], CaseTest]:
    """``schema.parametrize()``, typed (the decorator keeps the test's signature)."""
    return cast("Callable[[CaseTest], CaseTest]", schema.parametrize())


positive_schema = _schema("positive", _app(ManualClock(), seed=11))
negative_schema = _schema("negative", _app(ManualClock(), seed=12))


@_parametrize(positive_schema)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_positive_data_is_accepted_and_answered_as_documented(case: Any) -> None:
    case.call_and_validate()


@_parametrize(negative_schema)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_negative_data_is_rejected_as_documented(case: Any) -> None:
    case.call_and_validate()


# --- stateful: create, then follow the link to get -----------------------------------------------

_clock = ManualClock()
stateful_schema = _schema("all", _app(_clock, seed=13, failure_rate=0.3))


class LinkedWorkflow(stateful_schema.as_state_machine()):  # type: ignore[misc]
    """Time moves 1.5 s per call, so polled tasks go pending -> running -> succeeded/failed."""

    seen: ClassVar[Counter[tuple[str, int, str | None]]] = Counter()

    def before_call(self, case: Any) -> None:
        _clock.advance(1.5)

    def after_call(self, response: Any, case: Any) -> None:
        super().after_call(response, case)
        status = None
        if response.status_code in (200, 202):
            status = response.json()["task_info"]["status"]
        self.seen[(case.operation.label, response.status_code, status)] += 1


def test_stateful_create_then_get_through_the_link() -> None:
    LinkedWorkflow.seen.clear()
    LinkedWorkflow.run(settings=STATEFUL)
    polled = {status for (label, code, status) in LinkedWorkflow.seen if label == GET_LABEL}
    # The link was followed: tasks created in the run were found, and seen in motion.
    assert polled - {None}, LinkedWorkflow.seen
    assert polled & {"running", "succeeded", "failed"}, LinkedWorkflow.seen


# --- any string in a reference field: 202 or 400, never a server error ---------------------------

_create = positive_schema[CREATE_PATH]["POST"]
_any_refs = st.one_of(
    st.text(max_size=40),
    st.builds(
        "{}{}".format,
        st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "data:", "data:image/png,"]),
        st.text(max_size=40),
    ),
    st.builds(
        "{}://{}/a.{}".format,
        st.sampled_from(["http", "https"]),
        st.sampled_from(
            ["[::1", "[::1]", "[v1.x]", "a:99999", "a:port", "u@h", "a\uff03b", "", "ex ample.com"]
        ),
        st.sampled_from(["jpg", "mp3"]),
    ),
)


@given(field=st.sampled_from(["image", "last_frame", "audio_url"]), value=_any_refs)
@example(field="image", value="http://[::1/first_frame.jpg")
@example(field="last_frame", value="https://[::1/last_frame.jpg")
@example(field="audio_url", value="http://[::1/track.mp3")
@example(field="image", value="http://exa\uff03mple.com/first_frame.jpg")
@settings(max_examples=60, deadline=None)
def test_any_string_in_a_reference_field_gets_a_documented_answer(field: str, value: str) -> None:
    case = _create.Case(body=body(**{field: value}), headers=dict(AUTH))
    response = case.call()
    assert response.status_code in (202, 400), (response.status_code, response.text)
    # The body is schema-valid whatever the string, so the checks hold the answer to the contract;
    # whether the fake accepts this string is the fake's business, not the schema's.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])


@pytest.mark.parametrize("fmt", list(MEDIA_TYPES))
def test_generated_images_are_what_the_fake_accepts(fmt: str) -> None:
    """The strategy's extremes (both boundaries, each format) really are acceptable inputs."""
    for size in [(360, 360), (2000, 2000), (360, 2000), (2000, 360)]:
        for value in (encode_image(fmt, size), encode_image(fmt, size, "data-uri")):
            case = _create.Case(body=body(image=value, last_frame=value), headers=dict(AUTH))
            response = case.call()
            assert response.status_code == 202, response.text
