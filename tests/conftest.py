"""Fixtures shared by the whole suite; the helpers they are built from live in helpers.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.backend import Backend
from mockserver.server.app import MockApp
from tests.fuzz_driver import Driver, succeeded_task
from tests.helpers import AUTH, BASE_URL, Fake, Make, ScenarioFake, fake_app

settings.register_profile("ci", max_examples=60, deadline=None, print_blob=True)
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mock_settings() -> Settings:
    return Settings(seed=7)


@pytest.fixture
def app(mock_settings: Settings, clock: ManualClock) -> MockApp:
    return create_app(mock_settings, clock=clock)


@pytest.fixture
def backend(app: MockApp) -> Backend[Any]:
    return app.backend


@pytest.fixture
def client(app: MockApp) -> Iterator[TestClient]:
    with TestClient(app, headers=AUTH, base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def bare(app: ASGIApp) -> Iterator[TestClient]:
    """A client of ``app`` that sends no Authorization header unless told to."""
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def fake() -> Iterator[Fake]:
    """A started in-process fake: seed 1, a ManualClock, a client with an API key."""
    with fake_app() as made:
        yield made


@pytest.fixture
def make() -> Iterator[Make]:
    """Builds scenario fakes from Settings overrides (seed 11 unless given); all closed at the
    end of the test."""
    with ExitStack() as stack:

        def build(**overrides: Any) -> ScenarioFake:
            settings = Settings(**{"seed": 11, **overrides})
            return ScenarioFake(stack.enter_context(fake_app(settings)))

        yield build


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with the conftest every inner plugin suite shares."""
    from tests.inner_suites import INNER_CONFTEST  # builds apps at import: only when asked

    pytester.makeconftest(INNER_CONFTEST)
    return pytester


@pytest.fixture(scope="module")
def driver() -> Iterator[Driver]:
    """The raw ASGI driver of the fuzz tests, on a fake with seed 1 (one per test module)."""
    app_driver = Driver(create_app(Settings(seed=1)))
    yield app_driver
    app_driver.close()


@pytest.fixture(scope="module")
def download(driver: Driver) -> bytes:
    """The download path of a task forced to succeed on the fuzz driver's fake."""
    return succeeded_task(driver).encode()
