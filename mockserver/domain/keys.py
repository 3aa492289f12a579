"""API keys as requests carry them: the bearer scheme, read in one place, and a fingerprint
that names a key in listings without echoing it."""

from __future__ import annotations

import hashlib


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` value, or None when it is not one."""
    if authorization is None:
        return None
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


def fingerprint(key: str) -> str:
    """A short stable name for an API key, so listings never echo secrets."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]
