"""The contract half of a run, on schemathesis: generated requests, built-in checks.

Schemathesis generates schema-valid (positive) and schema-invalid (negative) requests for both
operations from ``contracts/openapi.yaml`` and judges every response with its own checks; this
module only drives it and files each check's verdict under a stable name. Generated requests
are sent by the run's own httpx client, so the budget's gate sees them like any other, and a
case whose ``Authorization`` schemathesis broke on purpose keeps it: only a case with
well-formed made-up credentials gets the run's key in their place. The lifecycle module hands
its httpx responses to :meth:`Contract.validate`, so every response of a run is held to the
contract by the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mockserver.conformance.budget import BudgetExceeded
from mockserver.conformance.results import Tally
from mockserver.conformance.target import NoAnswer, Target
from mockserver.domain.paths import GENERATION_PATH
from mockserver.resources import contract_path
from mockserver.testing.strategies import audio_urls, image_refs

CREATE = (GENERATION_PATH, "POST")
GET = (GENERATION_PATH + "/{task_id}", "GET")
CONFORMANCE: dict[str, Callable[..., Any]] = {
    "contract.status_code": status_code_conformance,
    "contract.content_type": content_type_conformance,
    "contract.headers": response_headers_conformance,
    "contract.schema": response_schema_conformance,
    "contract.no_server_error": not_a_server_error,
}
# Invalid data must be refused with a 4xx: schemathesis' default list also allows 5xx.
REJECTIONS = ["400", "401", "403", "404", "405", "409", "413", "415", "422", "429"]

# The contract names the union of accepted image inputs and audio links with custom formats;
# the package's own strategies produce values the API accepts (real images, http(s) links).
schemathesis.openapi.format("image-ref", image_refs())
schemathesis.openapi.format("audio-ref", audio_urls())


def describe(failure: Failure, label: str, status: int) -> str:
    message = " ".join(failure.message.split())
    return f"{label} -> {status}: {failure.title}" + (f": {message[:240]}" if message else "")


class Contract:
    """Schemathesis, aimed at one target, with one tally of verdicts."""

    def __init__(self, target: Target, tally: Tally, redact: Callable[[str], str]) -> None:
        config = schemathesis.Config.from_dict(
            {"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}}
        )
        self.schema = schemathesis.openapi.from_path(contract_path(), config=config)
        self.target, self.tally, self.redact = target, tally, redact
        self.kept_back = 0  # generated requests the budget did not let out

    def operation(self, which: tuple[str, str]) -> Any:
        return self.schema[which[0]][which[1]]

    # --- schemathesis-generated requests -------------------------------------------------

    def fuzz(self, which: tuple[str, str], mode: str, examples: int, seed: int | None) -> int:
        """Send up to ``examples`` generated requests; returns how many were sent."""
        if examples <= 0:
            return 0
        generation = schemathesis.GenerationMode(mode)
        strategy = self.operation(which).as_strategy(generation_mode=generation)
        sent = kept = 0

        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            derandomize=seed is None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def probe(case: Any) -> None:
            nonlocal sent, kept
            if sent + kept >= examples:
                return
            if self.exercise(case, mode):
                sent += 1
            else:
                kept += 1

        (hypothesis_seed(seed)(probe) if seed is not None else probe)()
        return sent

    def exercise(self, case: Any, mode: str) -> bool:
        """Send one case and judge its answer; False when it was not sent (kept back by the
        budget, or a request httpx cannot send)."""
        creates = case.operation.method.upper() == "POST"
        request = self.request(case)
        if request is None:
            return False  # unsendable (a header name httpx refuses): nothing sent
        self.target.pause(case.operation.method)
        try:
            response = self.target.send(request)
        except BudgetExceeded as exc:
            name = "rules.valid_accepted" if mode == "positive" else "rules.invalid_rejected"
            self.tally.not_exercised(name, f"generated {case.operation.label}", str(exc))
            return False
        except NoAnswer:
            return True  # already a failed check
        checks = dict(CONFORMANCE)
        if mode == "negative":  # invalid ids as much as invalid bodies
            checks["rules.invalid_rejected"] = negative_data_rejection
        elif creates:  # a valid GET of a random id is rightly a 404
            checks["rules.valid_accepted"] = positive_data_acceptance
        self._judge(case, response, dict(request.headers), checks)
        return True

    def request(self, case: Any) -> httpx.Request | None:
        """The httpx request of ``case``, with the run's key unless the case's credentials
        are the point of the test (then they stay exactly as generated)."""
        kwargs = case.as_transport_kwargs(base_url=self.target.base_url)
        headers = dict(kwargs.get("headers") or {})
        if not _breaks_auth(case) and any(h.lower() == "authorization" for h in headers):
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers |= self.target.auth()
        content: dict[str, Any] = {}
        if "json" in kwargs:
            content["json"] = kwargs["json"]
        elif isinstance(kwargs.get("data"), bytes | str):
            content["content"] = kwargs["data"]
        elif kwargs.get("data") is not None:
            content["data"] = kwargs["data"]
        try:
            return self.target.http.build_request(
                kwargs["method"],
                kwargs["url"],
                params=kwargs.get("params") or None,
                headers=headers,
                cookies=kwargs.get("cookies") or None,
                **content,
            )
        except (httpx.HTTPError, ValueError, TypeError, UnicodeEncodeError):
            return None

    # --- responses the run got by other means --------------------------------------------

    def validate(
        self,
        which: tuple[str, str],
        response: httpx.Response,
        *,
        task_id: str | None = None,
        body: Any = None,
    ) -> None:
        """Hold one httpx response of ``which`` operation to the contract."""
        operation = self.operation(which)
        kwargs: dict[str, Any] = {"headers": self.target.auth()}
        if task_id is not None:
            kwargs["path_parameters"] = {"task_id": task_id}
        if body is not None:
            kwargs["body"] = body
        self._judge(operation.Case(**kwargs), response, kwargs["headers"], CONFORMANCE)

    def _judge(
        self, case: Any, response: Any, headers: dict[str, str], checks: dict[str, Any]
    ) -> None:
        status = response.status_code
        response = schemathesis.Response.from_any(response)  # once, not once per check
        for name, check in checks.items():
            try:
                case.validate_response(response, checks=[check], headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    reason = describe(failure, case.operation.label, status)
                    self.tally.fail(name, self.redact(reason))
            except Failure as failure:
                self.tally.fail(name, self.redact(describe(failure, case.operation.label, status)))
            else:
                self.tally.ok(name)


def _breaks_auth(case: Any) -> bool:
    """Whether schemathesis made this case's credentials wrong on purpose."""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    for mutation in getattr(data, "mutations", ()):
        if str(getattr(mutation, "parameter", "")).lower() == "authorization":
            return True
    return str(getattr(data, "parameter", "")).lower() == "authorization"
