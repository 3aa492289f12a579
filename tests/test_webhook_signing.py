"""Webhook signatures: what is signed, both readings of the secret, and what verify refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from mockserver.domain.webhooks import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BadSignature,
    MalformedWebhook,
    StaleTimestamp,
    envelope,
    event_id,
    new_secret,
    signed_headers,
    verify,
)

SECRET = "whsec_c2VjcmV0LWJ5dGVzLWZvci10ZXN0aW5n"
NOW = 1_790_000_000


def delivery(secret: str = SECRET, at: int = NOW, **readings: str) -> tuple[dict[str, str], bytes]:
    body = envelope("task.created", "evt_1", "2026-01-01T00:00:00Z", {"task_info": {"id": "t"}})
    return signed_headers(secret, "evt_1", at, body, **readings), body  # type: ignore[arg-type]


def test_signature_is_hex_hmac_of_id_timestamp_and_raw_body_under_the_secret_bytes() -> None:
    # Proves the default reading: key = the secret's UTF-8 bytes, digest in hex, signed
    # text "{id}.{timestamp}.{body}".
    headers, body = delivery()
    expected = hmac.new(SECRET.encode(), f"evt_1.{NOW}.".encode() + body, hashlib.sha256)
    assert headers[SIGNATURE_HEADER] == "v1=" + expected.hexdigest()
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    assert headers[ID_HEADER] == "evt_1"
    assert headers["Content-Type"] == "application/json"


def test_the_other_readings_decode_the_secret_and_write_base64() -> None:
    headers, body = delivery(key="base64", digest="base64")
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"evt_1.{NOW}.".encode() + body, hashlib.sha256).digest()
    assert headers[SIGNATURE_HEADER] == "v1=" + base64.b64encode(mac).decode()
    # A receiver checking under another reading refuses it: the knob is observable.
    with pytest.raises(BadSignature):
        verify(SECRET, headers, body, now=NOW)
    assert verify(SECRET, headers, body, now=NOW, key="base64", digest="base64")["id"] == "evt_1"


def test_verify_returns_the_event() -> None:
    headers, body = delivery()
    event = verify(SECRET, headers, body, now=NOW + 10)
    assert event["type"] == "task.created"
    assert event["data"] == {
        "vendor": "alibaba",
        "model_name": "wan2.6-i2v",
        "payload": {"task_info": {"id": "t"}},
    }


@pytest.mark.parametrize("change", ["secret", "body", "timestamp", "id"])
def test_verify_refuses_anything_changed(change: str) -> None:
    headers, body = delivery()
    if change == "secret":
        with pytest.raises(BadSignature):
            verify("whsec_other", headers, body, now=NOW)
        return
    if change == "body":
        body = body.replace(b"task.created", b"task.failed!")
    elif change == "timestamp":
        headers[TIMESTAMP_HEADER] = str(NOW - 1)
    else:
        headers[ID_HEADER] = "evt_2"
    with pytest.raises(BadSignature):
        verify(SECRET, headers, body, now=NOW)


def test_verify_refuses_a_stale_or_future_timestamp_past_the_tolerance() -> None:
    headers, body = delivery(at=NOW - 301)
    with pytest.raises(StaleTimestamp, match="tolerance 300"):
        verify(SECRET, headers, body, now=NOW)
    assert verify(SECRET, headers, body, now=NOW, tolerance=400)["id"] == "evt_1"
    ahead, body = delivery(at=NOW + 301)
    with pytest.raises(StaleTimestamp):
        verify(SECRET, ahead, body, now=NOW)


def test_verify_names_a_missing_or_malformed_header() -> None:
    headers, body = delivery()
    for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER):
        partial = {k: v for k, v in headers.items() if k != name}
        with pytest.raises(MalformedWebhook, match=name):
            verify(SECRET, partial, body, now=NOW)
    with pytest.raises(MalformedWebhook, match="unix seconds"):
        verify(SECRET, {**headers, TIMESTAMP_HEADER: "yesterday"}, body, now=NOW)


def test_headers_are_read_in_any_case_and_a_rotated_secret_signature_list_passes() -> None:
    headers, body = delivery()
    lowered = {k.lower(): v for k, v in headers.items()}
    lowered[SIGNATURE_HEADER.lower()] = "v1=deadbeef " + lowered[SIGNATURE_HEADER.lower()]
    assert verify(SECRET, lowered, body, now=NOW)["id"] == "evt_1"


def test_a_signed_body_that_is_not_the_event_is_malformed() -> None:
    body = json.dumps({"id": "evt_other", "type": "x"}).encode()
    headers = signed_headers(SECRET, "evt_1", NOW, body)
    with pytest.raises(MalformedWebhook, match="evt_1"):
        verify(SECRET, headers, body, now=NOW)


def test_secrets_and_event_ids() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert new_secret() != secret
    # The same task's event has one id for every endpoint and attempt; events differ.
    assert event_id("t1", "task.created") == event_id("t1", "task.created")
    assert event_id("t1", "task.created") != event_id("t1", "task.succeeded")
    assert event_id("t1", "task.created").startswith("evt_")
