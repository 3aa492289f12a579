"""Suite-wide plugin options: ini files and command-line options set the defaults, the marker
beats them, bad values are usage errors, and every option and the marker are documented."""

from __future__ import annotations

import pytest

from tests.inner_suites import check, run

pytest_plugins = ["pytester"]


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
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(
        [
            "@pytest.mark.wan_mock(seed=None, profile=None, scenario=None, passthrough=None, "
            "**settings): configure the wan_mock / wan_fake / wan_server fixtures for this "
            "test.*"
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
