"""For people who write webhook receivers: check a delivery the way the fake signs it.

::

    from mockserver import webhooks

    event = webhooks.verify(secret, request.headers, raw_body)  # raises on a bad delivery

``verify`` raises :class:`BadSignature`, :class:`StaleTimestamp` or :class:`MalformedWebhook`
(all :class:`WebhookVerificationError`). The readings of the secret the public record leaves
open are arguments: ``key="utf8"`` (the secret's bytes, the fake's default) or ``"base64"``,
``digest="hex"`` (default) or ``"base64"``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from mockserver.domain.webhooks import (
    EVENTS,
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE_S,
    BadSignature,
    DigestForm,
    KeyReading,
    MalformedWebhook,
    StaleTimestamp,
    WebhookVerificationError,
    signature,
    signed_headers,
)
from mockserver.domain.webhooks import verify as _verify

__all__ = [
    "EVENTS",
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "BadSignature",
    "MalformedWebhook",
    "StaleTimestamp",
    "WebhookVerificationError",
    "signature",
    "signed_headers",
    "verify",
]


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: float = TOLERANCE_S,
    *,
    now: float | None = None,
    key: KeyReading = "utf8",
    digest: DigestForm = "hex",
) -> dict[str, Any]:
    """The parsed event of one delivery (``body`` as received, unparsed), checked against
    ``secret`` and ``tolerance`` seconds around ``now`` (default: the wall clock)."""
    at = time.time() if now is None else now
    return _verify(secret, headers, body, now=at, tolerance=tolerance, key=key, digest=digest)
