"""Who may use the control plane: the admin token on every endpoint, loopback clients
without one (httpx's ASGITransport sets the client address), and the CLI side of the guard:
which hosts count as loopback and the admin token made up for the others."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from mockserver import ManualClock, Settings, cli, create_app, launch
from mockserver.server import app as app_module
from mockserver.server.app import MockApp
from tests.helpers import (
    ADMIN,
    ADMIN_TOKEN,
    AUTH,
    BASE_URL,
    CREATE_PATH,
    START,
    Fake,
    assert_error,
    body,
    fake_app,
)

# --- the admin guard ----------------------------------------------------------------------------

# Every method of every control-plane route, with a body it accepts (a state-changing call is
# always JSON; reset last: it removes the tasks the others act on).
ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/_mock/health", None),
    ("GET", "/_mock/clock", None),
    ("POST", "/_mock/clock/advance", {"seconds": 1}),
    ("POST", "/_mock/clock/freeze", {}),
    ("POST", "/_mock/clock/resume", {}),
    ("GET", "/_mock/tasks", None),
    ("GET", "/_mock/tasks/{first}", None),
    ("POST", "/_mock/tasks/{first}/stick", {}),
    ("POST", "/_mock/tasks/{first}/succeed", {}),
    ("POST", "/_mock/tasks/{second}/fail", {"code": 3002}),
    ("GET", "/_mock/scenarios", None),
    ("POST", "/_mock/scenarios", {"scenario": "slow"}),
    ("DELETE", "/_mock/scenarios", {}),
    ("GET", "/_mock/settings", None),
    ("PATCH", "/_mock/settings", {"failure_rate": 0.5}),
    ("GET", "/_mock/journal", None),
    ("POST", "/_mock/reset", {}),
]
ENDPOINT_IDS = [f"{method} {path}" for method, path, _ in ENDPOINTS]


def _two_tasks(fake: Fake) -> dict[str, str]:
    return {"first": fake.create(), "second": fake.create()}


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Wan-Mock-Admin-Token": "wrong-token"}, {"X-Wan-Mock-Admin-Token": ADMIN_TOKEN + "x"}],
    ids=["no-token", "wrong-token", "longer-token"],
)
def test_admin_token_is_required_on_every_endpoint(headers: dict[str, str]) -> None:
    with fake_app(Settings(seed=1, admin_token=ADMIN_TOKEN)) as fake:
        ids = _two_tasks(fake)
        for method, path, payload in ENDPOINTS:
            response = fake.client.request(
                method, path.format(**ids), json=payload, headers=headers
            )
            error = assert_error(response, 403)
            assert error["error_code"] == 403
            assert "X-Wan-Mock-Admin-Token" in error["detail"], error
        # Nothing the refused calls asked for happened.
        state = fake.ok("GET", "/_mock/tasks", headers=ADMIN)
        assert [t["status"] for t in state["tasks"]] == ["pending", "pending"]
        assert fake.ok("GET", "/_mock/clock", headers=ADMIN)["clock"]["unix"] == START
        assert fake.ok("GET", "/_mock/settings", headers=ADMIN)["failure_rate"] == 0.0


def test_the_right_admin_token_opens_every_endpoint() -> None:
    with fake_app(Settings(seed=1, admin_token=ADMIN_TOKEN), headers=ADMIN) as fake:
        ids = _two_tasks(fake)
        for method, path, payload in ENDPOINTS:
            fake.ok(method, path.format(**ids), json=payload)


def test_patching_the_admin_token_switches_it_live_and_reset_restores_it() -> None:
    with fake_app(Settings(seed=1, admin_token=ADMIN_TOKEN)) as fake:
        fake.ok("PATCH", "/_mock/settings", json={"admin_token": "n3w-token!"}, headers=ADMIN)
        assert fake.client.get("/_mock/health", headers=ADMIN).status_code == 403
        new = {"X-Wan-Mock-Admin-Token": "n3w-token!"}
        fake.ok("POST", "/_mock/reset", headers=new)
        assert fake.client.get("/_mock/health", headers=new).status_code == 403
        fake.ok("GET", "/_mock/health", headers=ADMIN)


async def _sweep(
    settings: Settings, client: tuple[str, int], headers: dict[str, str] | None = None
) -> list[tuple[str, int, Any]]:
    """Every endpoint from ``client``'s address: (endpoint, status, body)."""
    app = create_app(settings, clock=ManualClock())
    transport = httpx.ASGITransport(app=app, client=client)
    answers: list[tuple[str, int, Any]] = []
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, headers={**AUTH, **(headers or {})}
    ) as http:
        ids: dict[str, str] = {}
        for name in ("first", "second"):
            created = await http.post(CREATE_PATH, json=body())
            assert created.status_code == 202, f"the API refused {client}: {created.text}"
            ids[name] = created.json()["task_info"]["id"]
        for method, path, payload in ENDPOINTS:
            response = await http.request(method, path.format(**ids), json=payload)
            answers.append((f"{method} {path}", response.status_code, response.json()))
    return answers


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.1.10", "8.8.8.8", "::ffff:10.0.0.1"])
def test_without_a_token_other_hosts_are_refused(address: str) -> None:
    answers = asyncio.run(_sweep(Settings(seed=1), (address, 5555)))
    for endpoint, status, answer in answers:
        assert status == 403, f"{endpoint} from {address}: {status} {answer}"
        assert answer["error_code"] == 403
        assert "--admin-token" in answer["detail"], answer


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.53", "::1"])
def test_without_a_token_loopback_clients_are_served(address: str) -> None:
    for endpoint, status, answer in asyncio.run(_sweep(Settings(seed=1), (address, 5555))):
        assert status == 200, f"{endpoint} from {address}: {status} {answer}"


def test_with_a_token_every_client_needs_it() -> None:
    settings = Settings(seed=1, admin_token=ADMIN_TOKEN)
    for address in ("127.0.0.1", "10.1.2.3"):
        for endpoint, status, _ in asyncio.run(_sweep(settings, (address, 1))):
            assert status == 403, f"{endpoint} from {address} without the token: {status}"
        for endpoint, status, answer in asyncio.run(_sweep(settings, (address, 1), ADMIN)):
            assert status == 200, f"{endpoint} from {address} with the token: {status} {answer}"


# --- CLI: loopback and the made-up token --------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert launch._is_loopback(host) is loopback


@dataclass
class Served:
    settings: Settings
    output: str
    bound: tuple[str, int]


@pytest.fixture
def serve_without_listening(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[[Callable[[], int]], Served]]:
    """Run the serve path up to uvicorn: the socket is a loopback one whatever the host, and
    uvicorn never runs. Yields a function that runs ``call`` and reports what serve did."""
    made: list[Settings] = []
    sockets: list[socket.socket] = []
    bound: list[tuple[str, int]] = []
    real_create_app = app_module.create_app

    def create(settings: Settings | None = None, **kwargs: Any) -> MockApp:
        assert settings is not None
        made.append(settings)
        return real_create_app(settings, **kwargs)

    def bind(host: str, port: int) -> socket.socket:
        bound.append((host, port))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        return sock

    def run(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        assert sockets, "serve gave uvicorn no socket"

    monkeypatch.setattr(app_module, "create_app", create)
    monkeypatch.setattr(launch, "_bind", bind)
    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr(gc, "freeze", lambda: None)
    monkeypatch.setattr(logging.getLogger("uvicorn.error"), "filters", [])

    def serve(call: Callable[[], int]) -> Served:
        assert call() == 0
        return Served(made[-1], capsys.readouterr().out, bound[-1])

    try:
        yield serve
    finally:
        for sock in sockets:
            sock.close()


TOKEN_LINE = re.compile(r"admin token \(X-Wan-Mock-Admin-Token\): (\S+)")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_serve_beyond_loopback_makes_up_an_admin_token(
    serve_without_listening: Callable[[Callable[[], int]], Served], host: str
) -> None:
    settings = Settings(host=host, port=0, access_log=False)
    served = serve_without_listening(lambda: launch.serve(settings))
    assert served.bound == (host, 0)
    token = served.settings.admin_token
    assert token is not None, "no admin token was made up for a non-loopback host"
    assert re.fullmatch(r"\S{16,}", token), token
    assert served.settings.validated().admin_token == token  # the token passes its own check
    match = TOKEN_LINE.search(served.output)
    assert match is not None, served.output
    assert match.group(1) == token
    again = serve_without_listening(lambda: launch.serve(settings))
    assert again.settings.admin_token != token, "the made-up token is not random"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_serve_on_loopback_needs_no_token(
    serve_without_listening: Callable[[Callable[[], int]], Served], host: str
) -> None:
    served = serve_without_listening(lambda: launch.serve(Settings(host=host, port=0)))
    assert served.settings.admin_token is None
    assert "admin token" not in served.output


def test_serve_keeps_a_given_token_beyond_loopback(
    serve_without_listening: Callable[[Callable[[], int]], Served],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [n for n in os.environ if n.startswith("WAN_MOCK_")]:
        monkeypatch.delenv(name)
    argv = ["serve", "--host", "0.0.0.0", "--port", "0", "--admin-token", ADMIN_TOKEN]
    served = serve_without_listening(lambda: cli.main(argv))
    assert served.settings.admin_token == ADMIN_TOKEN
    assert "admin token (X-Wan-Mock-Admin-Token): ***\n" in served.output  # chosen: masked
    assert ADMIN_TOKEN not in served.output
    assert "http://127.0.0.1:" in served.output  # 0.0.0.0 is advertised as loopback


def test_banner_shows_the_token_only_when_there_is_one() -> None:
    with_token = launch._banner(Settings(admin_token=ADMIN_TOKEN), "http://127.0.0.1:9")
    assert "admin token (X-Wan-Mock-Admin-Token): ***" in with_token
    assert ADMIN_TOKEN not in with_token
    assert "http://127.0.0.1:9/_mock/" in with_token
    assert "admin token" not in launch._banner(Settings(), "http://127.0.0.1:9")
