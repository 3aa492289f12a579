"""The typed knobs that make the fake misbehave on purpose: faults, rate limits, dialects and
scenario rules. They are parts of :class:`mockserver.domain.settings.Settings`.

All are frozen msgspec Structs, so a TOML table, a JSON body on the control plane and Python
code build them the same way, with the same checks.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.scenarios import parse_scenario

Rate = Annotated[float, msgspec.Meta(ge=0, le=1)]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=86_400)]
HttpError = Annotated[int, msgspec.Meta(ge=400, le=599)]


class Latency(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Extra time before an answer. ``fixed``: ``seconds``; ``uniform``: between ``low`` and
    ``high``; ``lognormal``: median ``seconds`` with shape ``sigma``. Fake-clock seconds."""

    distribution: Literal["fixed", "uniform", "lognormal"] = "fixed"
    seconds: Seconds = 0.0
    low: Seconds = 0.0
    high: Seconds = 0.0
    sigma: Annotated[float, msgspec.Meta(ge=0, le=5)] = 0.5


FaultTarget = Literal["create", "poll", "download", "all"]


class Fault(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """With probability ``rate``, a request to ``target`` gets one thing wrong: an injected
    HTTP ``status`` (with a realistic body; 429 and 503 carry ``Retry-After``), added
    ``latency``, or a ``drop``ped connection. Exactly one of the three is set."""

    target: FaultTarget = "all"
    rate: Rate = 1.0
    status: HttpError | None = None
    retry_after: Annotated[int, msgspec.Meta(ge=0, le=86_400)] | None = None
    latency: Latency | None = None
    drop: bool = False

    def __post_init__(self) -> None:
        chosen = (self.status is not None) + (self.latency is not None) + self.drop
        if chosen != 1:
            raise ValueError("a fault sets exactly one of status, latency or drop")


class Limits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per-key rate limits; ``None`` switches a limit off. ``realistic`` are the documented
    upstream numbers (5 submissions/s, 5 unfinished tasks, 20 polls/s)."""

    submissions_per_second: Annotated[float, msgspec.Meta(gt=0)] | None = None
    concurrent_tasks: Annotated[int, msgspec.Meta(ge=1)] | None = None
    polls_per_second: Annotated[float, msgspec.Meta(gt=0)] | None = None


LIMIT_PRESETS: dict[str, Limits] = {
    "off": Limits(),
    "realistic": Limits(submissions_per_second=5, concurrent_tasks=5, polls_per_second=20),
}

StatusVocabulary = Literal["default", "legacy", "queued", "mixed"]
ErrorBody = Literal["default", "envelope", "detail", "random"]
TimestampFormat = Literal["observed", "z", "random"]
CreateStatus = Literal[202, 200, 0]  # 0: either, at random
ErrorPlacement = Literal["task_info", "top_level", "both", "random"]
FailureCode = Literal[3001, 3002, 3003, 3004, 3005, 4002, 4008]


class Dialect(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the fake spells what it says, for the things the real API has been seen to vary.

    ``statuses``: default pending/running/succeeded/failed; legacy pending/processing/
    completed/failed; queued queued/running/succeeded/failed; mixed picks per response.
    ``error_body``: default ``{error_code, title, detail}``; envelope (the task envelope with
    ``task_info.error``); detail (a bare ``{"detail": ...}``). ``timestamps``: observed
    (``+00:00`` with microseconds) or z (``2023-11-07T05:31:56Z``). ``create_status``: 202 or
    200. ``error_placement``: where a failed task's error sits. ``webhook_key`` and
    ``webhook_digest``: how a webhook secret becomes the HMAC key (its UTF-8 bytes, or the
    base64 after ``whsec_`` decoded) and how the signature is written (hex or base64).
    ``unreachable_urls``: fail (the task of a URL input on a loopback, private or
    local-network host fails, as the real service cannot download it) or accept (URL inputs are
    judged by syntax only). ``unreadable_input``: the failure code of a task whose input the
    service could not read (3003 as documented).
    "random" and "mixed" choices are drawn per response from the seeded random source.
    """

    statuses: StatusVocabulary = "default"
    error_body: ErrorBody = "default"
    timestamps: TimestampFormat = "observed"
    create_status: CreateStatus = 202
    error_placement: ErrorPlacement = "task_info"
    webhook_key: Literal["utf8", "base64"] = "utf8"
    webhook_digest: Literal["hex", "base64"] = "hex"
    unreachable_urls: Literal["fail", "accept"] = "fail"
    unreadable_input: FailureCode = 3003


DIALECT_PROFILES: dict[str, Dialect] = {
    "default": Dialect(),
    # The endpoint pages of 2025: pending/processing/completed, documented Z timestamps.
    "legacy": Dialect(statuses="legacy", timestamps="z"),
    # The async-tasks page of 2026: queued/running/succeeded.
    "queued": Dialect(statuses="queued"),
    # Everything the real API has been seen to vary, varied per response: hardens clients.
    "chaos": Dialect(
        statuses="mixed",
        error_body="random",
        timestamps="random",
        create_status=0,
        error_placement="random",
    ),
}


def request_facts(request: GenerationRequest) -> dict[str, object]:
    """The facts of a request that rules can match, by name."""
    return {
        "resolution": request.resolution,
        "duration": request.duration,
        "prompt_extend": request.prompt_extend,
        "shot_type": request.shot_type,
        "audio": request.audio,
        "safety_filter": request.safety_filter,
        "image_source": request.image.source,
        "last_frame": request.last_frame is not None,
        "audio_url": request.audio_url is not None,
    }


RULE_FIELDS = tuple(
    request_facts(GenerationRequest(prompt="p", image=ImageRef(source="url", url="http://h")))
)


class Rule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Give every task whose request matches ``match`` (field name to value, on the parsed
    request; ``prompt_contains`` matches a substring of the prompt) the ``scenario``."""

    scenario: str
    match: dict[str, str | int | bool] = msgspec.field(default_factory=dict)
    prompt_contains: str | None = None

    def __post_init__(self) -> None:
        parse_scenario(self.scenario)  # raises ScenarioError (a ValueError) naming the token
        unknown = sorted(set(self.match) - set(RULE_FIELDS))
        if unknown:
            raise ValueError(
                f"a rule cannot match {', '.join(map(repr, unknown))}; "
                f"it can match {', '.join(RULE_FIELDS)}"
            )

    def matches(self, fields: dict[str, Any], prompt: str) -> bool:
        if self.prompt_contains is not None and self.prompt_contains not in prompt:
            return False
        return all(fields.get(name) == value for name, value in self.match.items())
