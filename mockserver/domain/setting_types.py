"""The value types of the settings: msgspec constraints whose descriptions are the sentences an
error shows in place of a pattern."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Timing = Literal["dev", "realistic"]
ClockMode = Literal["real", "virtual"]
Rate = Annotated[float, msgspec.Meta(ge=0, le=1)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
Text = Annotated[str, msgspec.Meta(min_length=1)]
# A pattern's description is the sentence an error shows instead of the pattern.
ApiKey = Annotated[
    str, msgspec.Meta(pattern=r"^\S+$", description="must not be empty or contain spaces")
]
Url = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        description="must be an http:// or https:// URL without spaces",
    ),
]
HostName = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?)$",
        description="must be a host name or address, without scheme, port or path",
    ),
]
StatePrefix = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^\S{1,64}$",
        description="must be 1 to 64 characters without spaces",
    ),
]
Token = Annotated[
    str,
    msgspec.Meta(pattern=r"^\S{8,}$", description="must be 8 or more characters without spaces"),
]
