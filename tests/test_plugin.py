"""The pytest plugin, proven from the outside: inner test suites run by ``pytester`` in their
own process, with outcomes and output checked test by test.

Inner runs are grouped (one per configuration: defaults, ini file, command line, xdist) to keep
the suite fast. "Other hosts" are a plain HTTP server on 127.0.0.1 that connections to
``other-host.test`` are redirected to, so nothing here touches the network or DNS.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest
import uvicorn

from mockserver import Settings, create_app
from mockserver.testing import server as server_module
from mockserver.testing.api import WanMock
from mockserver.testing.bridge import AppTransport
from mockserver.testing.server import ServerThread

pytest_plugins = ["pytester"]

PATH = "/vendors/alibaba/v1/wan2.6-i2v/generation"
# Plugins the inner runs do not need (they only cost start-up time).
QUIET = ("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:cacheprovider")


def first_task_id(seed: int) -> str:
    """The id the first task gets under ``seed``, from a plain app built without the plugin."""
    transport = AppTransport(create_app(Settings(seed=seed, clock="virtual")))
    with httpx.Client(transport=transport, base_url="http://reference.test") as client:
        created = client.post(
            PATH,
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
""".replace("__PATH__", repr(PATH)).replace("__FIRST_IDS__", repr(FIRST_IDS))


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


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(INNER_CONFTEST)
    return pytester


def records(pytester: pytest.Pytester, name: str) -> list[str]:
    path = pytester.path / "records" / name
    return path.read_text().splitlines() if path.exists() else []


# The default configuration: fixtures, marker, clients, failures and their messages.

DEFAULT_SUITE = """
import asyncio
import subprocess

import httpx
import msgspec
import pytest
import requests

from conftest import API_PATH, AUTH, BODY, FIRST_IDS, REAL, create, poll, record
from mockserver import Settings
from mockserver.testing.router import UnmockedRequest

EARLY = httpx.Client(headers=AUTH)  # made at import, before any fixture: patched all the same


def is_mp4(data):
    return data[4:8] == b"ftyp" and b"moov" in data[:8192] and len(data) > 10_000
MULERUN = "https://api.mulerun.com" + API_PATH


def test_sync_clients_run_the_whole_lifecycle(wan_mock):
    created = EARLY.post(REAL + API_PATH, json=BODY)
    assert created.status_code == 202
    task_id = created.json()["task_info"]["id"]
    assert httpx.get(f"{REAL}{API_PATH}/{task_id}", headers=AUTH).json()["task_info"][
        "status"
    ] == "pending"
    wan_mock.advance(60)
    with httpx.Client(headers=AUTH) as client:
        task = client.get(f"{REAL}{API_PATH}/{task_id}").json()
    assert task["task_info"]["status"] == "succeeded"
    video = httpx.get(task["videos"][0])
    assert task["videos"][0] == f"{REAL}/files/{task_id}/result_000.mp4"
    assert video.headers["content-type"] == "video/mp4"
    assert is_mp4(video.content)
    other = httpx.post(MULERUN, json=BODY, headers=AUTH)
    assert other.status_code == 202
    wan_mock.assert_called("GET", "/files/", times=1)
    assert [(c.method, c.status) for c in wan_mock.calls] == [
        ("POST", 202), ("GET", 200), ("GET", 200), ("GET", 200), ("POST", 202)
    ]


def test_async_clients_with_asyncio_run(wan_mock):
    async def main():
        async with httpx.AsyncClient(headers=AUTH) as client:
            created = await client.post(MULERUN, json=BODY)
            task_id = created.json()["task_info"]["id"]
            wan_mock.advance(60)
            task = (await client.get(f"{MULERUN}/{task_id}")).json()
            video = await client.get(task["videos"][0])
            return task, video

    task, video = asyncio.run(main())
    assert task["task_info"]["status"] == "succeeded"
    assert task["videos"][0].startswith("https://api.mulerun.com/files/")
    assert is_mp4(video.content)
    assert len(wan_mock.tasks()) == 1


@pytest.mark.anyio
async def test_async_clients_under_anyio(wan_mock):
    async with httpx.AsyncClient(headers=AUTH) as client:
        created = await client.post(REAL + API_PATH, json=BODY)
        task_id = created.json()["task_info"]["id"]
        wan_mock.advance(60)
        task = (await client.get(f"{REAL}{API_PATH}/{task_id}")).json()
        head = await client.head(task["videos"][0])
        assert head.status_code == 200
        assert int(head.headers["content-length"]) > 10_000
        # a sync client inside the async test reaches the same fake
        assert httpx.get(f"{REAL}{API_PATH}/{task_id}", headers=AUTH).json() == task


def test_other_hosts_fail_even_when_http_errors_are_swallowed(wan_mock):
    try:
        httpx.get("https://example.org/data?page=2")
    except httpx.HTTPError:
        pass


def test_other_hosts_fail_for_async_clients_too(wan_mock):
    async def main():
        async with httpx.AsyncClient() as client:
            await client.post("https://example.org/async", json={})

    with pytest.raises(UnmockedRequest) as caught:
        asyncio.run(main())
    message = str(caught.value)
    assert "POST https://example.org/async was not sent" in message
    assert "api.mulerouter.ai, api.mulerun.com" in message


def test_other_hosts_are_refused_before_any_connection(wan_mock, other_host):
    with pytest.raises(UnmockedRequest, match="GET http://other-host.test/sync was not sent"):
        httpx.get(other_host.url + "/sync")
    assert other_host.hits == []


def test_loopback_servers_stay_reachable(wan_mock, other_host):
    assert httpx.get(other_host.loopback_url + "/local").status_code == 200
    assert other_host.hits == [other_host.loopback_url[len("http://"):] + "/local"]


def test_an_unconfigured_proxy_host_is_refused(wan_mock):
    with pytest.raises(UnmockedRequest, match="my-proxy.local"):
        httpx.post("http://my-proxy.local" + API_PATH, json=BODY, headers=AUTH)


@pytest.mark.wan_mock(passthrough=True)
def test_passthrough_marker_lets_other_hosts_through(wan_mock, other_host):
    assert httpx.get(other_host.url + "/sync").text == "hello from the other host"

    async def main():
        async with httpx.AsyncClient() as client:
            return (await client.get(other_host.url + "/async")).text

    assert asyncio.run(main()) == "hello from the other host"
    assert other_host.hits == ["other-host.test/sync", "other-host.test/async"]
    assert httpx.post(REAL + API_PATH, json=BODY, headers=AUTH).status_code == 202
    assert [c.path for c in wan_mock.calls] == [API_PATH]  # the fake still answers its hosts


# The marker.


@pytest.mark.wan_mock(seed=5)
def test_marker_seed(fake):
    assert create(fake)["id"] == FIRST_IDS[5]
    assert fake.control.settings()["seed"] == 5


@pytest.mark.wan_mock(profile="legacy")
def test_marker_profile(fake):
    task = create(fake)
    fake.advance(60)
    answer = poll(fake, task["id"])
    assert answer["task_info"]["status"] == "completed"
    assert answer["task_info"]["updated_at"].endswith("Z")


@pytest.mark.wan_mock(scenario="fail:3002")
def test_marker_scenario(fake):
    ids = [create(fake)["id"], create(fake, prompt="A dog")["id"]]
    fake.advance(300)
    for task_id in ids:
        info = poll(fake, task_id)["task_info"]
        assert (info["status"], info["error"]["code"]) == ("failed", 3002)
    assert [t.scenario for t in fake.tasks()] == ["fail:3002", "fail:3002"]


@pytest.mark.wan_mock(failure_rate=1.0, timing="realistic")
def test_marker_settings(fake):
    task = create(fake)
    fake.advance(10)
    assert poll(fake, task["id"])["task_info"]["status"] in ("pending", "running")
    fake.advance(20 * 60)
    assert poll(fake, task["id"])["task_info"]["status"] == "failed"
    settings = fake.control.settings()
    assert (settings["failure_rate"], settings["timing"]) == (1.0, "realistic")


@pytest.mark.wan_mock(failure_rate=2)
def test_bad_marker_value(wan_mock):
    pass


@pytest.mark.wan_mock(nonsense=1)
def test_bad_marker_name(wan_server):
    pass


@pytest.mark.wan_mock("fail:3002")
def test_bad_marker_positional(wan_mock):
    pass


@pytest.mark.wan_mock(profile="klingon")
def test_bad_marker_profile(wan_server):
    pass


@pytest.mark.wan_mock(clock="real")
def test_bad_marker_fixed_on_server(wan_server):
    pass


# wan_server with any client.


def test_server_with_requests(wan_server):
    record("server_urls", wan_server.base_url)
    created = requests.post(wan_server.api_url, json=BODY, headers=AUTH, timeout=10)
    assert created.status_code == 202
    task_id = created.json()["task_info"]["id"]
    wan_server.advance(60)
    task = requests.get(f"{wan_server.api_url}/{task_id}", headers=AUTH, timeout=10).json()
    assert task["videos"][0] == f"{wan_server.base_url}/files/{task_id}/result_000.mp4"
    assert is_mp4(requests.get(task["videos"][0], timeout=10).content)
    wan_server.assert_task_created(prompt="A cat")


def test_server_with_a_curl_subprocess(wan_server, tmp_path):
    record("server_urls", wan_server.base_url)

    def curl(*args):
        done = subprocess.run(
            ["curl", "-sS", "--fail-with-body", *args], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    auth = "Authorization: " + AUTH["Authorization"]
    created = curl("-X", "POST", wan_server.api_url, "-H", auth,
                   "-H", "Content-Type: application/json", "-d", '{"prompt": "curl cat", '
                   '"image": "https://example.com/c.jpg", "resolution": "1080P"}')
    task_id = msgspec.json.decode(created)["task_info"]["id"]
    wan_server.advance(60)
    task = msgspec.json.decode(curl(f"{wan_server.api_url}/{task_id}", "-H", auth))
    curl("-o", str(tmp_path / "out.mp4"), task["videos"][0])
    assert is_mp4((tmp_path / "out.mp4").read_bytes())
    assert wan_server.assert_task_created(prompt="curl cat").request["resolution"] == "1080P"


def test_server_listens_on_a_free_loopback_port(wan_server):
    record("server_urls", wan_server.base_url)
    assert wan_server.base_url.startswith("http://127.0.0.1:")
    assert not wan_server.base_url.endswith(":8000")
    assert wan_server.now().mode == "virtual"


# State never leaks from one test to the next.


@pytest.mark.wan_mock(seed=9, timing="realistic")
def test_leak_a_dirties_everything(fake):
    assert create(fake)["id"] == FIRST_IDS[9]
    fake.advance(5000)
    fake.configure(failure_rate=1.0, dialect="legacy", strict=True)
    fake.queue("stuck", 3)
    fake.freeze()


@pytest.mark.wan_mock(seed=9)
def test_leak_b_starts_clean(fake):
    assert fake.now().now == "2026-01-01T00:00:00.000000+00:00"
    assert fake.calls == [] and fake.tasks() == [] and fake.control.scenarios() == []
    settings = fake.control.settings()
    assert (settings["failure_rate"], settings["timing"], settings["strict"]) == (0, "dev", False)
    assert settings["dialect"] == msgspec.to_builtins(Settings().dialect)
    task = create(fake, extra_field="ignored unless strict")
    assert task["id"] == FIRST_IDS[9]
    fake.advance(60)
    assert poll(fake, task["id"])["task_info"]["status"] == "succeeded"


def test_leak_c_default_seed(fake):
    assert fake.control.settings()["seed"] == 0
    assert create(fake)["id"] == FIRST_IDS[0]


# A server-side exception fails the test it happened in, and only that one.


def test_server_error_fails_its_test(wan_server, request, monkeypatch):
    backend = request.getfixturevalue("wan_mock_server").app.backend

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom inside the fake")

    monkeypatch.setattr(backend, "get_task", boom)
    answer = httpx.get(f"{wan_server.api_url}/some-task", headers=AUTH)
    assert answer.status_code == 500


def test_server_is_healthy_after_an_error(wan_server):
    assert httpx.get(f"{wan_server.api_url}/some-task", headers=AUTH).status_code == 404


# The assertion helpers and their failure messages.


def test_assert_helpers_pass(fake):
    task = create(fake, prompt="A lighthouse", resolution="1080P", duration=10)
    poll(fake, task["id"])
    found = fake.assert_task_created(prompt="A lighthouse", resolution="1080P")
    assert found.id == task["id"]
    assert found.request["duration"] == 10
    assert found.request["image"]["url"] == BODY["image"]
    fake.assert_called("POST", "generation", times=1)
    fake.assert_called("GET", task["id"])


def test_assert_task_created_shows_the_tasks(fake):
    create(fake, prompt="A cat", resolution="1080P")
    fake.assert_task_created(prompt="A dog", resolution="1080P")


def test_assert_task_created_with_no_task(wan_mock):
    wan_mock.assert_task_created(prompt="anything")


def test_assert_called_shows_the_calls(wan_server):
    task = create(wan_server)
    poll(wan_server, task["id"])
    httpx.get(wan_server.api_url + "/missing", headers=AUTH)
    wan_server.assert_called("GET", "/generation/", times=3)
"""

DEFAULT_OUTCOMES = {
    "test_sync_clients_run_the_whole_lifecycle": "PASSED",
    "test_async_clients_with_asyncio_run": "PASSED",
    "test_async_clients_under_anyio[asyncio]": "PASSED",
    "test_other_hosts_fail_even_when_http_errors_are_swallowed": "FAILED",
    "test_other_hosts_fail_for_async_clients_too": "PASSED",
    "test_other_hosts_are_refused_before_any_connection": "PASSED",
    "test_loopback_servers_stay_reachable": "PASSED",
    "test_an_unconfigured_proxy_host_is_refused": "PASSED",
    "test_passthrough_marker_lets_other_hosts_through": "PASSED",
    **{
        f"{name}[{fixture}]": "PASSED"
        for name in (
            "test_marker_seed",
            "test_marker_profile",
            "test_marker_scenario",
            "test_marker_settings",
            "test_leak_a_dirties_everything",
            "test_leak_b_starts_clean",
            "test_leak_c_default_seed",
            "test_assert_helpers_pass",
        )
        for fixture in ("wan_mock", "wan_server")
    },
    "test_bad_marker_value": "ERROR",
    "test_bad_marker_name": "ERROR",
    "test_bad_marker_positional": "ERROR",
    "test_bad_marker_profile": "ERROR",
    "test_bad_marker_fixed_on_server": "ERROR",
    "test_server_with_requests": "PASSED",
    "test_server_with_a_curl_subprocess": "PASSED",
    "test_server_listens_on_a_free_loopback_port": "PASSED",
    "test_server_error_fails_its_test": "PASSED+ERROR",
    "test_server_is_healthy_after_an_error": "PASSED",
    "test_assert_task_created_shows_the_tasks[wan_mock]": "FAILED",
    "test_assert_task_created_shows_the_tasks[wan_server]": "FAILED",
    "test_assert_task_created_with_no_task": "FAILED",
    "test_assert_called_shows_the_calls": "FAILED",
}


@pytest.fixture(scope="module")
def default_runs() -> dict[str, tuple[pytest.RunResult, list[str]]]:
    """The default suite runs once per module; each test below checks one aspect of it."""
    return {}


@pytest.fixture
def default_run(
    request: pytest.FixtureRequest, default_runs: dict[str, tuple[pytest.RunResult, list[str]]]
) -> pytest.RunResult:
    if "run" not in default_runs:
        pytester: pytest.Pytester = request.getfixturevalue("inner")
        pytester.makepyfile(test_inner=DEFAULT_SUITE)
        result = run(pytester, "--durations=5")
        default_runs["run"] = (result, records(pytester, "server_urls"))
    return default_runs["run"][0]


def test_default_suite_outcomes(
    default_run: pytest.RunResult, default_runs: dict[str, tuple[pytest.RunResult, list[str]]]
) -> None:
    check(default_run, DEFAULT_OUTCOMES)
    # the session server is one server, reused by every wan_server test of the run
    server_urls = default_runs["run"][1]
    assert len(server_urls) == 3
    assert len(set(server_urls)) == 1


def test_default_suite_other_host_message(default_run: pytest.RunResult) -> None:
    default_run.stdout.fnmatch_lines(
        [
            "*UnmockedRequest: wan-mock: GET https://example.org/data?page=2 was not sent: "
            "the test fakes only api.mulerouter.ai, api.mulerun.com. Add the base URL with "
            "--wan-mock-base-url (or the wan_mock_base_urls ini option), or let other hosts "
            "through with @pytest.mark.wan_mock(passthrough=True) / --wan-mock-passthrough.",
        ]
    )


def test_default_suite_bad_markers_are_usage_errors_naming_the_value(
    default_run: pytest.RunResult,
) -> None:
    default_run.stdout.fnmatch_lines_random(
        [
            "E * pytest.UsageError: wan-mock: invalid setting 'failure_rate' *must be at most 1",
            "E * pytest.UsageError: wan-mock: unknown setting(s) 'nonsense' *",
            "E * pytest.UsageError: @pytest.mark.wan_mock takes keyword arguments only",
            "E * pytest.UsageError: wan-mock: * unknown name 'klingon'; use 'default', *",
            "E * pytest.UsageError: wan-mock: clock cannot change per test on the shared server",
        ]
    )


def test_default_suite_server_error_is_raised_in_its_test(default_run: pytest.RunResult) -> None:
    default_run.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_server_error_fails_its_test*",
            "*RuntimeError: kaboom inside the fake",
        ]
    )


def test_default_suite_assertion_messages_show_what_happened(
    default_run: pytest.RunResult,
) -> None:
    first = FIRST_IDS[0]
    default_run.stdout.fnmatch_lines(
        [
            "E *AssertionError: wan-mock: no task was created with prompt='A dog', "
            "resolution='1080P'; 1 task(s) were:",
            f"E *  - {first}: prompt='A cat', resolution='1080P'",
        ]
    )
    default_run.stdout.fnmatch_lines(
        [
            "E *AssertionError: wan-mock: no task was created with prompt='anything'; "
            "no task was created at all"
        ]
    )
    default_run.stdout.fnmatch_lines(
        [
            "E *AssertionError: wan-mock: expected GET */generation/* 3 time(s), saw 2; all calls:",
            f"E *  - POST {PATH} -> 202",
            f"E *  - GET {PATH}/{first} -> 200",
            f"E *  - GET {PATH}/missing -> 404",
        ]
    )


# Suite-wide defaults: ini files and command-line options.

SUITE_WIDE = """
import asyncio

import httpx
import pytest

from conftest import API_PATH, AUTH, BODY, FIRST_IDS, create, poll
from mockserver.testing.router import UnmockedRequest

EXPECTED = {expected!r}


def test_seed_and_profile(fake):
    task = create(fake)
    assert task["id"] == FIRST_IDS[EXPECTED["seed"]]
    assert task["status"] == EXPECTED["created_status"]
    fake.advance(60)
    assert poll(fake, task["id"])["task_info"]["status"] == EXPECTED["done_status"]


def test_extra_base_urls_are_faked(wan_mock):
    for base in EXPECTED["faked"]:
        created = httpx.post(base + API_PATH, json=BODY, headers=AUTH)
        assert created.status_code == 202, base
        task_id = created.json()["task_info"]["id"]
        wan_mock.succeed(task_id)
        task = httpx.get(f"{{base}}{{API_PATH}}/{{task_id}}", headers=AUTH).json()
        assert task["videos"][0].startswith(base + "/files/")
        assert httpx.get(task["videos"][0]).content[4:8] == b"ftyp"
    assert len(wan_mock.tasks()) == len(EXPECTED["faked"])


def test_passthrough_default(wan_mock, other_host):
    if EXPECTED["passthrough"]:
        assert httpx.get(other_host.url + "/sync").status_code == 200

        async def main():
            async with httpx.AsyncClient() as client:
                return (await client.get(other_host.url + "/async")).status_code

        assert asyncio.run(main()) == 200
        assert other_host.hits == ["other-host.test/sync", "other-host.test/async"]
    else:
        with pytest.raises(UnmockedRequest):
            httpx.get(other_host.url + "/sync")
        assert other_host.hits == []


@pytest.mark.wan_mock(seed=0, profile="default", passthrough=False)
def test_the_marker_beats_suite_defaults(fake, other_host):
    task = create(fake)
    assert task["id"] == FIRST_IDS[0]
    fake.advance(60)
    assert poll(fake, task["id"])["task_info"]["status"] == "succeeded"
    if fake.base_url == "https://api.mulerouter.ai":  # wan_mock
        with pytest.raises(UnmockedRequest):
            httpx.get(other_host.url + "/x")
        assert other_host.hits == []
"""

SUITE_WIDE_OUTCOMES = {
    "test_seed_and_profile[wan_mock]": "PASSED",
    "test_seed_and_profile[wan_server]": "PASSED",
    "test_extra_base_urls_are_faked": "PASSED",
    "test_passthrough_default": "PASSED",
    "test_the_marker_beats_suite_defaults[wan_mock]": "PASSED",
    "test_the_marker_beats_suite_defaults[wan_server]": "PASSED",
}


def suite_wide(pytester: pytest.Pytester, **expected: object) -> None:
    pytester.makepyfile(test_suite_wide=SUITE_WIDE.format(expected=expected))


def test_ini_options_set_suite_wide_defaults(inner: pytest.Pytester) -> None:
    inner.makeini(
        """
        [pytest]
        wan_mock_seed = 5
        wan_mock_profile = legacy
        wan_mock_base_urls =
            http://ini-proxy.local
            https://second.example:8443
        wan_mock_passthrough = true
        """
    )
    suite_wide(
        inner,
        seed=5,
        created_status="pending",
        done_status="completed",
        faked=["http://ini-proxy.local", "https://second.example:8443"],
        passthrough=True,
    )
    result = run(inner)
    check(result, SUITE_WIDE_OUTCOMES)


def test_command_line_options_beat_pyproject_ini(inner: pytest.Pytester) -> None:
    inner.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        wan_mock_seed = "5"
        wan_mock_profile = "legacy"
        wan_mock_base_urls = ["http://ini-proxy.local"]
        """
    )
    suite_wide(
        inner,
        seed=9,
        created_status="queued",
        done_status="succeeded",
        faked=["http://ini-proxy.local", "http://my-proxy.local", "http://other-proxy.local"],
        passthrough=True,
    )
    result = run(
        inner,
        "--wan-mock-seed=9",
        "--wan-mock-profile=queued",
        "--wan-mock-base-url=http://my-proxy.local",
        "--wan-mock-base-url",
        "http://other-proxy.local",
        "--wan-mock-passthrough",
    )
    check(result, SUITE_WIDE_OUTCOMES)


def test_command_line_seed_zero_beats_the_ini_seed(inner: pytest.Pytester) -> None:
    """``--wan-mock-seed 0`` is a seed like any other: it must win over ``wan_mock_seed``."""
    inner.makeini("[pytest]\nwan_mock_seed = 5\n")
    inner.makepyfile(
        test_zero="""
        from conftest import FIRST_IDS, create

        def test_seed_zero(fake):
            assert fake.control.settings()["seed"] == 0
            assert create(fake)["id"] == FIRST_IDS[0]
        """
    )
    result = run(inner, "--wan-mock-seed", "0")
    check(result, {"test_seed_zero[wan_mock]": "PASSED", "test_seed_zero[wan_server]": "PASSED"})


def test_bad_marker_errors_name_the_marker_keyword(inner: pytest.Pytester) -> None:
    """A usage error about ``profile=`` or ``scenario=`` names that keyword, as written."""
    inner.makepyfile(
        test_names="""
        import pytest

        @pytest.mark.wan_mock(profile="klingon")
        def test_bad_profile(wan_mock):
            pass

        @pytest.mark.wan_mock(scenario="explode")
        def test_bad_scenario(wan_mock):
            pass
        """
    )
    result = run(inner)
    check(result, {"test_bad_profile": "ERROR", "test_bad_scenario": "ERROR"})
    result.stdout.fnmatch_lines_random(
        [
            "E * pytest.UsageError: wan-mock: *'profile'*klingon*",
            "E * pytest.UsageError: wan-mock: *'scenario'*explode*",
        ]
    )


def test_markers_and_options_are_documented(pytester: pytest.Pytester) -> None:
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(
        [
            "@pytest.mark.wan_mock(seed=None, profile=None, scenario=None, passthrough=None, "
            "**settings): configure the wan_mock / wan_server fixtures for this test.*"
            "failure_rate=0.2*timing='realistic'*",
        ]
    )
    options = pytester.runpytest("--help")
    options.stdout.fnmatch_lines_random(
        [
            "*wan-mock: a fake of the MuleRouter wan2.6-i2v API*",
            "*--wan-mock-seed=WAN_MOCK_SEED*",
            "*--wan-mock-profile=WAN_MOCK_PROFILE*",
            "*--wan-mock-base-url=WAN_MOCK_BASE_URL*",
            "*--wan-mock-passthrough*",
            "*wan_mock_seed (string):*",
            "*wan_mock_profile (string):*",
            "*wan_mock_base_urls (linelist):*",
            "*wan_mock_passthrough (bool):*",
        ]
    )


# pytest-xdist: every worker has its own server on its own port and its own state.

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
    assert [c.path for c in wan_server.calls] == [PATH]
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
