"""What the settings make: the fake's behaviour for one set of settings, built in one step.

The backend holds one :class:`Runtime` and swaps it whole when settings change (a configure,
a reset, another worker's change adopted), so nothing derived from settings is ever cached and
re-checked elsewhere. The server extends it with what it derives itself (the dialect's
speaker) by passing its own builder to the backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from mockserver.domain.behaviour import Fault, Rule
from mockserver.domain.planning import Planner
from mockserver.domain.randomness import Randomness
from mockserver.domain.scenarios import Scenario, parse_scenario
from mockserver.domain.settings import Settings
from mockserver.domain.validation import RequestValidator


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime:
    """Immutable: settings (checked) and everything built from them."""

    settings: Settings
    planner: Planner
    validator: RequestValidator
    keys: frozenset[str]
    rules: tuple[tuple[Rule, Scenario], ...]
    faults: tuple[Fault, ...]
    public_names: frozenset[str]  # lower case, no brackets: the names besides loopback ones

    @classmethod
    def parts(
        cls, settings: Settings, random: Randomness, previous: Runtime | None
    ) -> dict[str, Any]:
        """The fields of a runtime for ``settings`` (already checked), for subclasses to extend.
        The validator is reused when strictness did not change: compiling it takes ~40 ms."""
        validator = previous.validator if previous is not None else None
        if validator is None or validator.strict != settings.strict:
            validator = RequestValidator(strict=settings.strict)
        return {
            "settings": settings,
            "planner": Planner(settings, random.plans),
            "validator": validator,
            "keys": frozenset(settings.api_keys),
            "rules": tuple((rule, parse_scenario(rule.scenario)) for rule in settings.rules),
            "faults": tuple(settings.faults),
            "public_names": public_names(settings),
        }

    @classmethod
    def build(cls, settings: Settings, random: Randomness, previous: Runtime | None) -> Runtime:
        return cls(**cls.parts(settings, random, previous))


def public_names(settings: Settings) -> frozenset[str]:
    """The host names the fake is reached at besides loopback ones: ``public_names`` and the
    host of ``public_url``, in lower case and without IPv6 brackets."""
    names = [name.strip("[]").lower() for name in settings.public_names]
    if settings.public_url:
        host = urlsplit(settings.public_url).hostname
        if host:
            names.append(host.lower())
    return frozenset(names)


R = TypeVar("R", bound=Runtime, covariant=True)


class RuntimeBuilder(Protocol[R]):
    """Makes the runtime for checked settings (``previous`` lets it reuse costly parts)."""

    def __call__(self, settings: Settings, random: Randomness, previous: Any, /) -> R: ...
