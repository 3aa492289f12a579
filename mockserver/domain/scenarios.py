"""Scenarios: what a test (or a config rule) asks one task to do.

A scenario is a short token, sent as the ``X-Wan-Mock-Scenario`` header, written inside the
prompt as ``[wan-mock:<token>]``, queued through the control plane or named by a config rule:

=====================  =====================================================================
``succeed``            the task succeeds on its usual schedule
``fail``               the task fails with one of the documented codes (drawn at random)
``fail:<code>``        ... with that code: 3001-3005, 4002, 4008
``fail:safety``        ... because the content safety filter blocked it (code 3005)
``slow``               the task takes six times longer than usual
``stuck``              the task starts running and never finishes
``reject:<status>``    the create itself fails with that HTTP status (no task is made)
``poll-error:<status>``  polls fail with that status until the task has finished
``webhook:<fault>``    the task succeeds; its webhook deliveries get a fault (see below)
=====================  =====================================================================

Webhook faults (``webhook:<fault>``; also drawn by the ``webhook_faults`` rates): ``duplicate``
(each event sent twice), ``out-of-order`` (``task.created`` after the task's end), ``delay``
(each event a minute late), ``drop`` (never sent), ``bad-signature`` (the first attempt signed
with a wrong key), ``stale`` (the first attempt's timestamp ten minutes old), ``replay`` (an
event sent again ten minutes after it was delivered, with its original signature).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mockserver.domain.tasks import Failure

SCENARIO_HEADER = "x-wan-mock-scenario"
PROMPT_TOKEN = re.compile(r"\[wan-mock:([^\]\s]+)\]")

Kind = Literal["succeed", "fail", "slow", "stuck", "reject", "poll-error", "webhook"]
WEBHOOK_FAULTS = (
    "duplicate",
    "out-of-order",
    "delay",
    "drop",
    "bad-signature",
    "stale",
    "replay",
)

# The documented task failure codes. 3001-3005: the upstream model provider could not complete
# the task; 4002 and 4008: MuleRouter itself failed while running it. Titles for 3001 and 3005
# are the ones seen publicly; the rest are written in the same voice.
FAILURES: dict[int, Failure] = {
    f.code: f
    for f in (
        Failure(3001, "Task Execution Error", "Video generation failed: Invalid image dimensions"),
        Failure(
            3002, "Task Execution Error", "Video generation failed: the model provider timed out"
        ),
        Failure(
            3003,
            "Task Execution Error",
            "Video generation failed: the input image could not be read",
        ),
        Failure(
            3004, "Task Execution Error", "Video generation failed: the model provider is busy"
        ),
        Failure(
            3005,
            "External service execution failed",
            "The request was rejected by the model provider",
        ),
        Failure(4002, "Internal Error", "A MuleRouter error occurred while running the task"),
        Failure(4008, "Internal Error", "MuleRouter could not store the task result"),
    )
}
SAFETY_FAILURE = Failure(
    3005,
    "External service execution failed",
    "Content safety check failed: the input or the generated video was blocked by the safety "
    "filter",
)
REJECT_STATUSES = (400, 401, 402, 403, 409, 429, 451, 500, 502, 503, 504)
POLL_ERROR_STATUSES = (429, 500, 502, 503, 504)
SLOW_FACTOR = 6.0

TOKENS_HELP = (
    "succeed, fail, fail:<3001-3005|4002|4008|safety>, slow, stuck, "
    f"reject:<{'|'.join(map(str, REJECT_STATUSES))}>, "
    f"poll-error:<{'|'.join(map(str, POLL_ERROR_STATUSES))}>, "
    f"webhook:<{'|'.join(WEBHOOK_FAULTS)}>"
)


class ScenarioError(ValueError):
    """A scenario token that means nothing; the message lists the valid ones."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed scenario token."""

    kind: Kind
    failure: Failure | None = None  # for fail
    status: int | None = None  # for reject and poll-error
    hook: str | None = None  # for webhook: the delivery fault

    @property
    def token(self) -> str:
        if self.kind == "fail" and self.failure is not None:
            return "fail:safety" if self.failure == SAFETY_FAILURE else f"fail:{self.failure.code}"
        if self.status is not None:
            return f"{self.kind}:{self.status}"
        if self.hook is not None:
            return f"{self.kind}:{self.hook}"
        return self.kind


def parse_scenario(text: str) -> Scenario:
    """Parse a token such as ``fail:3002``; raises :class:`ScenarioError`."""
    kind, _, argument = text.strip().lower().partition(":")
    if kind in ("succeed", "slow", "stuck") and not argument:
        return Scenario(kind)  # type: ignore[arg-type]
    if kind == "fail":
        if not argument:
            return Scenario("fail")
        if argument == "safety":
            return Scenario("fail", failure=SAFETY_FAILURE)
        if argument.isdigit() and int(argument) in FAILURES:
            return Scenario("fail", failure=FAILURES[int(argument)])
    if kind == "reject" and argument.isdigit() and int(argument) in REJECT_STATUSES:
        return Scenario("reject", status=int(argument))
    if kind == "poll-error" and argument.isdigit() and int(argument) in POLL_ERROR_STATUSES:
        return Scenario("poll-error", status=int(argument))
    if kind == "webhook" and argument in WEBHOOK_FAULTS:
        return Scenario("webhook", hook=argument)
    raise ScenarioError(f"unknown scenario {text!r}; use one of: {TOKENS_HELP}")


def scenario_in_prompt(prompt: str) -> str | None:
    """The ``[wan-mock:<token>]`` written in a prompt, for clients that cannot set headers."""
    if "[wan-mock:" not in prompt:  # the common case, without the regex
        return None
    match = PROMPT_TOKEN.search(prompt)
    return match.group(1) if match else None
