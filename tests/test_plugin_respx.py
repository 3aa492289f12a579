"""``wan_mock`` beside the test's own respx routers, proven from the outside: the interop inner
suite runs once, under pytest-xdist (two workers), and every one of its tests must pass; each
covers one order or nesting of routers, with a sync and an async client."""

from __future__ import annotations

import re

import pytest
import respx

from tests.inner_suites import check, records, run
from tests.respx_suites import INTEROP_SUITE

pytest_plugins = ["pytester"]


def interop_outcomes() -> dict[str, str]:
    """Every test of the interop suite, each client kind of it, passed."""
    names = re.findall(r"^def (test_\w+)\((.*)\):", INTEROP_SUITE, flags=re.MULTILINE)
    assert len(names) > 25
    outcomes = {}
    for name, params in names:
        kinds = ["sync", "async"] if "send" in params.split(", ") else [None]
        for kind in kinds:
            outcomes[f"{name}[{kind}]" if kind else name] = "PASSED"
    return outcomes


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[pytest.RunResult, list[str]]]:
    return {}


@pytest.fixture
def interop_run(
    request: pytest.FixtureRequest, runs: dict[str, tuple[pytest.RunResult, list[str]]]
) -> tuple[pytest.RunResult, list[str]]:
    """The interop suite, run once per module under two xdist workers."""
    if "xdist" not in runs:
        pytester: pytest.Pytester = request.getfixturevalue("inner")
        pytester.makepyfile(test_interop=INTEROP_SUITE)
        result = run(pytester, "-n", "2")
        runs["xdist"] = (result, records(pytester, "respx_version"))
    return runs["xdist"]


def test_every_order_and_nesting_works(interop_run: tuple[pytest.RunResult, list[str]]) -> None:
    result, versions = interop_run
    check(result, interop_outcomes())
    assert versions == [respx.__version__]


def test_the_suite_ran_on_two_xdist_workers(
    interop_run: tuple[pytest.RunResult, list[str]],
) -> None:
    interop_run[0].stdout.fnmatch_lines(["*created: 2/2 workers*"])
