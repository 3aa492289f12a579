"""The plugin's default configuration as an inner suite (fixtures, marker, clients, failures
and their messages), with the outcome each of its tests must have."""

from __future__ import annotations

# The default configuration: fixtures, marker, clients, failures and their messages.

DEFAULT_SUITE = r"""
import asyncio
import re
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
    link = rf"{REAL}/files/{task_id}/[0-9a-f]{{32}}/result_000\.mp4"
    assert re.fullmatch(link, task["videos"][0])
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
    link = rf"{wan_server.base_url}/files/{task_id}/[0-9a-f]{{32}}/result_000\.mp4"
    assert re.fullmatch(link, task["videos"][0])
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
