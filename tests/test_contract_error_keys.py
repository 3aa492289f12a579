"""The contract suite's ``contract.error_keys``: an error body with a key the public record does
not show fails the check, naming the keys, so a live run reports what the real service sends;
the fake's default bodies pass it and its diagnostics (``explain_errors``) do not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from mockserver import Settings
from mockserver.conformance.results import Tally
from mockserver.conformance.target import check_error_keys
from tests.helpers import CREATE_PATH, body, fake_app


def verdict(payload: Any, status: int = 400) -> Any:
    request = httpx.Request("POST", "https://api.example/vendors/x/generation")
    return judged(httpx.Response(status, json=payload, request=request))


def judged(response: httpx.Response) -> Any:
    response.elapsed = timedelta(0)  # as if it had been received (the tally times answers)
    tally = Tally()
    check_error_keys(tally, response)
    return next(r for r in tally.results() if r.name == "contract.error_keys")


def test_the_documented_shapes_pass() -> None:
    for payload in (
        {"error_code": 2001, "title": "Invalid Request", "detail": "prompt: is required"},
        {"error_code": 2005, "detail": "Task x does not exist"},
        {"detail": "Not Found"},
        {"task_info": {"id": "x", "status": "failed", "error": {"code": 2001}}},
        {"error": "bad", "message": "bad request"},
    ):
        assert verdict(payload).outcome == "pass", payload


def test_an_undocumented_key_fails_and_is_named() -> None:
    result = verdict({"error_code": 2001, "title": "t", "detail": "d", "errors": [], "field": "x"})
    assert result.outcome == "fail"
    assert result.reasons == [
        "POST /vendors/x/generation -> 400 sent undocumented keys errors, field "
        "(all: detail, error_code, errors, field, title)"
    ]


def test_a_body_that_is_not_an_object_is_left_to_another_check() -> None:
    assert verdict(["not", "an", "object"]).outcome == "skip"


def test_the_fake_passes_by_default_and_fails_with_its_diagnostics() -> None:
    # Proves the check tells the faithful default from the switched-on diagnostics.
    for explain, outcome in ((False, "pass"), (True, "fail")):
        with fake_app(Settings(seed=1, explain_errors=explain)) as fake:
            answer = fake.client.post(CREATE_PATH, json=body(duration=7))
        request = httpx.Request("POST", "http://wan-mock.test" + CREATE_PATH)
        response = httpx.Response(400, content=answer.content, request=request)
        response.headers["content-type"] = "application/json"
        result = judged(response)
        assert result.outcome == outcome, (explain, result)
