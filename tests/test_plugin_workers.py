"""The plugin across processes and threads: xdist workers share nothing, the served fake works
beside the in-process one, and the server thread starts within a deadline or says why not."""

from __future__ import annotations

import time

import httpx
import pytest
import uvicorn

from mockserver import Settings
from mockserver.testing import server as server_module
from mockserver.testing.api import WanMock
from mockserver.testing.server import ServerThread
from tests.helpers import CREATE_PATH
from tests.inner_suites import FIRST_IDS, check, records, run

pytest_plugins = ["pytester"]


XDIST_SUITE = """
import os

import pytest

from conftest import FIRST_IDS, create, poll, record

# Two groups, so that ``--dist loadgroup`` gives each worker wan_mock and wan_server tests.
N = [pytest.param(n, marks=pytest.mark.xdist_group(f"g{n % 2}")) for n in range(4)]


def note(fake):
    record("workers", os.environ["PYTEST_XDIST_WORKER"] + " " + fake.base_url)


@pytest.mark.parametrize("n", N)
@pytest.mark.wan_mock(seed=5)
def test_same_seed_everywhere(fake, n):
    note(fake)
    assert create(fake)["id"] == FIRST_IDS[5]
    assert len(fake.tasks()) == 1


@pytest.mark.parametrize("n", N)
def test_settings_stay_per_test(fake, n):
    note(fake)
    assert fake.control.settings()["failure_rate"] == 0
    task = create(fake)
    fake.configure(failure_rate=1.0)
    fake.queue("stuck", 2)
    fake.advance(60)
    assert poll(fake, task["id"])["task_info"]["status"] == "succeeded"
"""


def test_xdist_workers_share_nothing(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_xdist=XDIST_SUITE)
    result = run(inner, "-n", "2", "--dist", "loadgroup")
    expected = {
        f"{name}[{fixture}-{n}]": "PASSED"
        for name in ("test_same_seed_everywhere", "test_settings_stay_per_test")
        for fixture in ("wan_mock", "wan_server")
        for n in range(4)
    }
    check(result, expected)
    result.stdout.fnmatch_lines(["*created: 2/2 workers*"])
    seen = [line.split() for line in records(inner, "workers")]
    assert len(seen) == 16
    servers = {(worker, url) for worker, url in seen if url.startswith("http://127.0.0.1:")}
    assert {worker for worker, _ in servers} == {"gw0", "gw1"}, seen
    assert len(servers) == 2  # one server per worker, each on its own port
    assert len({url for _, url in servers}) == 2


# Both fixtures in one test.


@pytest.mark.wan_mock(seed=5)
def test_wan_server_works_beside_wan_mock(wan_mock: WanMock, wan_server: WanMock) -> None:
    """The in-process router must not refuse the served fake's own traffic: the plugin's control
    calls and a client's requests to ``wan_server.base_url`` reach the server."""
    created = httpx.post(
        wan_server.api_url,
        json={"prompt": "A cat", "image": "https://example.com/cat.jpg"},
        headers={"Authorization": "Bearer k"},
    )
    assert created.json()["task_info"]["id"] == FIRST_IDS[5]
    assert [c.path for c in wan_server.calls] == [CREATE_PATH]
    assert wan_mock.calls == []


# The served fake's start-up.


def test_the_server_thread_has_a_start_up_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    def never_starts(self: uvicorn.Server, sockets: object = None) -> None:
        while not self.should_exit:
            time.sleep(0.01)

    monkeypatch.setattr(server_module, "START_DEADLINE", 0.2)
    monkeypatch.setattr(uvicorn.Server, "run", never_starts)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"did not start within 0\.2 s"):
        ServerThread(Settings(clock="virtual")).start()
    assert time.monotonic() - started < 2


def test_the_server_thread_reports_a_failed_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(self: uvicorn.Server, sockets: object = None) -> None:
        raise OSError("no sockets today")

    monkeypatch.setattr(uvicorn.Server, "run", fails)
    server = ServerThread(Settings(clock="virtual"))
    with pytest.raises(RuntimeError, match=r"failed to start: OSError.*no sockets today"):
        server.start()
    server.stop()  # releases the bound socket
