"""API keys as requests carry them: the bearer scheme, read in one place, a fingerprint that
names a key in listings without echoing it, and the mask that shows a secret in output."""

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


# A secret shorter than this is shown as stars only: its last characters would give too much away.
MASK_REVEALS_FROM = 16


def mask(secret: str) -> str:
    """A secret as answers, the banner and logs show it: ``sk-...1234`` (its first three and
    last four characters) when it is long enough to keep most of it hidden, else ``***``."""
    if len(secret) < MASK_REVEALS_FROM:
        return "***"
    return f"{secret[:3]}...{secret[-4:]}"
