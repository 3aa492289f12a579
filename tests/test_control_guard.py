"""What a web page can no longer do to a fake on the developer's machine: the control plane's
Host, origin and content-type rules (server/guard.py), in process and over a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver import Settings
from mockserver.domain.loading import SettingsError, load_settings
from mockserver.testing.server import ServerThread
from tests.helpers import (
    AUTH,
    CREATE_PATH,
    START,
    Fake,
    assert_error,
    body,
    fake_app,
)

ATTACKER = "http://attacker.example"
TEXT = {"content-type": "text/plain"}  # what a page may send anywhere without a preflight


def _untouched(fake: Fake) -> None:
    """Nothing the refused calls asked for happened: no queue, clock and tasks as they were."""
    assert fake.ok("GET", "/_mock/scenarios") == {"queue": []}
    assert fake.now() == START
    assert fake.count() == 1


# --- cross-site requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/_mock/scenarios", b'{"scenario": "fail:3002", "count": 1000000}'),
        ("POST", "/_mock/reset", b""),
        ("POST", "/_mock/clock/advance", b'{"seconds": 86400}'),
        ("PATCH", "/_mock/settings", b'{"failure_rate": 1}'),
    ],
)
def test_a_cross_site_text_plain_post_is_refused(method: str, path: str, content: bytes) -> None:
    # Reproduces a finding: a page with a foreign Origin queued fail:3002 for a million tasks,
    # reset the fake and moved its clock with a text/plain body (no preflight needed).
    with fake_app() as fake:
        fake.create()
        headers = {**TEXT, "origin": ATTACKER, "sec-fetch-site": "cross-site"}
        response = fake.client.request(method, path, content=content, headers=headers)
        error = assert_error(response, 403, code=403)
        assert "cross" in error["detail"], error
        # Without the browser's own headers the text/plain body alone is refused too.
        plain = fake.client.request(method, path, content=content, headers=TEXT)
        assert "application/json" in assert_error(plain, 415, code=415)["detail"]
        _untouched(fake)


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": ATTACKER},
        {"origin": "null"},  # a sandboxed frame or a local file
        {"origin": "http://wan-mock.test:8080"},  # the right name on another port
        {"origin": "https://wan-mock.test"},  # the right name over another scheme
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
    ],
    ids=repr,
)
def test_cross_origin_json_is_refused_even_with_the_right_type(headers: dict[str, str]) -> None:
    with fake_app() as fake:
        fake.create()
        queue = {"scenario": "fail:3002", "count": 3}
        error = assert_error(fake.client.post("/_mock/scenarios", json=queue, headers=headers), 403)
        assert "Origin" in error["detail"] or "Sec-Fetch-Site" in error["detail"], error
        assert_error(fake.client.get("/_mock/settings", headers=headers), 403)
        _untouched(fake)


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://wan-mock.test"},
        {"origin": "http://WAN-MOCK.test:80"},
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},  # typed into the address bar
    ],
    ids=repr,
)
def test_same_origin_calls_are_served(headers: dict[str, str]) -> None:
    with fake_app() as fake:
        queued = fake.ok("POST", "/_mock/scenarios", json={"scenario": "slow"}, headers=headers)
        assert queued == {"queue": [{"scenario": "slow", "remaining": 1}]}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_every_state_changing_call_needs_json(content_type: str | None) -> None:
    with fake_app() as fake:
        fake.create()
        headers = {} if content_type is None else {"content-type": content_type}
        for method, path in [
            ("POST", "/_mock/reset"),
            ("POST", "/_mock/clock/advance"),
            ("DELETE", "/_mock/scenarios"),
            ("PATCH", "/_mock/settings"),
            ("POST", "/_mock/no-such-call"),  # the rule covers unknown paths too
        ]:
            response = fake.client.request(method, path, content=b"{}", headers=headers)
            error = assert_error(response, 415, "Content-Type", code=415)
            assert "application/json" in error["detail"], error
        _untouched(fake)
        charset = {"content-type": "Application/JSON; charset=utf-8"}
        fake.ok("POST", "/_mock/clock/advance", content=b'{"seconds": 5}', headers=charset)
        assert fake.now() == START + 5


# --- DNS rebinding: the Host ---------------------------------------------------------------------


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.1.nip.io"])
def test_a_rebinding_host_cannot_read_the_settings(host: str) -> None:
    # Reproduces a finding: any Host was accepted, so a page whose name was rebound to 127.0.0.1
    # could read /_mock/settings (and with it the API keys).
    with fake_app(Settings(seed=1, api_keys=("sk-live-0123456789abcdef",))) as fake:
        for path in ("/_mock/settings", "/_mock/journal", "/_mock/tasks", "/_mock/nope"):
            response = fake.client.get(path, headers={"host": host})
            error = assert_error(response, 403, "--public-name", code=403)
            assert host in error["detail"], error
            assert "0123456789" not in response.text


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "LOCALHOST.", "127.0.0.1:9", "127.8.9.10", "[::1]:80"]
)
def test_loopback_names_are_served(host: str) -> None:
    with fake_app() as fake:
        assert fake.ok("GET", "/_mock/health", headers={"host": host})["status"] == "ok"


def test_public_names_and_the_public_url_are_served_and_can_change_live() -> None:
    settings = Settings(seed=1, public_names=("wan.internal",), public_url="https://wan.example")
    with fake_app(settings) as fake:
        for host in ("wan.internal", "WAN.internal:8443", "wan.example"):
            fake.ok("GET", "/_mock/health", headers={"host": host})
        new = {"host": "mock.corp"}
        assert_error(fake.client.get("/_mock/health", headers=new), 403)
        fake.ok("PATCH", "/_mock/settings", json={"public_names": ["mock.corp"]})
        fake.ok("GET", "/_mock/health", headers=new)
        assert_error(fake.client.get("/_mock/health", headers={"host": "wan.internal"}), 403)


def test_the_api_itself_answers_any_host() -> None:
    # By design (docs/control-plane.md): reading the API takes a key, and clients reach it
    # under names the fake cannot know (a container's service name).
    with fake_app() as fake:
        response = fake.client.post(CREATE_PATH, json=body(), headers={"host": "wan-mock"})
        assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("wan.internal", True),
        ("192.168.1.10", True),
        ("[fd00::1]", True),
        ("wan.internal:8443", False),
        ("http://wan.internal", False),
        ("wan internal", False),
    ],
)
def test_public_names_are_names_without_port_or_scheme(value: str, accepted: bool) -> None:
    if accepted:
        assert load_settings({"public_names": [value]}).public_names == (value,)
        return
    with pytest.raises(SettingsError, match=r"public_names\[0\].*--public-name.*without scheme"):
        load_settings({"public_names": [value]})


# --- over a real socket --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[ServerThread]:
    with ServerThread(Settings(api_keys=("sk-live-0123456789abcdef",))) as server:
        yield server


def _get(server: ServerThread, path: str, **headers: Any) -> httpx.Response:
    return httpx.get(server.base_url + path, headers=headers, timeout=5)


def test_over_a_socket_only_the_fakes_own_names_are_served(served: ServerThread) -> None:
    port = served.base_url.rsplit(":", 1)[1]
    for host in (f"attacker.example:{port}", "testserver", "wan-mock.test"):
        response = _get(served, "/_mock/settings", host=host)
        assert response.status_code == 403, (host, response.text)
        assert "0123456789" not in response.text
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert _get(served, "/_mock/health", host=host).status_code == 200, host


def test_over_a_socket_a_cross_site_post_is_refused(served: ServerThread) -> None:
    before = served.control.clock()
    response = httpx.post(
        served.base_url + "/_mock/clock/advance",
        content=b'{"seconds": 3600}',
        headers={**TEXT, "origin": ATTACKER},
        timeout=5,
    )
    assert response.status_code == 403, response.text
    assert served.control.clock().unix < before.unix + 3600
    # The Control client sends JSON on every state-changing call, so it keeps working.
    assert served.control.freeze().frozen
    assert served.control.resume().frozen is False
    served.control.reset()
    assert httpx.get(served.base_url + "/openapi.json", headers=AUTH, timeout=5).status_code == 200
