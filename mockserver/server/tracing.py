"""W3C ``traceparent`` on every API answer, as the real API sends one.

An incoming valid ``traceparent`` keeps its trace id (so a client's trace continues); otherwise
a new trace id is drawn. Each answer gets a fresh span id. Only the API draws from the trace
stream: driving the fake through the control plane never shifts the ids its answers carry.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

_VALID = re.compile(rb"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_TRACE = b"0" * 32


def traceparent(headers: Iterable[tuple[bytes, bytes]], rng: random.Random) -> bytes:
    """The ``traceparent`` value for an answer to a request with these (ASGI) headers."""
    trace_id = None
    for name, value in headers:
        if name == b"traceparent":
            match = _VALID.fullmatch(value.strip())
            if match and match.group(1) != _ZERO_TRACE:
                trace_id = match.group(1)
            break
    bits = rng.getrandbits(192 if trace_id is None else 64)
    if trace_id is None:
        trace_id = b"%032x" % (bits >> 64)
    return b"00-%s-%016x-01" % (trace_id, (bits & 0xFFFFFFFFFFFFFFFF) or 1)
