"""Webhooks: the events a task's plan produces, their signature, and the endpoints they go to.

The real service POSTs a signed event to each registered endpoint when a task is accepted and
when it ends; the running state sends nothing. What its public record leaves open is chosen
here and switchable by the dialect (``webhook_key``, ``webhook_digest``): the HMAC key is the
secret's UTF-8 bytes (``utf8``) or the base64 text after ``whsec_`` decoded (``base64``), and
the digest is written in hex or base64. The timestamp is unix seconds.

Pure functions and plain records only: the clock, the transport and the store are elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
import secrets
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from mockserver.domain.errors import InvalidRequest, Violation
from mockserver.domain.keys import fingerprint
from mockserver.domain.tasks import Status

EventType = Literal["task.created", "task.succeeded", "task.failed"]
EVENTS: tuple[EventType, ...] = ("task.created", "task.succeeded", "task.failed")
TERMINAL_EVENTS: dict[Status, EventType] = {
    Status.SUCCEEDED: "task.succeeded",
    Status.FAILED: "task.failed",
}
KeyReading = Literal["utf8", "base64"]
DigestForm = Literal["hex", "base64"]

MAX_ENDPOINTS = 5  # per API key, as the real console allows
MAX_URL_CHARS = 2048
MAX_DESCRIPTION_CHARS = 200
SECRET_PREFIX = "whsec_"
TOLERANCE_S = 300  # the skew the real docs recommend receivers to accept
VENDOR = "alibaba"
MODEL_NAME = "wan2.6-i2v"

ID_HEADER = "X-MuleRouter-Webhook-Id"
TIMESTAMP_HEADER = "X-MuleRouter-Webhook-Timestamp"
SIGNATURE_HEADER = "X-MuleRouter-Webhook-Signature"


Rate = Annotated[float, msgspec.Meta(ge=0, le=1)]


class WebhookFaults(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The share of tasks whose deliveries get each fault (see ``scenarios.py``); drawn in
    this order from the seeded ``webhooks`` stream, the first that hits wins."""

    duplicate: Rate = 0.0
    out_of_order: Rate = 0.0
    delay: Rate = 0.0
    drop: Rate = 0.0
    bad_signature: Rate = 0.0
    stale: Rate = 0.0
    replay: Rate = 0.0

    def draw(self, rng: random.Random) -> str | None:
        """One task's fault, or None; draws once per fault whatever the rates are, so the
        rates never shift later tasks' draws."""
        hit = None
        for name in self.__struct_fields__:
            rate: float = getattr(self, name)
            if rng.random() < rate and hit is None:
                hit = name.replace("_", "-")
        return hit


# Named sets of rates (``--webhook-faults chaos``); a table in TOML or JSON gives any other.
WEBHOOK_FAULT_PRESETS: dict[str, WebhookFaults] = {
    "none": WebhookFaults(),
    # Each fault for one task in twenty: about a third of tasks get one.
    "chaos": WebhookFaults(
        duplicate=0.05,
        out_of_order=0.05,
        delay=0.05,
        drop=0.05,
        bad_signature=0.05,
        stale=0.05,
        replay=0.05,
    ),
}


class WebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where events go. ``key`` is the API key whose tasks it hears (None: every key's)."""

    id: str
    url: str
    events: tuple[EventType, ...] = EVENTS
    secret: str
    key: str | None = None
    description: str = ""
    source: Literal["settings", "control"] = "control"

    def hears(self, owner: str, event: EventType) -> bool:
        return event in self.events and (self.key is None or self.key == owner)


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` and 24 random bytes in base64, so that it reads
    under either key reading."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def event_id(task_id: str, event: EventType) -> str:
    """The id of one task's event: the same for every endpoint and every attempt, and the same
    for the same task id (so seeded runs repeat their events)."""
    digest = hashlib.sha256(f"{task_id}/{event}".encode()).hexdigest()
    return "evt_" + digest[:24]


def envelope(event: str, ident: str, created_at: str, payload: Any) -> bytes:
    """The body of one delivery: ``{id, type, created_at, data: {vendor, model_name,
    payload}}`` as compact JSON (the bytes that are signed)."""
    body = {
        "id": ident,
        "type": event,
        "created_at": created_at,
        "data": {"vendor": VENDOR, "model_name": MODEL_NAME, "payload": payload},
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signing_key(secret: str, reading: KeyReading = "utf8") -> bytes:
    """The HMAC key a secret stands for under one reading (raises ValueError for a secret
    that the base64 reading cannot decode)."""
    if reading == "utf8":
        return secret.encode()
    text = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise ValueError("the secret after whsec_ is not base64") from None


def signature(
    secret: str,
    ident: str,
    timestamp: int,
    body: bytes,
    *,
    key: KeyReading = "utf8",
    digest: DigestForm = "hex",
) -> str:
    """The signature header's value: ``v1=`` and the HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    signed = f"{ident}.{timestamp}.".encode() + body
    mac = hmac.new(signing_key(secret, key), signed, hashlib.sha256).digest()
    text = mac.hex() if digest == "hex" else base64.b64encode(mac).decode("ascii")
    return "v1=" + text


def signed_headers(
    secret: str,
    ident: str,
    timestamp: int,
    body: bytes,
    *,
    key: KeyReading = "utf8",
    digest: DigestForm = "hex",
) -> dict[str, str]:
    """Every header of one delivery."""
    return {
        "Content-Type": "application/json",
        ID_HEADER: ident,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, ident, timestamp, body, key=key, digest=digest),
    }


class WebhookVerificationError(ValueError):
    """A delivery that a receiver must refuse; the message says why."""


class MalformedWebhook(WebhookVerificationError):
    """A header is missing or unreadable, or the body is not an event."""


class BadSignature(WebhookVerificationError):
    """No ``v1`` signature in the header matches the body under the secret."""


class StaleTimestamp(WebhookVerificationError):
    """The timestamp is further from now than the tolerance (a replay, or a wrong clock)."""


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: float = TOLERANCE_S,
    key: KeyReading = "utf8",
    digest: DigestForm = "hex",
) -> dict[str, Any]:
    """Check one delivery and return its parsed event; raises a
    :class:`WebhookVerificationError` (malformed, bad signature, stale)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    found = []
    for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER):
        value = lowered.get(name.lower())
        if not value:
            raise MalformedWebhook(f"missing header {name}")
        found.append(value)
    ident, stamp, signed = found
    if not stamp.isascii() or not stamp.isdigit():
        raise MalformedWebhook(f"{TIMESTAMP_HEADER} must be unix seconds, got {stamp!r}")
    timestamp = int(stamp)
    try:
        expected = signature(secret, ident, timestamp, body, key=key, digest=digest)
    except ValueError as exc:
        raise MalformedWebhook(f"the secret cannot be used: {exc}") from None
    # A header may carry several space-separated signatures (a secret being rotated).
    offered = [part for part in signed.split() if part.startswith("v1=")]
    if not any(hmac.compare_digest(expected, part) for part in offered):
        raise BadSignature("no v1 signature matches the body under this secret")
    if abs(now - timestamp) > tolerance:
        raise StaleTimestamp(
            f"timestamp {timestamp} is {abs(now - timestamp):.0f} s from now "
            f"(tolerance {tolerance:g} s)"
        )
    try:
        event = json.loads(body)
    except ValueError:
        raise MalformedWebhook("the body is not JSON") from None
    if not isinstance(event, dict) or event.get("id") != ident or "type" not in event:
        raise MalformedWebhook(f"the body is not an event with id {ident!r}")
    return event


def check_endpoint(
    url: Any, events: Any, description: Any = "", key: Any = None, secret: Any = None
) -> list[Violation]:
    """What is wrong with an endpoint's fields, as one violation per broken rule (the control
    plane and the ``webhooks`` setting share these rules)."""
    found: list[Violation] = []
    if not isinstance(url, str):
        found.append(Violation("url", "type", "url: must be a string"))
    elif len(url) > MAX_URL_CHARS:
        found.append(Violation("url", "length", f"url: at most {MAX_URL_CHARS} characters"))
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
            found.append(
                Violation("url", "format", "url: must be an http:// or https:// URL with a host")
            )
    if not isinstance(events, list | tuple) or not events:
        found.append(Violation("events", "type", "events: must be a non-empty list"))
    else:
        unknown = [e for e in events if e not in EVENTS]
        if unknown:
            found.append(
                Violation(
                    "events",
                    "enum",
                    f"events: unknown event {unknown[0]!r}; use {', '.join(EVENTS)}",
                )
            )
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        found.append(
            Violation(
                "description",
                "length",
                f"description: a string of at most {MAX_DESCRIPTION_CHARS} characters",
            )
        )
    if key is not None and (not isinstance(key, str) or not key.strip() or " " in key.strip()):
        found.append(Violation("key", "type", "key: must be an API key, or absent"))
    if secret is not None and (not isinstance(secret, str) or len(secret) < 8 or " " in secret):
        found.append(Violation("secret", "length", "secret: at least 8 characters, without spaces"))
    return found


class EndpointSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An endpoint the settings declare (a ``[[webhooks]]`` table): checked by the control
    plane's rules; no ``key`` means every key's tasks, no ``secret`` the shared
    ``webhook_secret``."""

    url: str
    events: tuple[str, ...] = EVENTS
    key: str | None = None
    secret: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        found = check_endpoint(self.url, self.events, self.description, self.key, self.secret)
        if found:
            raise ValueError("; ".join(violation.detail for violation in found))


def endpoint_specs(entries: tuple[str | EndpointSpec, ...]) -> tuple[EndpointSpec, ...]:
    """The ``webhooks`` setting's entries as specs (a URL alone: every key, every event)."""
    return tuple(EndpointSpec(url=e) if isinstance(e, str) else e for e in entries)


def crowded_entry(keys: list[str | None]) -> tuple[int, str] | None:
    """The index of the first endpoint (by its key, None: every key's) past
    :data:`MAX_ENDPOINTS` for some key, and the sentence the control plane refuses it with."""
    everyone = 0
    per_key: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key is None:
            everyone += 1
            busiest = max(per_key.values(), default=0)
        else:
            per_key[key] = per_key.get(key, 0) + 1
            busiest = per_key[key]
        if everyone + busiest > MAX_ENDPOINTS:
            whose = "every key" if key is None else f"key {fingerprint(key)}"
            return index, f"url: at most {MAX_ENDPOINTS} webhook endpoints for {whose}"
    return None


def raise_for(violations: list[Violation]) -> None:
    if violations:
        raise InvalidRequest(violations)
