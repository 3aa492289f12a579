"""``wan_mock`` beside the test's own respx routers, proven from the outside: the interop inner
suite runs under pytest-xdist (two workers) with the newest respx supported (.venv's), and again
with the oldest (``./scripts/test`` installs it into .tools/); every one of its tests must pass
in both. Each covers one order or nesting of routers, with a sync and an async client."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
import respx

from tests.doc_blocks import doc_block
from tests.inner_suites import check, records, run
from tests.respx_suites import INTEROP_SUITE

ROOT = Path(__file__).resolve().parent.parent

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


def supported_respx() -> tuple[str, str]:
    """The respx range of pyproject.toml's dependencies, as (oldest, first unsupported)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (spec,) = [dep for dep in project["dependencies"] if dep.startswith("respx")]
    found = re.fullmatch(r"respx>=([\d.]+),<([\d.]+)", spec)
    assert found, f"respx's range must be closed, >=oldest,<next: {spec}"
    return found.group(1), found.group(2)


def release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_the_newest_respx_is_the_one_installed() -> None:
    oldest, unsupported = supported_respx()
    assert release(oldest) <= release(respx.__version__) < release(unsupported)


def test_every_order_and_nesting_works_on_the_oldest_respx(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    oldest = supported_respx()[0]
    target = ROOT / ".tools" / f"respx-{oldest}.0"
    if not (target / "respx").is_dir():
        message = f"respx {oldest}.0 is not installed in .tools/ (./scripts/test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])
    )
    inner.makepyfile(test_interop=INTEROP_SUITE)
    result = run(inner, "-n", "0")
    check(result, interop_outcomes())
    assert records(inner, "respx_version") == [f"{oldest}.0"]


def test_the_readme_respx_example_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_readme_respx=doc_block("example: respx"))
    result = run(pytester)
    check(
        result,
        {
            "test_beside_your_own_routes": "PASSED",
            "test_the_fake_as_a_route_of_your_router": "PASSED",
            "test_a_client_your_app_builds_on_its_own_transport": "PASSED",
        },
    )
