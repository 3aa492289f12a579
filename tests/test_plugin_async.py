"""``wan_mock`` and respx in async test suites: pytest-asyncio in strict and in auto mode, and
anyio's pytest plugin beside it; every test of the inner suite must pass in each run."""

from __future__ import annotations

import re

import pytest

from tests.inner_suites import check, run
from tests.respx_suites import asyncio_suite

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_pytest_asyncio(inner: pytest.Pytester, mode: str) -> None:
    suite = asyncio_suite(mode)
    inner.makepyfile(test_async=suite)
    result = run(inner, "-p", "asyncio", "-o", f"asyncio_mode={mode}")
    names = re.findall(r"^async def (test_\w+)", suite, flags=re.MULTILINE)
    expected = {name: "PASSED" for name in names if "anyio" not in name}
    # anyio's plugin runs its marked tests (strict mode leaves them to it) on its default backend
    expected |= {f"{name}[asyncio]": "PASSED" for name in names if "anyio" in name}
    assert len(expected) == (8 if mode == "strict" else 6)
    check(result, expected)
