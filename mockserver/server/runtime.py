"""The server's runtime: the domain's, plus the dialect's speaker built from the same settings
in the same step (the backend swaps the whole object when settings change)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mockserver.domain.randomness import Randomness
from mockserver.domain.runtime import Runtime
from mockserver.domain.settings import Settings
from mockserver.server.dialects import Speaker


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiRuntime(Runtime):
    speaker: Speaker

    @classmethod
    def build(cls, settings: Settings, random: Randomness, previous: Any) -> ApiRuntime:
        speaker = Speaker(settings.dialect, random.dialect)
        return cls(**cls.parts(settings, random, previous), speaker=speaker)
