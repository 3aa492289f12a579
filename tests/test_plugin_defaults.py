"""The pytest plugin with its defaults, proven from the outside: the default inner suite runs
once (``pytester``, its own process) and each test here checks one aspect of that run."""

from __future__ import annotations

import pytest

from tests.default_suite import DEFAULT_OUTCOMES, DEFAULT_SUITE
from tests.helpers import CREATE_PATH
from tests.inner_suites import FIRST_IDS, check, records, run

pytest_plugins = ["pytester"]


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
            f"E *  - POST {CREATE_PATH} -> 202",
            f"E *  - GET {CREATE_PATH}/{first} -> 200",
            f"E *  - GET {CREATE_PATH}/missing -> 404",
        ]
    )
