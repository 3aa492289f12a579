"""What the plugin's tests share: the conftest of every inner suite (run by ``pytester`` in
its own process), the first task id of a seed, and reading an inner run's outcomes.

"Other hosts" are a plain HTTP server on 127.0.0.1 that connections to ``other-host.test``
are redirected to, so nothing here touches the network or DNS."""

from __future__ import annotations

import re

import httpx
import pytest

from mockserver import Settings, create_app
from mockserver.testing.bridge import AppTransport
from tests.helpers import CREATE_PATH

# Plugins the inner runs do not need (they only cost start-up time); pytest-asyncio's loop scope
# set, so that it does not warn.
QUIET = (
    *("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:cacheprovider"),
    *("-o", "asyncio_default_fixture_loop_scope=function"),
)


def first_task_id(seed: int) -> str:
    """The id the first task gets under ``seed``, from a plain app built without the plugin."""
    transport = AppTransport(create_app(Settings(seed=seed, clock="virtual")))
    with httpx.Client(transport=transport, base_url="http://reference.test") as client:
        created = client.post(
            CREATE_PATH,
            json={"prompt": "A cat", "image": "https://example.com/cat.jpg"},
            headers={"Authorization": "Bearer reference"},
        )
    found = created.json()["task_info"]["id"]
    assert isinstance(found, str)
    return found


FIRST_IDS = {seed: first_task_id(seed) for seed in (0, 5, 9)}
assert len(set(FIRST_IDS.values())) == 3

# Shared by every inner suite: constants, a loopback HTTP server and ``fake``, which is either
# fixture (the same WanMock API).
INNER_CONFTEST = """
import http.server
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

API_PATH = __PATH__
REAL = "https://api.mulerouter.ai"
AUTH = {"Authorization": "Bearer inner-key"}
BODY = {"prompt": "A cat", "image": "https://example.com/cat.jpg"}
FIRST_IDS = __FIRST_IDS__
RECORDS = Path(__file__).parent / "records"


def record(name, text):
    RECORDS.mkdir(exist_ok=True)
    with (RECORDS / name).open("a") as out:
        out.write(text + "\\n")


@pytest.fixture
def other_host(monkeypatch):
    \"\"\"``http://other-host.test``: a host wan-mock does not fake. Connections to it land on
    a plain HTTP server on 127.0.0.1 (httpcore's connect is redirected), so a request let through
    really goes out over a socket, and nothing touches the network or DNS.\"\"\"
    from httpcore._backends.anyio import AnyIOBackend
    from httpcore._backends.sync import SyncBackend

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.headers["Host"] + self.path)
            body = b"hello from the other host"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    local = server.server_port

    def target(host, port):
        return ("127.0.0.1", local) if host == "other-host.test" else (host, port)

    sync_connect, async_connect = SyncBackend.connect_tcp, AnyIOBackend.connect_tcp

    def connect(self, host, port, *args, **kwargs):
        return sync_connect(self, *target(host, port), *args, **kwargs)

    async def aconnect(self, host, port, *args, **kwargs):
        return await async_connect(self, *target(host, port), *args, **kwargs)

    monkeypatch.setattr(SyncBackend, "connect_tcp", connect)
    monkeypatch.setattr(AnyIOBackend, "connect_tcp", aconnect)
    yield SimpleNamespace(
        url="http://other-host.test", loopback_url=f"http://127.0.0.1:{local}", hits=hits
    )
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["wan_mock", "wan_server"])
def fake(request):
    mock = request.getfixturevalue(request.param)
    if request.param == "wan_mock":
        assert mock.api_url == REAL + API_PATH
    else:
        assert mock.base_url.startswith("http://127.0.0.1:")
    return mock


def create(fake, **fields):
    import httpx

    answer = httpx.post(fake.api_url, json={**BODY, **fields}, headers=AUTH)
    assert answer.status_code == 202, answer.text
    return answer.json()["task_info"]


def poll(fake, task_id):
    import httpx

    answer = httpx.get(f"{fake.api_url}/{task_id}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    return answer.json()
""".replace("__PATH__", repr(CREATE_PATH)).replace("__FIRST_IDS__", repr(FIRST_IDS))


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Each inner test's outcome from the ``-rA`` summary (``PASSED+ERROR`` for a test whose
    teardown failed)."""
    found: dict[str, set[str]] = {}
    for line in result.outlines:
        match = re.match(r"(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) [^:\s]+::(\S+)", line)
        if match:
            found.setdefault(match.group(2), set()).add(match.group(1))
    return {name: "+".join(sorted(kinds, reverse=True)) for name, kinds in found.items()}


def check(result: pytest.RunResult, expected: dict[str, str]) -> None:
    """The inner run's outcomes are exactly ``expected``; otherwise show what differs and the
    inner run's summary."""
    got = outcomes(result)
    wrong = {
        name: f"expected {expected.get(name, 'not run')}, got {got.get(name, 'not run')}"
        for name in sorted(set(got) | set(expected))
        if got.get(name) != expected.get(name)
    }
    summary = result.stdout.str().rpartition("short test summary info")[2]
    assert not wrong, f"inner outcomes differ: {wrong}\n{summary}"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*QUIET, "-rA", *args, timeout=120)


def records(pytester: pytest.Pytester, name: str) -> list[str]:
    path = pytester.path / "records" / name
    return path.read_text().splitlines() if path.exists() else []
