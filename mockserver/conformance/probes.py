"""Requests a correct server must refuse, so they cost nothing even on the live service:
broken authentication, one invalid body per request rule (each enum also at the values between
and beside the allowed ones), malformed bodies, a wrong method, unknown task ids. And the sanity
gate that stops a run whose answers prove nothing.

The rule bodies come from :mod:`mockserver.testing.strategies` (one minimal example per rule,
found by hypothesis), so the suite and integrators' own tests share one definition of
"invalid". A rule a schema cannot state (an image's format, say) leaves a body the contract's
schema accepts: the budget counts it as a possible create (:mod:`.budget`).
"""

from __future__ import annotations

import functools
import re
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import HypothesisWarning

from mockserver.conformance.budget import BudgetExceeded
from mockserver.conformance.fuzzing import CREATE, GET, Contract
from mockserver.conformance.probe_cache import BodyCache
from mockserver.conformance.results import RunAborted, Tally
from mockserver.conformance.target import QUICK, NoAnswer, Target, parse_json
from mockserver.domain.contract import request_fields
from mockserver.domain.paths import GENERATION_PATH
from mockserver.testing.strategies import invalid_requests, rules, valid_requests

_FIND = settings(
    database=None, max_examples=50, phases=[Phase.generate], suppress_health_check=list(HealthCheck)
)
UNKNOWN_KEY = "wan-mock-conformance-unknown-key"
IMAGE_URL = "https://example.com/first_frame.jpg"
# Authorization headers that must get 401 whatever the key ({} is the run's own key). Each is
# sent with a GET and with a create, so a create never reaches validation without a key.
BAD_AUTH: dict[str, str | None] = {
    "no Authorization header": None,
    "no Bearer prefix": "{}",
    "bearer without a key": "Bearer",
    "Basic scheme": "Basic {}",
}
# The auth probes' create body lacks the required image: no server may create a task from it.
AUTH_PROBE_BODY = {"prompt": "wan-mock contract suite: auth probe"}
MALFORMED: dict[str, dict[str, Any]] = {
    "malformed JSON": {
        "content": b'{"prompt": "wan-mock", "image": ',
        "headers": {"Content-Type": "application/json"},
    },
    "an empty body": {"content": b"", "headers": {"Content-Type": "application/json"}},
    "a form-encoded body": {"data": {"prompt": "wan-mock contract suite", "image": IMAGE_URL}},
}


def minimal(strategy: Any) -> Any:
    """The simplest example of ``strategy`` (hypothesis shrinks it: stable run to run)."""
    with warnings.catch_warnings():  # the 14 MB image of the size rule has a huge repr
        warnings.simplefilter("ignore", HypothesisWarning)
        return find(strategy, lambda _: True, settings=_FIND)


def _describe(response: httpx.Response) -> str:
    body = parse_json(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    request = response.request
    return f"{request.method} {request.url.path} -> {response.status_code}" + (
        f" ({str(detail)[:120]})" if detail else ""
    )


def _send(tally: Tally, check: str, part: str, send: Callable[[], httpx.Response]) -> Any:
    """One probe: the response, or None when it was kept back (budget) or got no answer."""
    try:
        return send()
    except BudgetExceeded as exc:
        tally.not_exercised(check, part, str(exc))
    except NoAnswer as exc:
        # contract.answers_in_time has failed already; this check saw nothing of the part.
        tally.not_exercised(check, part, f"no answer ({exc})")
    return None


def check_auth(target: Target, contract: Contract, tally: Tally, accepts_any_key: bool) -> None:
    task_id = str(uuid.uuid4())
    unknown = f"{GENERATION_PATH}/{task_id}"
    for label, template in BAD_AUTH.items():
        headers = {} if template is None else {"Authorization": template.format(target.token)}
        sends = {
            GET: functools.partial(target.call, "GET", unknown, headers=headers),
            CREATE: functools.partial(
                target.call, "POST", GENERATION_PATH, headers=headers, json=AUTH_PROBE_BODY
            ),
        }
        for which, send in sends.items():
            response = _send(tally, "auth.enforced", label, send)
            if response is None:
                continue
            contract.validate(which, response, **_case(which, task_id))
            tally.check(
                "auth.enforced",
                response.status_code == 401,
                f"{label}: {_describe(response)}, expected 401",
                response,
            )
    if accepts_any_key:
        tally.skip("auth.unknown_key", "the fake is configured to accept any key")
        return
    response = _send(
        tally,
        "auth.unknown_key",
        "unknown key",
        lambda: target.call("GET", unknown, headers=target.auth(UNKNOWN_KEY)),
    )
    if response is not None:
        contract.validate(GET, response, task_id=task_id)
        tally.check(
            "auth.unknown_key",
            response.status_code == 401,
            f"{_describe(response)}, expected 401",
            response,
        )


def _case(which: tuple[str, str], task_id: str) -> dict[str, Any]:
    return {"task_id": task_id} if which is GET else {"body": AUTH_PROBE_BODY}


def check_unknown_ids(target: Target, contract: Contract, tally: Tally) -> None:
    for task_id in (str(uuid.uuid4()), str(uuid.UUID(int=0))):
        path = f"{GENERATION_PATH}/{task_id}"
        response = _send(
            tally,
            "lookup.unknown_id_404",
            task_id,
            lambda: target.call("GET", path, headers=target.auth()),  # noqa: B023
        )
        if response is None:
            continue
        contract.validate(GET, response, task_id=task_id)
        tally.check(
            "lookup.unknown_id_404",
            response.status_code == 404,
            f"unknown id: {_describe(response)}, expected 404",
            response,
        )


def sanity(target: Target) -> None:
    """Stop a run whose answers prove nothing: the key refused everywhere, or no API there."""
    if target.answers and all(status == 404 for status, _ in target.answers):
        raise RunAborted(
            f"wrong base URL or path: all {len(target.answers)} API requests were answered 404 "
            f"(is {target.base_url} the API's root?)",
            void=True,
        )
    keyed = [status for status, with_key in target.answers if with_key]
    if keyed and all(status in (401, 403) for status in keyed):
        codes = "/".join(sorted({str(s) for s in keyed}))
        raise RunAborted(
            f"the key is rejected: all {len(keyed)} requests carrying it were answered {codes}",
            void=True,
        )


@functools.cache
def base_body() -> dict[str, Any]:
    body: dict[str, Any] = minimal(valid_requests(image=IMAGE_URL))
    return body


@functools.cache
def rule_body(field: str, rule: str) -> dict[str, Any]:
    """The minimal body breaking ``rule`` of ``field`` (made once per process)."""
    body: dict[str, Any] = minimal(invalid_requests(fields=[field], rules=[rule]))[0]
    return body


_NUMBERED = re.compile(r"(\d+)(\D*)")


def enum_neighbours() -> list[tuple[str, Any]]:
    """``(field, value)``: each enum of the contract's request schema probed beside and between
    its allowed values: every whole number from one below the least to one above the greatest
    that is not allowed (a ``duration`` of 7), and each allowed word in another case."""
    fields = request_fields()  # a oneOf field (multi_shots) read as its types and values
    probes: list[tuple[str, Any]] = []
    for field, schema in fields.items():
        allowed = schema.get("enum") or []
        numbers = [v for v in allowed if isinstance(v, int) and not isinstance(v, bool)]
        if numbers:
            probes += [
                (field, n) for n in range(min(numbers) - 1, max(numbers) + 2) if n not in numbers
            ]
        for word in (v for v in allowed if isinstance(v, str)):
            variants = (word.lower(), word.upper(), word.capitalize())
            other = next((v for v in variants if v != word and v not in allowed), None)
            if other is not None:
                probes.append((field, other))
        probes += [(field, word) for word in _scaled_words(allowed) if word not in allowed]
    return probes


def _scaled_words(allowed: list[Any]) -> list[str]:
    """For words that are a number and a shared suffix (``720P``, ``1080P``): the next value
    below and above on the same scale (``480P``, ``1620P``), the values a server that checks
    only the format would let through."""
    matches = [_NUMBERED.fullmatch(v) for v in allowed if isinstance(v, str)]
    found = [m for m in matches if m is not None]
    if len(found) < 2 or len(found) != len(matches) or len({m[2] for m in found}) != 1:
        return []
    numbers = sorted(int(m[1]) for m in found)
    least, most, suffix = numbers[0], numbers[-1], found[0][2]
    return [f"{least * least // most}{suffix}", f"{most * most // least}{suffix}"]


def rule_probes(cache: BodyCache | None = None) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    """Every rule probe: ``("field rule", body maker)``. A body is read from ``cache`` when a
    run before made it, else made when its probe goes out (finding a minimal one takes
    hypothesis a few dozen milliseconds), so the making overlaps the pause a paced run waits
    before each create instead of adding to it."""
    probes: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        (f"{field} {rule}", functools.partial(rule_body, field, rule)) for field, rule in rules()
    ]
    probes += [
        (f"{field} = {value!r}", functools.partial(_with, field, value))
        for field, value in enum_neighbours()
    ]
    if cache is None:
        return probes
    return [(key, functools.partial(cache.body, key, make)) for key, make in probes]


def _with(field: str, value: Any) -> dict[str, Any]:
    return base_body() | {field: value}


def check_rules(
    target: Target,
    contract: Contract,
    tally: Tally,
    progress: Any = None,
    cache: BodyCache | None = None,
) -> None:
    name, cases = "rules.every_rule_rejected", rule_probes(cache)
    try:
        for done, (key, make) in enumerate(cases, 1):
            body = make()
            response = _send(
                tally,
                name,
                key,
                lambda: target.call("POST", GENERATION_PATH, headers=target.auth(), json=body),  # noqa: B023
            )
            if response is None:
                tally.rules[key] = "not exercised"
            else:
                contract.validate(CREATE, response, body=body)
                refused = tally.check(
                    name,
                    400 <= response.status_code < 500,
                    f"{key}: {_describe(response)}, expected a 4xx",
                    response,
                )
                tally.rules[key] = "pass" if refused else f"fail ({response.status_code})"
            if progress is not None:
                progress.step(done, len(cases))
    finally:
        if cache is not None:
            cache.save()  # what was made, even when the run stops half-way


def check_malformed(target: Target, tally: Tally) -> None:
    """Bodies no server can read, and a method the path does not have: sent on every run.
    Each is a few bytes that need no work to refuse, so each waits at most QUICK seconds."""
    name = "rules.malformed_rejected"
    timeout = min(QUICK, target.timeout)
    sends: dict[str, Callable[[], httpx.Response]] = {
        label: functools.partial(
            target.call,
            "POST",
            GENERATION_PATH,
            timeout=timeout,
            **(kw | {"headers": target.auth() | kw.get("headers", {})}),
        )
        for label, kw in MALFORMED.items()
    }
    sends["a wrong method (PUT)"] = functools.partial(
        target.call, "PUT", GENERATION_PATH, headers=target.auth(), timeout=timeout
    )
    for label, send in sends.items():
        response = _send(tally, name, label, send)
        if response is None:
            continue
        status = response.status_code
        tally.check(
            name, 400 <= status < 500, f"{label}: {_describe(response)}, expected a 4xx", response
        )
        tally.check(
            "contract.no_server_error", status < 500, f"{label}: {_describe(response)}", response
        )
