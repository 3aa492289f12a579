"""What the journal keeps of each request's headers: bounded in count and bytes, and never a
credential (mockserver/domain/journal.py); and what the control plane shows of it."""

from __future__ import annotations

import tracemalloc

from mockserver import Settings
from mockserver.domain.journal import (
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_VALUE_BYTES,
    Journal,
    fingerprint,
)
from tests.helpers import ADMIN, ADMIN_TOKEN, CREATE_PATH, body, fake_app

SECRET_KEY = "sk-live-0123456789abcdef"


def _size(journal: Journal) -> int:
    """The bytes of header names and values the journal hands out."""
    return sum(len(n) + len(v) for e in journal.entries() for n, v in e.headers)


def test_sixty_kilobyte_headers_do_not_pile_up() -> None:
    # Reproduces a finding: the journal kept each request's raw headers, so 1,000 requests
    # with 60 KB headers (under the 64 KiB head bound) held about 60 MB more.
    journal = Journal(1000)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for n in range(1000):
            big = bytes([65 + n % 26]) * 60_000  # a fresh object each time, as from a socket
            headers = [(b"host", b"x"), (b"x-padding", big), (b"authorization", b"Bearer k")]
            journal.record((float(n), "GET", "/r", 200, 1.0, headers))
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "lineno"))
    finally:
        tracemalloc.stop()
    assert grown < 5_000_000, f"the journal grew by {grown / 1e6:.1f} MB for 1,000 requests"
    assert _size(journal) <= 1000 * MAX_HEADER_BYTES
    (host, padding, auth) = journal.entries()[-1].headers
    assert host == ("host", "x")
    assert padding == ("x-padding", "L" * MAX_VALUE_BYTES + "...")
    assert auth == ("authorization", f"Bearer {fingerprint('k')}")


def test_headers_are_bounded_in_count_and_bytes() -> None:
    journal = Journal(3)
    many = [(f"x-h{n}".encode(), b"v") for n in range(100)]
    journal.record((0.0, "GET", "/many", 200, 1.0, many))
    wide = [(f"x-w{n}".encode(), b"w" * 400) for n in range(30)]
    journal.record((1.0, "GET", "/wide", 200, 1.0, wide))
    first, second = journal.entries()
    assert [name for name, _ in first.headers] == [f"x-h{n}" for n in range(MAX_HEADERS)]
    kept = sum(len(n) + len(v) for n, v in second.headers)
    assert kept <= MAX_HEADER_BYTES
    assert len(second.headers) == MAX_HEADER_BYTES // (len("x-w00") + 400)


def test_credentials_are_never_stored() -> None:
    journal = Journal(1)
    headers = [
        (b"authorization", f"Bearer {SECRET_KEY}".encode()),
        (b"cookie", b"session=abc123secret"),
        (b"proxy-authorization", b"Basic dXNlcjpzZWNyZXQ="),
        (b"x-wan-mock-admin-token", ADMIN_TOKEN.encode()),
        (b"x-api-key", SECRET_KEY.encode()),
        (b"user-agent", b"my-app/1.0"),
    ]
    journal.record((0.0, "POST", "/x", 202, 1.0, headers))
    (entry,) = journal.entries()
    assert dict(entry.headers) == {
        "authorization": f"Bearer {fingerprint(SECRET_KEY)}",
        "cookie": "***",
        "proxy-authorization": "***",
        "x-wan-mock-admin-token": "***",
        "x-api-key": "***",
        "user-agent": "my-app/1.0",
    }
    assert entry.owner == fingerprint(SECRET_KEY)
    text = repr(entry)
    for secret in (SECRET_KEY, "abc123secret", "dXNlcjpzZWNyZXQ=", ADMIN_TOKEN):
        assert secret not in text
    # A scheme other than Bearer is not a key this fake knows: hidden, no owner.
    journal.record((1.0, "GET", "/y", 401, 1.0, [(b"authorization", b"Basic c2VjcmV0")]))
    (basic,) = journal.entries()
    assert (basic.headers, basic.owner) == ((("authorization", "***"),), None)


def test_the_control_plane_shows_redacted_headers_and_no_query_string() -> None:
    with fake_app(Settings(seed=1, admin_token=ADMIN_TOKEN), headers=ADMIN) as fake:
        auth = {"authorization": f"Bearer {SECRET_KEY}", "cookie": "c=1"}
        response = fake.client.post(CREATE_PATH, json=body(), headers=auth)
        assert response.status_code == 202, response.text
        fake.client.get(f"{CREATE_PATH}/x?key={SECRET_KEY}&sig=abc", headers=auth)
        answer = fake.client.get("/_mock/journal")
        assert answer.status_code == 200, answer.text
        for secret in (SECRET_KEY, ADMIN_TOKEN, "sig=abc"):
            assert secret not in answer.text
        create, poll = answer.json()["entries"]
        assert poll["path"] == f"{CREATE_PATH}/x"
        shown = dict(create["headers"])
        assert shown["authorization"] == f"Bearer {fingerprint(SECRET_KEY)}"
        assert shown["cookie"] == "***"
        assert shown["x-wan-mock-admin-token"] == "***"
        assert shown["content-type"] == "application/json"
