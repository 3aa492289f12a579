from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette
from starlette.testclient import TestClient

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.backend import Backend
from tests.helpers import AUTH

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
def backend(mock_settings: Settings, clock: ManualClock) -> Backend:
    return Backend(mock_settings, clock)


@pytest.fixture
def app(backend: Backend) -> Starlette:
    return create_app(backend=backend)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, headers=AUTH, base_url="http://wan-mock.test") as test_client:
        yield test_client
