"""Result links nobody can work out: each carries an HMAC of its task id.

A download needs no API key (as a CDN's link needs none), so the link itself must be the secret.
Task ids are not: with a seed they are reproducible, and whoever knows the seed and one id of
their own can work out the others. The link therefore carries a token, an HMAC-SHA256 of the
task id under a secret drawn from the operating system, never from the seed: one per run, or
one per state file, kept there so that every worker and every restart makes the same links.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from mockserver.domain.paths import result_path

SECRET_BYTES = 32
TOKEN_CHARS = 32  # hex: 128 bits of the HMAC
MADE_CACHE = 4096  # tokens remembered, for the tasks being polled


def new_secret() -> bytes:
    """A fresh link secret from the operating system's generator."""
    return secrets.token_bytes(SECRET_BYTES)


class ResultLinks:
    """Makes and checks the token in each task's result link."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("a link secret needs at least 16 bytes")
        self._secret = secret
        self._made: dict[str, str] = {}  # a task's link is made on every poll of it

    def token(self, task_id: str) -> str:
        token = self._made.get(task_id)
        if token is None:
            digest = hmac.new(self._secret, task_id.lower().encode(), hashlib.sha256)
            token = digest.hexdigest()[:TOKEN_CHARS]
            if len(self._made) >= MADE_CACHE:
                self._made.clear()
            self._made[task_id] = token
        return token

    def path(self, task_id: str) -> str:
        """The path of the task's result video, token included."""
        return result_path(task_id, self.token(task_id))

    def valid(self, task_id: str, token: str) -> bool:
        """Whether ``token`` is the one this fake made for ``task_id`` (in constant time)."""
        expected = self.token(task_id).encode()
        return hmac.compare_digest(expected, token.encode("utf-8", "replace"))
