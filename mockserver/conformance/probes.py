"""Requests the API must refuse, so they cost nothing even on the live service: broken
authentication, one invalid body per request rule, unknown task ids.

The invalid bodies come from :mod:`mockserver.testing.strategies` (one minimal example per
rule, found by hypothesis), so the suite and integrators' own tests share one definition of
"invalid".
"""

from __future__ import annotations

import functools
import uuid
import warnings
from typing import Any

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import HypothesisWarning

from mockserver.conformance.fuzzing import CREATE, GET, Contract
from mockserver.conformance.results import Tally
from mockserver.conformance.target import Spend, Target, parse_json
from mockserver.domain.paths import GENERATION_PATH
from mockserver.testing.strategies import invalid_requests, rules, valid_requests

_FIND = settings(
    database=None, max_examples=50, phases=[Phase.generate], suppress_health_check=list(HealthCheck)
)
UNKNOWN_KEY = "wan-mock-conformance-unknown-key"
# Authorization headers that must get 401 whatever the key ({} is the run's own key). Each is
# sent with a GET and with a create, so a create never reaches validation without a key.
BAD_AUTH: dict[str, str | None] = {
    "no Authorization header": None,
    "no Bearer prefix": "{}",
    "bearer without a key": "Bearer",
    "Basic scheme": "Basic {}",
}


def minimal(strategy: Any) -> Any:
    """The simplest example of ``strategy`` (hypothesis shrinks it: stable run to run)."""
    with warnings.catch_warnings():  # the 14 MB image of the size rule has a huge repr
        warnings.simplefilter("ignore", HypothesisWarning)
        return find(strategy, lambda _: True, settings=_FIND)


def _describe(response: Any) -> str:
    body = parse_json(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    request = response.request
    return f"{request.method} {request.url.path} -> {response.status_code}" + (
        f" ({str(detail)[:120]})" if detail else ""
    )


def check_auth(target: Target, contract: Contract, tally: Tally, accepts_any_key: bool) -> None:
    body = minimal(valid_requests(image="https://example.com/cat.jpg"))
    task_id = str(uuid.uuid4())
    unknown = f"{GENERATION_PATH}/{task_id}"
    for label, template in BAD_AUTH.items():
        headers = {} if template is None else {"Authorization": template.format(target.token)}
        for which in (GET, CREATE):
            if which is GET:
                response = target.call("GET", unknown, headers=headers)
                contract.validate(GET, response, task_id=task_id)
            else:
                response = target.call("POST", GENERATION_PATH, headers=headers, json=body)
                contract.validate(CREATE, response, body=body)
            tally.check(
                "auth.enforced",
                response.status_code == 401,
                f"{label}: {_describe(response)}, expected 401",
            )
    if accepts_any_key:
        tally.skip("auth.unknown_key", "the fake is configured to accept any key")
        return
    response = target.call("GET", unknown, headers=target.auth(UNKNOWN_KEY))
    contract.validate(GET, response, task_id=task_id)
    tally.check(
        "auth.unknown_key", response.status_code == 401, f"{_describe(response)}, expected 401"
    )


def check_unknown_ids(target: Target, contract: Contract, tally: Tally) -> None:
    for task_id in (str(uuid.uuid4()), str(uuid.UUID(int=0))):
        response = target.call("GET", f"{GENERATION_PATH}/{task_id}", headers=target.auth())
        contract.validate(GET, response, task_id=task_id)
        tally.check(
            "lookup.unknown_id_404",
            response.status_code == 404,
            f"unknown id: {_describe(response)}, expected 404",
        )


@functools.cache
def rule_body(field: str, rule: str) -> dict[str, Any]:
    """The minimal body breaking ``rule`` of ``field`` (made once per process)."""
    body: dict[str, Any] = minimal(invalid_requests(fields=[field], rules=[rule]))[0]
    return body


def check_rules(
    target: Target, contract: Contract, tally: Tally, spend: Spend, progress: Any = None
) -> None:
    cases = rules()
    for done, (field, rule) in enumerate(cases, 1):
        if not spend.may_send_invalid_creates:
            tally.fail("rules.every_rule_rejected", "stopped: the live API billed an invalid body")
            return
        body = rule_body(field, rule)
        response = target.call("POST", GENERATION_PATH, headers=target.auth(), json=body)
        if response.status_code < 300:
            spend.accepted_by_mistake()
        contract.validate(CREATE, response, body=body)
        tally.check(
            "rules.every_rule_rejected",
            400 <= response.status_code < 500,
            f"{field} breaking {rule!r}: {_describe(response)}, expected a 4xx",
        )
        if progress is not None:
            progress.step(done, len(cases))
