"""The contract half of a run, on schemathesis: generated requests, built-in checks.

Schemathesis generates schema-valid (positive) and schema-invalid (negative) requests for both
operations from ``contracts/openapi.yaml`` and judges every response with its own checks; this
module only drives it with a budget and files each check's verdict under a stable name. The
lifecycle module hands its httpx responses to :meth:`Contract.validate`, so every response of a
run is held to the contract by the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import requests
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

from mockserver.conformance.results import Tally
from mockserver.conformance.target import BudgetExceeded, Spend, Target
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

    def __init__(
        self, target: Target, tally: Tally, spend: Spend, redact: Callable[[str], str]
    ) -> None:
        config = schemathesis.Config.from_dict(
            {"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}}
        )
        self.schema = schemathesis.openapi.from_path(contract_path(), config=config)
        self.target, self.tally, self.spend, self.redact = target, tally, spend, redact
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def operation(self, which: tuple[str, str]) -> Any:
        return self.schema[which[0]][which[1]]

    # --- schemathesis-generated requests -------------------------------------------------

    def fuzz(self, which: tuple[str, str], mode: str, examples: int, seed: int | None) -> int:
        """Send up to ``examples`` generated requests; returns how many were sent."""
        if examples <= 0:
            return 0
        generation = schemathesis.GenerationMode(mode)
        strategy = self.operation(which).as_strategy(generation_mode=generation)
        sent = 0

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
            nonlocal sent
            if sent < examples and self.exercise(case, mode):
                sent += 1

        (hypothesis_seed(seed)(probe) if seed is not None else probe)()
        return sent

    def exercise(self, case: Any, mode: str) -> bool:
        creates = case.operation.method.upper() == "POST"
        if creates and mode == "negative" and not self.spend.may_send_invalid_creates:
            return False
        if creates and mode == "positive":
            try:
                self.spend.take()
            except BudgetExceeded:
                return False
        headers = self.target.auth()
        self.target.pause()
        try:
            response = case.call(
                base_url=self.target.base_url, session=self.session, headers=headers, timeout=30
            )
        except requests.RequestException as exc:
            reason = f"{case.operation.label}: no answer ({type(exc).__name__})"
            self.tally.fail("contract.no_server_error", self.redact(reason))
            return True
        self.target.requests += 1
        flat = {name: values[0] for name, values in response.headers.items() if values}
        try:
            body = response.json()
        except ValueError:
            body = None
        self.target.observer.response(response.status_code, flat, body, create=creates)
        self.target.note_retry_after(response.status_code, flat.get("retry-after"))
        if creates and mode == "negative" and response.status_code < 300:
            self.spend.accepted_by_mistake()
        checks = dict(CONFORMANCE)
        if mode == "negative":  # invalid ids as much as invalid bodies
            checks["rules.invalid_rejected"] = negative_data_rejection
        elif creates:  # a valid GET of a random id is rightly a 404
            checks["rules.valid_accepted"] = positive_data_acceptance
        self._judge(case, response, headers, checks)
        return True

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
