"""The exported hypothesis strategies, held to what the fake really answers."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from PIL import Image
from starlette.testclient import TestClient

from mockserver import Settings
from mockserver.domain.contract import load_contract, request_fields
from mockserver.testing import strategies as wst
from tests.helpers import CREATE_PATH, fake_app

T = TypeVar("T")
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    """One fake for the module: the hypothesis tests share it across their examples."""
    with fake_app(Settings(seed=1, explain_errors=True)) as made:  # the tests read each rule
        yield made.client


def _decode(value: str) -> Image.Image:
    payload = value.split(",", 1)[1] if value.startswith("data:") else value
    return Image.open(io.BytesIO(base64.b64decode(payload)))


@FAST
@given(body=wst.valid_requests())
def test_valid_requests_are_accepted(api: TestClient, body: dict[str, Any]) -> None:
    response = api.post(CREATE_PATH, json=body)
    assert response.status_code == 202, response.text


@FAST
@given(case=wst.invalid_requests())
def test_invalid_requests_are_refused_for_the_tagged_rule(
    api: TestClient, case: tuple[dict[str, Any], str, str]
) -> None:
    body, field, rule = case
    answer = api.post(CREATE_PATH, json=body)
    assert answer.status_code == 400, answer.text
    assert (answer.json()["field"], answer.json()["rule"]) == (field, rule)
    # One rule broken: every violation listed is on that field (a wrong type on an enum field
    # is also reported as an enum violation, after the type).
    assert {error["field"] for error in answer.json()["errors"]} == {field}


def _contract_rules() -> list[tuple[str, str]]:
    request = load_contract()["components"]["schemas"]["GenerationRequest"]
    pairs = [(field, "required") for field in request["required"]]
    for field, keywords in request_fields().items():
        pairs += [(field, k) for k in ("type", "enum", "minLength", "maxLength") if k in keywords]
        pairs += [(field, k) for k in ("minimum", "maximum") if k in keywords]
    content = ("format", "transparency", "dimensions", "size", "base64", "url")
    pairs += [(field, rule) for field in ("image", "last_frame") for rule in content]
    return [*pairs, ("audio_url", "url"), ("audio_url", "extension")]


@pytest.mark.parametrize(("field", "rule"), _contract_rules())
def test_every_rule_of_the_contract_is_covered(api: TestClient, field: str, rule: str) -> None:
    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=wst.invalid_requests(fields=[field], rules=[rule]))
    def check(case: tuple[dict[str, Any], str, str]) -> None:
        answer = api.post(CREATE_PATH, json=case[0]).json()
        assert (answer["field"], answer["rule"]) == (field, rule) == case[1:]

    check()


def test_an_unknown_filter_is_an_error() -> None:
    with pytest.raises(ValueError, match="no rule matches"):
        wst.invalid_requests(rules=["pattern"])


@FAST
@given(
    data=st.data(),
    formats=st.sets(st.sampled_from(["JPEG", "PNG", "BMP", "WEBP", "GIF"]), min_size=1),
    bounds=st.sampled_from([(360, 2000), (100, 359), (2001, 2100), (500, 800)]),
    encoding=st.sampled_from([("bare",), ("data-uri",)]),
)
def test_images_decode_to_the_promised_format_and_size(
    data: st.DataObject, formats: set[str], bounds: tuple[int, int], encoding: Any
) -> None:
    value = data.draw(wst.images(sorted(formats), *bounds, encoding))
    assert value.startswith("data:image/") == (encoding == ("data-uri",))
    with _decode(value) as image:
        assert image.format in formats
        assert all(bounds[0] <= side <= bounds[1] for side in image.size)


def test_default_images_cover_both_boundaries_in_every_format(api: TestClient) -> None:
    for fmt in wst.MEDIA_TYPES:
        for size in [(360, 360), (2000, 2000), (360, 2000), (2000, 360)]:
            value = wst.encode_image(fmt, size, "data-uri")
            with _decode(value) as image:
                assert (image.format, image.size) == (fmt, size)
            answer = api.post(CREATE_PATH, json={"prompt": "p", "image": value})
            assert answer.status_code == 202, answer.text


@FAST
@given(case=wst.invalid_images(), field=st.sampled_from(["image", "last_frame"]))
def test_invalid_images_are_refused_for_the_tagged_rule(
    api: TestClient, case: tuple[str, str], field: str
) -> None:
    body = {"prompt": "p", "image": "https://example.com/a.jpg", field: case[0]}
    answer = api.post(CREATE_PATH, json=body).json()
    assert (answer["field"], answer["rule"]) == (field, case[1])


@FAST
@given(url=st.one_of(wst.image_urls(), wst.image_refs()), audio=wst.audio_urls())
def test_urls_are_accepted(api: TestClient, url: str, audio: str) -> None:
    body = {"prompt": "p", "image": url, "audio_url": audio}
    assert api.post(CREATE_PATH, json=body).status_code == 202


def test_overrides_pin_fields() -> None:
    bodies = _draw(wst.valid_requests(duration=10, resolution=st.just("1080P")), 10)
    assert all(b["duration"] == 10 and b["resolution"] == "1080P" for b in bodies)


def _draw(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    drawn: list[T] = []

    @seed(2026)
    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None)
    @given(strategy)
    def collect(value: T) -> None:
        drawn.append(value)

    collect()
    return drawn


@pytest.mark.parametrize(
    "strategy",
    [wst.valid_requests(), wst.invalid_requests(), wst.invalid_images(), wst.images()],
    ids=["valid_requests", "invalid_requests", "invalid_images", "images"],
)
def test_strategies_are_reproducible_under_a_seed(strategy: st.SearchStrategy[Any]) -> None:
    assert _draw(strategy, 15) == _draw(strategy, 15)
